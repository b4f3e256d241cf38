"""ACME identifiers as text: DNS names, IP addresses, and the reverse names TLS uses for IPs.

One home for telling an IP address from a DNS name, normalizing a DNS name (RFC 8555 section
7.1.4: A-labels only) and the RFC 8738 section 6 reverse-mapping name that tls-alpn-01 sends as
SNI for an IP identifier, in both directions. The reverse name has no final dot, as RFC 6066
section 3 says of a HostName (RFC 8738's example shows one; strict servers such as uacme's
ualpn drop a handshake that carries it); `ip_from_reverse_name` accepts either form.

Pure: no I/O, no DNS lookups. Bad input to the coercing functions raises
`acme.errors.InvalidArgument`; the ``parse``/``is`` ones return a negative answer instead.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, TypeAlias

from acme import errors

__all__ = [
    "IPAddress",
    "dns_name",
    "ip_address",
    "ip_from_reverse_name",
    "is_ip",
    "is_loopback",
    "parse_ip",
    "reverse_name",
    "sni_name",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# One DNS label (RFC 1035 section 2.3.4: 1 to 63 octets), lowercase LDH or "_".
_LABEL = re.compile(r"[a-z0-9_-]{1,63}\Z")
_V4_SUFFIX = ".in-addr.arpa"
_V6_SUFFIX = ".ip6.arpa"


def ip_address(value: Any) -> IPAddress:
    """An IP address object from an ``ipaddress`` object or its text form."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    if isinstance(value, str):
        try:
            return ipaddress.ip_address(value.strip("[]"))
        except ValueError:
            pass
    raise errors.InvalidArgument(f"Not an IP address: {value!r:.100}")


def parse_ip(value: str) -> IPAddress | None:
    """The IP address ``value`` spells (IPv6 may be bracketed), or None for anything else."""
    try:
        return ipaddress.ip_address(value.strip("[]") if value.startswith("[") else value)
    except ValueError:
        return None


def dns_name(name: Any) -> str:
    """``name`` as a lowercase A-label DNS name (RFC 8555 section 7.1.4: no Unicode in ACME).

    A leading ``*.`` wildcard label is kept and one trailing root dot dropped. U-labels are
    converted with the ``idna`` package (IDNA 2008 with UTS #46 mapping) when installed,
    otherwise with the stdlib IDNA 2003 codec. Labels are checked against RFC 1035 lengths and
    the LDH characters (plus ``_``, which some private CAs allow).
    """
    if not isinstance(name, str):
        raise errors.InvalidArgument(f"Not a domain name: {name!r:.100}")
    prefix, rest = ("*.", name[2:]) if name.startswith("*.") else ("", name)
    rest = rest[:-1] if rest.endswith(".") else rest
    converted = rest.lower() if rest.isascii() else _to_alabel(rest)
    labels = converted.split(".")
    if (
        not converted
        or len(prefix + converted) > 253
        or not all(_LABEL.match(label) for label in labels)
    ):
        raise errors.InvalidArgument(f"Not a domain name: {name!r:.100}")
    return prefix + converted


def _to_alabel(name: str) -> str:
    try:
        import idna
    except ImportError:  # pragma: no cover - idna ships with requests, a dependency
        try:
            return name.encode("idna").decode("ascii").lower()
        except UnicodeError as error:
            raise errors.InvalidArgument(
                f"Cannot convert {name!r:.100} to an A-label: {error}"
            ) from None
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as error:
        raise errors.InvalidArgument(
            f"Cannot convert {name!r:.100} to an A-label: {error}"
        ) from None


def is_ip(value: str) -> bool:
    """Whether ``value`` spells an IP address (an ``ip`` identifier, RFC 8738), not a name."""
    return parse_ip(value) is not None


def is_loopback(value: str) -> bool:
    """Whether ``value`` is a loopback IP address (127.0.0.0/8, ::1); a name never is, since
    a name such as ``localhost`` could resolve anywhere."""
    address = parse_ip(value)
    return address is not None and address.is_loopback


def reverse_name(address: Any) -> str:
    """The reverse-mapping name of an IP address: ``4.3.2.1.in-addr.arpa`` or the 32 nibbles
    under ``ip6.arpa`` (RFC 8738 section 6), without a final dot, as SNI carries host names
    (RFC 6066 section 3)."""
    return ip_address(address).reverse_pointer


def sni_name(identifier: str) -> str:
    """The TLS SNI for an identifier: a DNS name itself, an IP's `reverse_name` (RFC 8738 s6)."""
    address = parse_ip(identifier)
    return identifier if address is None else address.reverse_pointer


def ip_from_reverse_name(name: str) -> str | None:
    """The address a reverse-mapping name stands for (the inverse of `reverse_name`), or None.

    Case and one final dot are ignored; a name that is not exactly 4 decimal labels under
    ``in-addr.arpa`` or 32 hex nibbles under ``ip6.arpa`` is None.
    """
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
