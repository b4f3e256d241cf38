"""acme.fields: fixed-value fields and RFC 3339 timestamps (aware UTC, never naive)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from josepy import errors as jose_errors
from josepy import json_util

from acme import fields

UTC = datetime.timezone.utc


class Stamped(json_util.JSONObjectWithFields):
    """A message with one fixed field and two timestamps, the way acme.messages uses them."""

    typ: str = fields.fixed("type", "dns-01")
    expires: datetime.datetime = fields.rfc3339("expires", omitempty=True)
    validated: datetime.datetime = fields.rfc3339("validated")


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-02T04:00:00Z", _utc(2025, 1, 2, 4, 0, 0)),
        ("2025-01-02t04:00:00z", _utc(2025, 1, 2, 4, 0, 0)),  # RFC 3339 section 5.6 NOTE
        ("2025-01-02 04:00:00Z", _utc(2025, 1, 2, 4, 0, 0)),  # ... and the space separator
        ("2025-01-02T04:00:00+00:00", _utc(2025, 1, 2, 4, 0, 0)),
        ("2025-01-02T04:00:00-00:00", _utc(2025, 1, 2, 4, 0, 0)),  # section 4.3
        ("2025-01-02T09:30:00+05:30", _utc(2025, 1, 2, 4, 0, 0)),
        ("2025-01-01T23:00:00-05:00", _utc(2025, 1, 2, 4, 0, 0)),
        ("2025-01-02T04:00:00.5Z", _utc(2025, 1, 2, 4, 0, 0, 500000)),
        ("2025-01-02T04:00:00.123456Z", _utc(2025, 1, 2, 4, 0, 0, 123456)),
        # Go's time.RFC3339Nano (Boulder, Pebble): 9 digits, truncated to microseconds.
        ("2025-01-02T04:00:00.123456789Z", _utc(2025, 1, 2, 4, 0, 0, 123456)),
        ("2025-01-02T04:00:00.999999999+01:00", _utc(2025, 1, 2, 3, 0, 0, 999999)),
        ("2016-12-31T23:59:60Z", _utc(2016, 12, 31, 23, 59, 59)),  # leap second, section 5.7
    ],
)
def test_parse_rfc3339(text: str, expected: datetime.datetime) -> None:
    parsed = Stamped.from_json({"type": "dns-01", "validated": text}).validated
    assert parsed == expected
    # Aware and in UTC, not merely equal to a UTC instant.
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == datetime.timedelta(0)
    assert parsed.hour == expected.hour


@pytest.mark.parametrize(
    "bad",
    [
        "2025-01-02T04:00:00",  # no offset: RFC 3339 requires one
        "2025-01-02",
        "2025-01-02T04:00Z",
        "2025-01-02T04:00:00.Z",
        "2025-01-02T04:00:00+0530",
        "2025-13-02T04:00:00Z",
        "2025-02-30T04:00:00Z",
        "2025-01-02T24:00:00Z",
        "2025-01-02T04:00:00+24:00",
        "2025-01-02T04:00:00+05:60",  # time-minute is 00-59 (RFC 3339 section 5.6)
        "\u0662\u0660\u0662\u0665-01-02T04:00:00Z",  # Arabic-Indic digits: DIGIT is ASCII
        "0001-01-01T00:00:00+01:00",  # before datetime.min once converted to UTC
        " 2025-01-02T04:00:00Z",
        "2025-01-02T04:00:00Z\n",
        "yesterday",
        "",
    ],
)
def test_garbage_is_a_deserialization_error(bad: str) -> None:
    with pytest.raises(jose_errors.DeserializationError):
        Stamped.from_json({"type": "dns-01", "validated": bad})


@pytest.mark.parametrize("bad", [None, 1735790400, 1.5, ["2025-01-02T04:00:00Z"], {}, True])
def test_non_string_is_a_deserialization_error(bad: Any) -> None:
    with pytest.raises(jose_errors.DeserializationError):
        Stamped.from_json({"type": "dns-01", "validated": bad})


def test_encode_is_utc_z() -> None:
    ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    stamped = Stamped(
        validated=datetime.datetime(2025, 1, 2, 9, 30, tzinfo=ist),
        expires=_utc(2025, 1, 2, 4, 0, 0, 250),
    )
    assert stamped.to_json() == {
        "type": "dns-01",
        "validated": "2025-01-02T04:00:00Z",
        "expires": "2025-01-02T04:00:00.00025Z",  # no trailing zeros, like the RFC's 07.99Z
    }


def test_omitempty_timestamp_is_omitted() -> None:
    assert "expires" not in Stamped(validated=_utc(2025, 1, 2)).to_json()
    assert (
        Stamped.from_json({"type": "dns-01", "validated": "2025-01-02T00:00:00Z"}).expires is None
    )


def test_naive_datetime_is_refused() -> None:
    naive = Stamped(validated=datetime.datetime(2025, 1, 2, 4, 0, 0))
    with pytest.raises(jose_errors.SerializationError, match="naive"):
        naive.to_json()
    # Control: the same value with a zone serializes.
    assert Stamped(validated=_utc(2025, 1, 2, 4)).to_json()["validated"] == "2025-01-02T04:00:00Z"


def test_naive_datetime_encoder_raises_value_error_too() -> None:
    """acme 5.x's encoder raises ``ValueError`` for a naive datetime; ours raises an error that
    is both that and josepy's ``SerializationError``."""
    with pytest.raises(ValueError, match="naive") as info:
        fields.RFC3339Field.default_encoder(datetime.datetime(2025, 1, 2, 4, 0, 0))
    assert isinstance(info.value, jose_errors.SerializationError)
    with pytest.raises(ValueError, match="naive"):
        fields.format_rfc3339(datetime.datetime(2025, 1, 2, 4, 0, 0))


