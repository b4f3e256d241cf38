"""Value types of the command line's options (argparse ``type=`` callables).

Each returns the parsed value or raises `argparse.ArgumentTypeError` with a one-line reason.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import re
from collections.abc import Callable
from typing import Literal

from acme._wire import identifiers

__all__ = [
    "count",
    "days",
    "delay",
    "eab_key",
    "loopback",
    "name_value",
    "optional_count",
    "port",
    "rate",
    "renewal_window",
    "seconds",
    "server_address",
    "timestamp",
]


def _number(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {value!r}") from None


def port(value: str) -> int:
    """A TCP/UDP port, 0 meaning any free one."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {number}")
    return number


def loopback(value: str) -> str:
    """A loopback IP address (127.0.0.0/8 or ::1): where the test CA may listen."""
    address = identifiers.parse_ip(value.strip("[]"))
    if address is None or not address.is_loopback:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a loopback address: the test CA listens on loopback only "
            "(use 127.0.0.1 or ::1)"
        )
    return str(address)


def seconds(value: str) -> float:
    """A timeout: more than 0, at most a day."""
    number = _number(value, "a number of seconds")
    if not 0 < number <= 86400:
        raise argparse.ArgumentTypeError(f"seconds must be in (0, 86400]: {value}")
    return number


def delay(value: str) -> float:
    """A pause: 0 to 600 seconds."""
    number = _number(value, "a number of seconds")
    if not 0 <= number <= 600:
        raise argparse.ArgumentTypeError(f"seconds must be in [0, 600]: {value}")
    return number


def days(value: str) -> float:
    """A certificate lifetime in days: more than 0, at most ten years."""
    number = _number(value, "a number of days")
    if not 0 < number <= 3650:
        raise argparse.ArgumentTypeError(f"days must be in (0, 3650]: {value}")
    return number


def count(value: str) -> int:
    """A whole number, 0 or more."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {number}")
    return number


def optional_count(value: str) -> int | None:
    """A whole number, or ``none``."""
    return None if value.lower() == "none" else count(value)


def rate(value: str) -> float:
    """A share of requests, 0 to 1."""
    number = _number(value, "a number")
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is a share from 0 to 1, not {value}")
    return number


_WINDOW_FORM = "START,END (fractions like 0.5,0.75 or percentages like 50%,75%) or 'due'"


def _share(value: str) -> float:
    """A fraction (``0.5``) or a percentage (``50%``) as a fraction."""
    text = value.strip()
    percent = text.endswith("%")
    number = _number(text[:-1] if percent else text, "a fraction or percentage")
    return number / 100 if percent else number


def renewal_window(value: str) -> tuple[float, float] | Literal["due"]:
    """A renewal window as ``START,END`` shares of a certificate's lifetime, or ``due``."""
    if value.strip().lower() == "due":
        return "due"
    parts = value.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected {_WINDOW_FORM}, got {value!r}")
    start, end = _share(parts[0]), _share(parts[1])
    if not 0.0 <= start < end <= 1.0:
        raise argparse.ArgumentTypeError(
            f"the window must have 0 <= START < END <= 1 (0% to 100%), got {value!r}"
        )
    return start, end


def eab_key(value: str) -> tuple[str, bytes]:
    """``KID:HMAC`` with the MAC key as unpadded base64url, as CAs hand them out (RFC 8555
    section 7.3.4)."""
    kid, colon, key = value.partition(":")
    if not colon or not kid or not key:
        raise argparse.ArgumentTypeError(f"expected KID:HMAC_KEY, got {value!r}")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key) or len(key) % 4 == 1:
        raise argparse.ArgumentTypeError(f"the HMAC key of {kid!r} is not unpadded base64url")
    return kid, base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))


def name_value(what: str) -> Callable[[str], tuple[str, str]]:
    """``NAME=WHAT`` as a pair; the ``=WHAT`` part is optional unless ``what`` is ADDRESS."""

    def parse(value: str) -> tuple[str, str]:
        name, equals, rest = value.partition("=")
        if not name or (what == "ADDRESS" and not (equals and rest)):
            raise argparse.ArgumentTypeError(f"expected NAME={what}, got {value!r}")
        return name, rest

    return parse


def server_address(value: str) -> tuple[str, int]:
    """``ADDRESS[:PORT]`` of a DNS server (``[ADDRESS]:PORT`` for IPv6), port 53 by default."""
    host, port_text = value, "53"
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise argparse.ArgumentTypeError(f"expected [ADDRESS]:PORT, got {value!r}")
        port_text = rest[1:] if rest else port_text
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    address = identifiers.parse_ip(host)
    if address is None:
        raise argparse.ArgumentTypeError(f"not an IP address: {host!r} (in {value!r})")
    number = port(port_text)
    if number == 0:
        raise argparse.ArgumentTypeError(f"port 0 is not a server's port: {value!r}")
    return str(address), number


def timestamp(value: str) -> datetime.datetime:
    """An ISO 8601 date or date and time, as an aware datetime (UTC unless it says)."""
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {value!r} (e.g. 2027-06-30 or 2027-06-30T12:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed
