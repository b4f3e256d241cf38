"""josepy fields used by the ACME messages: fixed values and RFC 3339 timestamps."""

from __future__ import annotations

import datetime
import logging
import re
import warnings
from typing import Any

from josepy import errors as jose_errors
from josepy import json_util

__all__ = ["Fixed", "RFC3339Field", "Resource", "fixed", "resource", "rfc3339"]

logger = logging.getLogger(__name__)


class Fixed(json_util.Field):
    """A field that must always carry one value."""

    def __init__(self, json_name: str, value: Any) -> None:
        self.value = value
        super().__init__(json_name=json_name, default=value, omitempty=False)

    def decode(self, value: Any) -> Any:
        """The fixed value; anything else is a ``DeserializationError``."""
        if value != self.value:
            raise jose_errors.DeserializationError(f"Expected {self.value!r}, got {value!r}")
        return self.value

    def encode(self, value: Any) -> Any:
        """``value`` (a warning is logged if it is not the fixed value)."""
        if value != self.value:
            logger.warning("Overriding fixed field (%s) with %r", self.json_name, value)
        return value


def fixed(json_name: str, value: Any) -> Any:
    """A `Fixed` field (typed ``Any`` so it can annotate any attribute)."""
    return Fixed(json_name, value)


# RFC 3339 section 5.6 date-time, with any number of fractional digits (Go servers send 9).
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):([0-5]\d))\Z",
    re.ASCII,
)


def parse_rfc3339(value: Any) -> datetime.datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime.

    :raises josepy.errors.DeserializationError: when ``value`` is not an RFC 3339 string.
    """
    if not isinstance(value, str):
        raise jose_errors.DeserializationError(f"Expected an RFC 3339 timestamp, got {value!r:.80}")
    match = _RFC3339.match(value)
    if match is None:
        raise jose_errors.DeserializationError(f"Invalid RFC 3339 timestamp: {value!r:.80}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    if match.group(8):
        offset = datetime.timedelta(0)
    else:
        sign = -1 if match.group(9) == "-" else 1
        offset = sign * datetime.timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
    try:
        if second == 60:  # leap second: RFC 3339 allows it, datetime does not
            second = 59
        stamp = datetime.datetime(
            year, month, day, hour, minute, second, micros, tzinfo=datetime.timezone(offset)
        )
        return stamp.astimezone(datetime.timezone.utc)
    except (ValueError, OverflowError) as error:
        raise jose_errors.DeserializationError(
            f"Invalid RFC 3339 timestamp {value!r:.80}: {error}"
        ) from None


class _NaiveDatetimeError(jose_errors.SerializationError, ValueError):
    """A naive datetime cannot be written as RFC 3339: josepy's error, and the ``ValueError``
    acme 5.x raises there."""


def format_rfc3339(value: datetime.datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC (``Z``), keeping microseconds if any.

    :raises josepy.errors.SerializationError: (a ``ValueError`` too) for a naive datetime,
        whose zone is unknown.
    """
    if not isinstance(value, datetime.datetime):
        raise jose_errors.SerializationError(f"Expected a datetime, got {value!r:.80}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _NaiveDatetimeError(f"Refusing to serialize naive datetime {value}")
    utc = value.astimezone(datetime.timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:  # as few fraction digits as needed: 07.99Z, as the RFC examples write
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


class RFC3339Field(json_util.Field):
    """An RFC 3339 timestamp field, decoded to an aware UTC ``datetime``."""

    @classmethod
    def default_encoder(cls, value: Any) -> Any:
        """An aware datetime as RFC 3339 text in UTC."""
        return format_rfc3339(value)

    @classmethod
    def default_decoder(cls, value: Any) -> Any:
        """RFC 3339 text as an aware UTC datetime."""
        return parse_rfc3339(value)


def rfc3339(json_name: str, omitempty: bool = False) -> Any:
    """An `RFC3339Field` (typed ``Any`` so it can annotate a ``datetime`` attribute)."""
    return RFC3339Field(json_name, omitempty=omitempty)


class Resource(json_util.Field):
    """ACMEv1 ``resource`` field. Deprecated: ACME (RFC 8555) has no such field."""

    def __init__(self, resource_type: str, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            "acme.fields.Resource is deprecated: RFC 8555 messages have no resource field",
            DeprecationWarning,
            stacklevel=2,
        )
        self.resource_type = resource_type
        kwargs.setdefault("default", resource_type)
        super().__init__("resource", *args, **kwargs)

    def decode(self, value: Any) -> Any:
        """The resource type; any other is a ``DeserializationError``."""
        if value != self.resource_type:
            raise jose_errors.DeserializationError(
                f"Wrong resource type: {value!r} instead of {self.resource_type!r}"
            )
        return value


def resource(resource_type: str) -> Any:
    """A deprecated ACMEv1 `Resource` field."""
    return Resource(resource_type)