def test_non_datetime_is_refused() -> None:
    with pytest.raises(jose_errors.SerializationError):
        Stamped(validated="2025-01-02T04:00:00Z").to_json()


@pytest.mark.parametrize(
    "value",
    [
        _utc(2025, 1, 2, 4, 0, 0),
        _utc(2025, 1, 2, 4, 0, 0, 1),
        _utc(1999, 12, 31, 23, 59, 59, 999999),
        datetime.datetime(
            2025, 6, 1, 1, 2, 3, 4, tzinfo=datetime.timezone(-datetime.timedelta(hours=7))
        ),
    ],
)
def test_round_trip(value: datetime.datetime) -> None:
    jobj = Stamped(validated=value, expires=value).to_json()
    back = Stamped.from_json(jobj)
    assert back.validated == value
    assert back.expires == value
    assert back.validated.utcoffset() == datetime.timedelta(0)
    assert back.to_json() == jobj


def test_fixed_decode_mismatch() -> None:
    with pytest.raises(jose_errors.DeserializationError) as info:
        Stamped.from_json({"type": "http-01", "validated": "2025-01-02T04:00:00Z"})
    assert "dns-01" in str(info.value)
    assert "http-01" in str(info.value)
    # Control: the fixed value itself decodes.
    assert (
        Stamped.from_json({"type": "dns-01", "validated": "2025-01-02T04:00:00Z"}).typ == "dns-01"
    )


def test_fixed_field_is_written_and_required() -> None:
    assert Stamped(validated=_utc(2025, 1, 2)).to_json()["type"] == "dns-01"
    with pytest.raises(jose_errors.DeserializationError):
        Stamped.from_json({"validated": "2025-01-02T04:00:00Z"})


def test_fixed_and_rfc3339_return_fields() -> None:
    fixed = fields.fixed("type", "dns-01")
    assert isinstance(fixed, fields.Fixed)
    assert (fixed.json_name, fixed.value) == ("type", "dns-01")
    stamp = fields.rfc3339("expires", omitempty=True)
    assert isinstance(stamp, fields.RFC3339Field)
    assert stamp.omitempty
    assert not fields.rfc3339("expires").omitempty


def test_legacy_resource_field_warns() -> None:
    with pytest.warns(DeprecationWarning, match="Resource"):
        field = fields.resource("new-reg")
    assert isinstance(field, fields.Resource)
    assert field.json_name == "resource"
    assert field.decode("new-reg") == "new-reg"
    with pytest.raises(jose_errors.DeserializationError):
        field.decode("new-authz")
