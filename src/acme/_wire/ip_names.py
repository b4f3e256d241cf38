"""The reverse-mapping name of an IP address, in one place for every tls-alpn-01 party.

RFC 8738 section 6: the SNI of a tls-alpn-01 handshake for an ``ip`` identifier is the address's
``in-addr.arpa`` (RFC 1034) or ``ip6.arpa`` (RFC 3596) name, because RFC 6066 section 3 does not
allow addresses in SNI. RFC 6066 section 3 also says the HostName has no trailing dot, so
`reverse_name` has none (RFC 8738's example shows one; servers such as uacme's ualpn drop a
handshake that carries it). `ip_from_reverse_name` accepts either form, in any case.
"""

from __future__ import annotations

import ipaddress

__all__ = ["ip_from_reverse_name", "reverse_name"]

_V4_SUFFIX = ".in-addr.arpa"
_V6_SUFFIX = ".ip6.arpa"


def reverse_name(address: str) -> str:
    """``"1.0.0.127.in-addr.arpa"`` for ``"127.0.0.1"`` (brackets allowed; ``ValueError``
    if ``address`` is not an IP address)."""
    return ipaddress.ip_address(address.strip("[]")).reverse_pointer


def ip_from_reverse_name(name: str) -> str | None:
    """The address an ``in-addr.arpa`` / ``ip6.arpa`` name stands for, or None."""
    name = name.rstrip(".").lower()
    try:
        if name.endswith(_V4_SUFFIX):
            labels = name[: -len(_V4_SUFFIX)].split(".")
            if len(labels) == 4 and all(label.isdigit() for label in labels):
                return str(ipaddress.IPv4Address(".".join(reversed(labels))))
        elif name.endswith(_V6_SUFFIX):
            nibbles = name[: -len(_V6_SUFFIX)].split(".")
            if len(nibbles) == 32 and all(len(nibble) == 1 for nibble in nibbles):
                digits = "".join(reversed(nibbles))
                groups = ":".join(digits[i : i + 4] for i in range(0, 32, 4))
                return str(ipaddress.IPv6Address(groups))
    except ValueError:
        return None
    return None
