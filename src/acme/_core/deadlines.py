"""Deadlines as monotonic seconds, and the one wait that refuses to pass them."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from acme import errors
from acme._core.context import Context
from acme._core.http import NetFlow, Sleep

__all__ = ["Monotonic", "to_monotonic", "wait"]

logger = logging.getLogger(__name__)


class Monotonic(float):
    """A deadline already converted to the client clock's monotonic seconds.

    Its own type, so converting twice is harmless: a flow composed of other flows passes
    its `Monotonic` deadline on, and `to_monotonic` returns it unchanged.
    """


def to_monotonic(ctx: Context, deadline: Any) -> Monotonic:
    """Turn a caller's deadline into monotonic seconds.

    Accepts an aware datetime, a naive datetime (local time, as acme 5.x callers pass),
    ``None`` (the policy's default timeout from now), a number of seconds from now, or an
    already converted `Monotonic`.
    """
    if isinstance(deadline, Monotonic):
        return deadline
    now_mono = ctx.clock()
    if deadline is None:
        return Monotonic(now_mono + ctx.policy.default_timeout)
    if isinstance(deadline, datetime.datetime):
        now = ctx.now()
        if deadline.tzinfo is None or deadline.utcoffset() is None:
            now = now.astimezone().replace(tzinfo=None)
        return Monotonic(now_mono + (deadline - now).total_seconds())
    if isinstance(deadline, (int, float)) and not isinstance(deadline, bool):
        return Monotonic(now_mono + float(deadline))
    raise errors.ClientError(f"Deadline must be a datetime or seconds, got {deadline!r:.80}")


def wait(ctx: Context, seconds: float, deadline: float, what: str) -> NetFlow[None]:
    """Sleep ``seconds`` unless that would pass ``deadline``: then raise `TimeoutError` now."""
    left = deadline - ctx.clock()
    if seconds > left:
        logger.debug("waiting for %s: the deadline is %.3f s away, giving up", what, left)
        raise errors.TimeoutError(f"Deadline reached while waiting for {what}")
    logger.debug("waiting %.3f s before polling the %s again (%.1f s left)", seconds, what, left)
    yield Sleep(seconds)
