"""The two drivers: run a flow with blocking or with awaitable I/O functions.

Transport exceptions are thrown into the flow at the point of the ``Send`` that failed, so the
flow decides what a failure means (e.g. a failed alternate chain is skipped).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from acme._core.http import Flow, HTTPRequest, HTTPResponse, Send

__all__ = ["run_async", "run_sync"]

T = TypeVar("T")


def run_sync(
    flow: Flow[T],
    send: Callable[[HTTPRequest], HTTPResponse],
    sleep: Callable[[float], None],
) -> T:
    """Drive ``flow`` to completion with blocking ``send`` and ``sleep``."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Send):
                try:
                    response = send(effect.request)
                except Exception as error:
                    effect = flow.throw(error)
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
    send: Callable[[HTTPRequest], Awaitable[HTTPResponse]],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """Drive ``flow`` to completion with awaitable ``send`` and ``sleep``."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Send):
                try:
                    response = await send(effect.request)
                except Exception as error:
                    effect = flow.throw(error)
                    continue
                effect = flow.send(response)
            else:
                await sleep(effect.seconds)
                effect = flow.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
