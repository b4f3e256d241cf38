"""Deadlines as monotonic seconds, the poll wait that respects them, and `within`, which puts
a call's deadline on every request the call sends."""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Generator
from typing import Any, TypeVar

from acme import errors
from acme._core.context import Context
from acme._core.http import Get, Head, NetFlow, Post, Send, Sleep

__all__ = ["Monotonic", "to_monotonic", "wait", "wait_to_poll", "within"]

T = TypeVar("T")
E = TypeVar("E")

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
    yield from wait_to_poll(ctx, seconds, deadline, what, may_cut=False)


def wait_to_poll(
    ctx: Context, seconds: float, deadline: float, what: str, *, may_cut: bool
) -> NetFlow[bool]:
    """Sleep ``seconds`` before the next poll; return whether that poll is the last one.

    A wait that would pass ``deadline`` raises `TimeoutError` at once, unless ``may_cut``:
    then it ends `PollPolicy.last_poll_margin` (at most half the time left) before the
    deadline, for one last poll (the caller passes ``may_cut=False`` after that one).
    """
    left = deadline - ctx.clock()
    if seconds <= left:
        logger.debug(
            "waiting %.3f s before polling the %s again (%.1f s left)", seconds, what, left
        )
        yield Sleep(seconds)
        return False
    if not may_cut or left <= 0:
        logger.debug("waiting for %s: the deadline is %.3f s away, giving up", what, left)
        raise errors.TimeoutError(f"Deadline reached while waiting for {what}")
    cut = left - min(ctx.policy.last_poll_margin, left / 2)
    logger.debug(
        "waiting %.3f s (not %.3f s) to poll the %s once more before the deadline",
        cut,
        seconds,
        what,
    )
    yield Sleep(cut)
    return True


def within(flow: Generator[E, Any, T], deadline: float) -> Generator[E, Any, T]:
    """Run ``flow`` with ``deadline`` (monotonic) on every request effect it yields (`Send`
    of the signing layer; `Post`, `Get`, `Head` of the operation layer), keeping an earlier
    one already there: the drivers then bound each request by the time left.

    This is ``yield from flow`` with the effects rewritten on their way out.
    """
    try:
        effect = next(flow)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    while True:
        if isinstance(effect, _REQUESTS) and (
            effect.deadline is None or effect.deadline > deadline
        ):
            effect = dataclasses.replace(effect, deadline=deadline)
        try:
            answer = yield effect
        except GeneratorExit:
            flow.close()
            raise
        except BaseException as error:  # thrown in by the driver: the flow decides
            try:
                effect = flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            effect = flow.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


_REQUESTS = (Send, Post, Get, Head)
