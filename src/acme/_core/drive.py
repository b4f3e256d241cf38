"""The drivers: run a flow with blocking or with awaitable I/O functions.

- `run_sync`/`run_async` drive the signing layer (``Send``/``Sleep``) with a transport: the
  network objects run them inside their ``post``/``get``/``head``.
- `run_net_sync`/`run_net_async` drive the operation layer (``Post``/``Get``/``Head``/
  ``Sleep``) by calling a network object's public methods, as acme 5.x's client does: a
  subclass overriding ``post``, or a test double, sees every request.

Exceptions are thrown into the flow at the point of the effect that failed, so the flow
decides what a failure means (e.g. a failed alternate chain is skipped).
"""

from __future__ import annotations

import contextlib
import contextvars
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

__all__ = ["SIGN_WITH_JWK", "run_async", "run_net_async", "run_net_sync", "run_sync"]

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


#: Set while a network object's ``post`` runs for a `Post` that must be signed with ``jwk``
#: (newAccount): the network objects of this package read it. For other network objects the
#: driver clears ``net.account`` around the call instead, as acme 5.x's client does.
SIGN_WITH_JWK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "acme_sign_with_jwk", default=False
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


def run_net_sync(flow: NetFlow[T], net: Any, sleep: Callable[[float], None]) -> T:
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
                method, args, kwargs = _net_call(net, effect)
                with _signing_as(net, effect):
                    raw = method(*args, **kwargs)
                response = response_from(raw, effect.url)
            except Exception as error:
                effect = flow.throw(error)
                continue
            effect = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def run_net_async(flow: NetFlow[T], net: Any, sleep: Callable[[float], Awaitable[None]]) -> T:
    """`run_net_sync` for a network object whose methods are coroutines."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Sleep):
                await sleep(effect.seconds)
                effect = flow.send(None)
                continue
            try:
                method, args, kwargs = _net_call(net, effect)
                with _signing_as(net, effect):
                    raw = await method(*args, **kwargs)
                response = response_from(raw, effect.url)
            except Exception as error:
                effect = flow.throw(error)
                continue
            effect = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
