"""The drivers: run a flow with blocking or with awaitable I/O functions.

- `run_sync`/`run_async` drive the signing layer (``Send``/``Sleep``) with a transport: the
  network objects run them inside their ``post``/``get``/``head``.
- `run_net_sync`/`run_net_async` drive the operation layer (``Post``/``Get``/``Head``/
  ``Sleep``) by calling a network object's public methods, as acme 5.x's client does: a
  subclass overriding ``post``, or a test double, sees every request.

Exceptions are thrown into the flow at the point of the effect that failed, so the flow
decides what a failure means (e.g. a failed alternate chain is skipped).

Deadlines: an effect with a ``deadline`` (monotonic seconds on the driver's ``clock``) is not
carried out once the deadline has passed (`acme.errors.TimeoutError` is thrown in instead).
A ``Send`` goes to the transport with the time left as its timeout (the transport takes the
smaller of that and its own); a ``Post``/``Get``/``Head`` runs with `CALL_DEADLINE` set, so
this package's network objects bound the requests they send the same way. A network failure
at the deadline is reported as the `acme.errors.TimeoutError` it is.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from acme._core.http import (
    JOSE_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    Flow,
    Get,
    Head,
    HTTPRequest,
    HTTPResponse,
    NetFlow,
    Post,
    Send,
    Sleep,
    response_from,
)

__all__ = [
    "CALL_DEADLINE",
    "SIGN_WITH_JWK",
    "run_async",
    "run_net_async",
    "run_net_sync",
    "run_sync",
    "time_left",
]

T = TypeVar("T")
Clock = Callable[[], float]

#: A transport failure this close to the deadline (seconds) is the deadline's doing: socket
#: timeouts may fire a hair before the watchdog.
_DEADLINE_SLACK = 0.05


def _what(effect: Send | Post | Get | Head) -> str:
    if isinstance(effect, Send):
        return f"{effect.request.method} {effect.request.url}"
    return f"{type(effect).__name__.upper()} {effect.url}"


def time_left(effect: Send | Post | Get | Head, clock: Clock) -> float | None:
    """Seconds ``effect`` may take (``None``: no deadline); raises `TimeoutError` if none."""
    if effect.deadline is None:
        return None
    left = effect.deadline - clock()
    if left <= 0:
        from acme import errors  # here: `import acme.client` must not load josepy (errors does)

        raise errors.TimeoutError(f"Deadline reached before {_what(effect)}")
    return left


def _failure(effect: Send | Post | Get | Head, clock: Clock, error: Exception) -> Exception:
    """The exception to throw into the flow for ``error`` raised while carrying ``effect`` out."""
    from acme import errors

    if (
        isinstance(error, errors.NetworkError)
        and effect.deadline is not None
        and clock() >= effect.deadline - _DEADLINE_SLACK
    ):
        late = errors.TimeoutError(f"Deadline reached while waiting for {_what(effect)}")
        late.__cause__ = error
        return late
    return error


def run_sync(
    flow: Flow[T],
    send: Callable[[HTTPRequest, float | None], HTTPResponse],
    sleep: Callable[[float], None],
    clock: Clock = time.monotonic,
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
    clock: Clock = time.monotonic,
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


#: Set while a network object's ``post`` runs for a `Post` that must be signed with ``jwk``
#: (newAccount): the network objects of this package read it. For other network objects the
#: driver clears ``net.account`` around the call instead, as acme 5.x's client does.
SIGN_WITH_JWK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "acme_sign_with_jwk", default=False
)

#: Set while a network object's ``post``/``get``/``head`` runs for an effect with a deadline:
#: ``(deadline, clock)``. The network objects of this package put it on the requests they
#: send (acme 5.x's method signatures have no room for it); others cannot, and are only
#: bounded by their own timeouts.
CALL_DEADLINE: contextvars.ContextVar[tuple[float, Clock] | None] = contextvars.ContextVar(
    "acme_call_deadline", default=None
)


def _net_call(
    net: Any, effect: Post | Get | Head
) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
    """The network method and arguments answering ``effect``, in acme 5.x's call shapes:
    ``post(url, obj, new_nonce_url=...)``, ``get(url)``, ``head(url)``, with
    ``content_type=`` only when it is not the default."""
    if isinstance(effect, Post):
        kwargs: dict[str, Any] = {}
        if effect.content_type != JOSE_CONTENT_TYPE:
            kwargs["content_type"] = effect.content_type
        if effect.new_nonce_url is not None:
            kwargs["new_nonce_url"] = effect.new_nonce_url
        return net.post, (effect.url, effect.obj), kwargs
    if isinstance(effect, Get):
        get_kwargs = (
            {}
            if effect.content_type == JSON_CONTENT_TYPE
            else {"content_type": effect.content_type}
        )
        return net.get, (effect.url,), get_kwargs
    return net.head, (effect.url,), {}


@contextlib.contextmanager
def _signing_as(net: Any, effect: Post | Get | Head) -> Iterator[None]:
    """Around a `Post` marked ``jwk``: tell the network object to sign with ``jwk``."""
    if not (isinstance(effect, Post) and effect.jwk):
        yield
        return
    if getattr(net, "understands_sign_with_jwk", False) is True:
        token = SIGN_WITH_JWK.set(True)
        try:
            yield
        finally:
            SIGN_WITH_JWK.reset(token)
        return
    previous = net.account
    net.account = None
    try:
        yield
    finally:
        net.account = previous


@contextlib.contextmanager
def _net_call_for(
    net: Any, effect: Post | Get | Head, clock: Clock
) -> Iterator[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    """Everything around one network call, for both drivers: refuse ``effect`` past its
    deadline, set `CALL_DEADLINE` while it runs, sign newAccount with ``jwk``; yields the
    method and arguments to call (`_net_call`)."""
    token = None
    if effect.deadline is not None:
        time_left(effect, clock)  # raises past the deadline
        token = CALL_DEADLINE.set((effect.deadline, clock))
    try:
        with _signing_as(net, effect):
            yield _net_call(net, effect)
    finally:
        if token is not None:
            CALL_DEADLINE.reset(token)


def run_net_sync(
    flow: NetFlow[T], net: Any, sleep: Callable[[float], None], clock: Clock = time.monotonic
) -> T:
    """Drive an operation flow: `Post`/`Get`/`Head` by calling ``net``'s blocking methods,
    `Sleep` with ``sleep``. What the network raises is thrown into the flow at the effect."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Sleep):
                sleep(effect.seconds)
                effect = flow.send(None)
                continue
            try:
                with _net_call_for(net, effect, clock) as (method, args, kwargs):
                    raw = method(*args, **kwargs)
                response = response_from(raw, effect.url)
            except Exception as error:
                effect = flow.throw(_failure(effect, clock, error))
                continue
            effect = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def run_net_async(
    flow: NetFlow[T],
    net: Any,
    sleep: Callable[[float], Awaitable[None]],
    clock: Clock = time.monotonic,
) -> T:
    """`run_net_sync` for a network object whose methods are coroutines."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Sleep):
                await sleep(effect.seconds)
                effect = flow.send(None)
                continue
            try:
                with _net_call_for(net, effect, clock) as (method, args, kwargs):
                    raw = await method(*args, **kwargs)
                response = response_from(raw, effect.url)
            except Exception as error:
                effect = flow.throw(_failure(effect, clock, error))
                continue
            effect = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
