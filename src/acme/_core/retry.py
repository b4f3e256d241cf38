"""When to poll again: ``Retry-After`` parsing and the backoff policy (RFC 8555 7.5.1, 8.2).

Rules:
- The server's ``Retry-After`` (delta-seconds or HTTP-date) wins, clamped to something sane:
  negative, zero or past values become the policy's next backoff step; huge values are capped.
- Without it, start within milliseconds and grow geometrically with jitter up to a cap, so a
  local server is polled fast and a slow one politely (a few polls per authorization).
- Deadlines are monotonic seconds. A wait that would pass the deadline is refused up front
  when the server named an exact delay (delta-seconds); a wait of our own choosing, or one
  to an HTTP-date (only as exact as the two clocks agree), is cut short for one last poll.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import random
import re
from collections.abc import Callable

__all__ = ["PollPolicy", "RetryHint", "parse_retry_after", "parse_retry_hint", "retry_time"]

# RFC 9110 section 10.2.3 delta-seconds (a leading "-" accepted, then clamped by the policy).
_DELTA_SECONDS = re.compile(r"-?[0-9]{1,12}", re.ASCII)


def parse_retry_after(value: str | None, now: datetime.datetime) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or ``None`` if absent/unparsable.

    ``now`` is the current aware UTC time, used for the HTTP-date form. The result may be
    negative or huge; `PollPolicy.delay` clamps it.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):  # ASCII digits only: "²".isdigit() is true
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 HTTP-date is always GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return (when - now).total_seconds()


def retry_time(
    value: str | None,
    now: datetime.datetime,
    default: float | None,
    cap: float,
) -> datetime.datetime | None:
    """When to ask again according to a ``Retry-After`` value, on ``now``'s own clock.

    ``now`` may be aware, or naive local time (what acme 5.x callers get back); the result is
    of the same kind. A value that is absent, unparsable or in the past gives
    ``now + default`` (None when ``default`` is None); one further away than ``cap`` seconds
    is cut to ``cap``, so a hostile or broken server cannot park the client (RFC 9110
    section 10.2.3 allows any delay).
    """
    aware = now if now.tzinfo is not None and now.utcoffset() is not None else now.astimezone()
    seconds = parse_retry_after(value, aware)
    if seconds is None or seconds < 0:
        if default is None:
            return None
        seconds = default
    return now + datetime.timedelta(seconds=min(seconds, cap))


@dataclasses.dataclass(frozen=True)
class RetryHint:
    """A server's ``Retry-After``: seconds from now, and whether it was an HTTP-date."""

    seconds: float
    dated: bool = False


def parse_retry_hint(value: str | None, now: datetime.datetime) -> RetryHint | None:
    """`parse_retry_after`, remembering which form the value had."""
    seconds = parse_retry_after(value, now)
    if seconds is None or value is None:
        return None
    return RetryHint(seconds, dated=not _DELTA_SECONDS.fullmatch(value.strip()))


@dataclasses.dataclass(frozen=True)
class PollPolicy:
    """Backoff schedule for polling authorizations and orders.

    The n-th wait (n from 0) is ``initial * factor**n`` with +-``jitter`` spread, capped at
    ``max_delay``. With the defaults the waits are about 5 ms, 12 ms, 31 ms, 78 ms, 0.2 s,
    0.5 s, 1.2 s, 3 s, 7.6 s, 10 s...: a local server is polled after 5 ms (the validation is
    usually done by then), and a server that validates in 2 s is polled 8 times. (An order
    right after finalizing is polled once after `first_order_poll` before this schedule.)
    """

    initial: float = 0.005
    factor: float = 2.5
    max_delay: float = 10.0
    jitter: float = 0.1
    #: The longest ``Retry-After`` honoured; longer values are cut to this (still bounded by
    #: the caller's deadline).
    max_retry_after: float = 3600.0
    #: Default deadline for polls started without one (acme 5.x: 90 s).
    default_timeout: float = 90.0
    #: The wait before the first poll of an order finalized without a Retry-After: issuing
    #: is one signature, done in about a millisecond by a CA on loopback.
    first_order_poll: float = 0.001
    #: A wait cut short by the deadline ends this long before it (at most half the time
    #: left), so the last poll has time for its round trip.
    last_poll_margin: float = 1.0

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before poll number ``attempt + 1`` when the server gave no hint."""
        base = min(self.max_delay, self.initial * self.factor ** min(attempt, 64))
        spread = 1.0 + self.jitter * (2.0 * rand() - 1.0)
        return max(0.0, min(self.max_delay, base * spread))

    def delay(
        self,
        attempt: int,
        retry_after: float | None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """The wait before the next poll: ``Retry-After`` if sane, else the backoff step."""
        fallback = self.backoff(attempt, rand)
        if retry_after is None or retry_after != retry_after or retry_after <= 0:
            return fallback
        return min(retry_after, self.max_retry_after)
