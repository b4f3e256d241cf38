"""acme._wire.identifiers: IP or name, and the RFC 8738 reverse name, in one place.

The client's tls-alpn-01 probe, the standalone server's certificate lookup and the test CA's
validator all use these functions, so the names they send and accept cannot drift apart.
"""

from __future__ import annotations

import ipaddress

import pytest

from acme import errors
from acme._wire import identifiers

# RFC 8738 section 6's own example.
V6_REVERSE = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"


@pytest.mark.parametrize(
    ("identifier", "sni"),
    [
        ("2001:db8::1", V6_REVERSE),
        ("[2001:db8::1]", V6_REVERSE),
        ("192.0.2.5", "5.2.0.192.in-addr.arpa"),
        ("example.org", "example.org"),
    ],
)
def test_sni_name_is_the_reverse_name_for_ips_and_the_name_otherwise(
    identifier: str, sni: str
) -> None:
    assert identifiers.sni_name(identifier) == sni
    assert not sni.endswith(".")  # an SNI HostName carries no final dot (RFC 6066 section 3)


def test_reverse_name_and_its_inverse() -> None:
    assert identifiers.reverse_name("2001:db8::1") == V6_REVERSE
    assert identifiers.reverse_name(ipaddress.ip_address("192.0.2.5")) == "5.2.0.192.in-addr.arpa"
    assert identifiers.ip_from_reverse_name(V6_REVERSE + ".") == "2001:db8::1"
    assert identifiers.ip_from_reverse_name("5.2.0.192.IN-ADDR.ARPA") == "192.0.2.5"
    for address in ("10.1.2.3", "::1", "fe80::1:2"):
        reverse = identifiers.reverse_name(address)
        assert identifiers.ip_from_reverse_name(reverse) == str(ipaddress.ip_address(address))
    with pytest.raises(errors.InvalidArgument):
        identifiers.reverse_name("example.org")


@pytest.mark.parametrize(
    "name",
    [
        "x.2.0.192.in-addr.arpa",
        "2.0.192.in-addr.arpa",
        "300.2.0.192.in-addr.arpa",
        "1.0.ip6.arpa",
        "example.org",
        "",
    ],
)
def test_what_is_not_a_reverse_name(name: str) -> None:
    assert identifiers.ip_from_reverse_name(name) is None


@pytest.mark.parametrize(
    ("value", "ip"),
    [
        ("192.0.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("example.org", False),
        ("1.2.3", False),
        ("", False),
    ],
)
def test_is_ip(value: str, ip: bool) -> None:
    assert identifiers.is_ip(value) is ip
    assert (identifiers.parse_ip(value) is not None) is ip


@pytest.mark.parametrize(
    ("value", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("", False),
    ],
)
def test_is_loopback(value: str, loopback: bool) -> None:
    """What the test CA may listen on and validate against: loopback addresses, never names."""
    assert identifiers.is_loopback(value) is loopback
