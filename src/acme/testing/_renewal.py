"""Renewal windows of the test server: what renewalInfo suggests (RFC 9773 section 4.2).

A certificate's window is, in order of precedence: its own (`ACMEServerCore.set_renewal_window`
or `ACMEServerCore.move_windows_into_past`); a past window when it was revoked; else the
server's default, `ACMEServerCore.renewal_window`: fractions of the certificate's lifetime, or
``"due"`` (a renewal drill: every window lies in the past whenever it is asked for).
"""

from __future__ import annotations

import datetime
import numbers
from typing import Literal

from acme import errors
from acme.testing._model import IssuedCertificate

__all__ = [
    "DEFAULT_RENEWAL_WINDOW",
    "RenewalWindow",
    "check_renewal_window",
    "past_window",
    "suggested_window",
]

#: The default window of `ACMEServerCore`: ``(start, end)`` fractions of each certificate's
#: lifetime, with ``0 <= start < end <= 1``, or ``"due"`` (every window in the past).
RenewalWindow = tuple[float, float] | Literal["due"]

#: From 2/3 to 5/6 of the lifetime: late enough to use most of it, early enough to retry.
DEFAULT_RENEWAL_WINDOW: tuple[float, float] = (2 / 3, 5 / 6)

_FORM = '(start, end) fractions of the lifetime with 0 <= start < end <= 1, or "due"'


def _fraction(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def check_renewal_window(value: object, option: str = "renewal_window") -> RenewalWindow:
    """``value`` as a `RenewalWindow` (fractions as floats), or `errors.InvalidArgument`
    naming ``option``."""
    if value == "due":
        return "due"
    if isinstance(value, (tuple, list)) and len(value) == 2:
        start, end = _fraction(value[0]), _fraction(value[1])
        if start is not None and end is not None and 0.0 <= start < end <= 1.0:
            return (start, end)
    raise errors.InvalidArgument(f"{option} must be {_FORM}, not {value!r:.100}")


def past_window(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """A window that ended a day before ``now``: clients renew at once (RFC 9773 4.2)."""
    return now - datetime.timedelta(days=2), now - datetime.timedelta(days=1)


def suggested_window(
    record: IssuedCertificate, default: RenewalWindow, now: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """The ``[start, end)`` renewalInfo suggests for ``record`` at ``now`` (see module doc)."""
    if record.window is not None:
        start, end = record.window
    elif record.revoked:  # renew now: the window lies in the past (RFC 9773 section 4.2)
        start, end = now - datetime.timedelta(days=1), now - datetime.timedelta(seconds=1)
    elif default == "due":
        start, end = past_window(now)
    else:
        not_before = record.certificate.not_valid_before_utc
        lifetime = record.certificate.not_valid_after_utc - not_before
        start, end = not_before + lifetime * default[0], not_before + lifetime * default[1]
    return start, max(end, start + datetime.timedelta(seconds=1))  # end must follow start
