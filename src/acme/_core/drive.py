"""The two drivers: run a flow with blocking or with awaitable I/O functions.

Transport exceptions are thrown into the flow at the point of the ``Send`` that failed, so the
flow decides what a failure means (e.g. a failed alternate chain is skipped).

A ``Send`` with a deadline is given to the transport with the time left as its timeout (the
transport takes the smaller of that and its own), so a request in flight cannot outlive the
call; once the deadline has passed the request is not sent, and a transport failure at the
deadline is reported as the `acme.errors.TimeoutError` it is.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from acme._core.http import Flow, HTTPRequest, HTTPResponse, Send

__all__ = ["run_async", "run_sync", "time_left"]

T = TypeVar("T")

#: A transport failure this close to the deadline (seconds) is the deadline's doing: socket
#: timeouts may fire a hair before the watchdog.
_DEADLINE_SLACK = 0.05


def time_left(effect: Send, clock: Callable[[], float]) -> float | None:
    """Seconds ``effect`` may take (``None``: no deadline); raises `TimeoutError` if none."""
    if effect.deadline is None:
        return None
    left = effect.deadline - clock()
    if left <= 0:
        from acme import errors  # here: `import acme.client` must not load josepy (errors does)

        request = effect.request
        raise errors.TimeoutError(f"Deadline reached before {request.method} {request.url}")
    return left


def _failure(effect: Send, clock: Callable[[], float], error: Exception) -> Exception:
    """The exception to throw into the flow for ``error`` raised while sending ``effect``."""
    from acme import errors

    if (
        isinstance(error, errors.NetworkError)
        and effect.deadline is not None
        and clock() >= effect.deadline - _DEADLINE_SLACK
    ):
        late = errors.TimeoutError(
            f"Deadline reached while waiting for {effect.request.method} {effect.request.url}"
        )
        late.__cause__ = error
        return late
    return error


def run_sync(
    flow: Flow[T],
    send: Callable[[HTTPRequest, float | None], HTTPResponse],
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Drive ``flow`` to completion with blocking ``send(request, timeout)`` and ``sleep``;
    ``clock`` (monotonic seconds) is the one the flow's deadlines are on."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Send):
                try:
                    response = send(effect.request, time_left(effect, clock))
                except Exception as error:
                    effect = flow.throw(_failure(effect, clock, error))
                    continue
                effect = flow.send(response)
            else:
                sleep(effect.seconds)
                effect = flow.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def run_async(
    flow: Flow[T],
    send: Callable[[HTTPRequest, float | None], Awaitable[HTTPResponse]],
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Drive ``flow`` to completion with awaitable ``send(request, timeout)`` and ``sleep``."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Send):
                try:
                    response = await send(effect.request, time_left(effect, clock))
                except Exception as error:
                    effect = flow.throw(_failure(effect, clock, error))
                    continue
                effect = flow.send(response)
            else:
                await sleep(effect.seconds)
                effect = flow.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
