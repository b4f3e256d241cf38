"""The two layers of flows joined without a network object: `signed`.

The clients never use this: they answer the operation layer's `Post`/`Get`/`Head` by calling
their network object, whose ``post``/``get``/``head`` run the signing layer. `signed` does the
same inside one flow, so a whole operation can run on a bare transport function (the unit
tests' fake server, or ``acme.testing.ACMEServerCore.handle``) with one `Session`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from acme._core.http import Flow, Get, Head, HTTPResponse, NetFlow, Post, Sleep
from acme._core.session import Session, get_expecting, head, post_expecting

__all__ = ["signed"]

T = TypeVar("T")


def signed(flow: NetFlow[T], session: Session) -> Flow[T]:
    """``flow`` (operation layer) with each request run by the signing layer on ``session``.

    Errors of a request are thrown into ``flow`` at its effect, as the network drivers do.
    """
    try:
        effect = next(flow)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    while True:
        try:
            answer = yield from _answer(effect, session)
        except GeneratorExit:
            flow.close()
            raise
        except Exception as error:
            try:
                effect = flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            effect = flow.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def _answer(effect: Any, session: Session) -> Flow[HTTPResponse | None]:
    if isinstance(effect, Sleep):
        yield effect
        return None
    if isinstance(effect, Post):
        if effect.new_nonce_url is not None:
            session.new_nonce_url = effect.new_nonce_url
        return (
            yield from post_expecting(
                session, effect.url, effect.obj, effect.content_type, effect.jwk
            )
        )
    if isinstance(effect, Get):
        return (yield from get_expecting(session, effect.url, effect.content_type))
    if isinstance(effect, Head):
        return (yield from head(session, effect.url))
    raise TypeError(f"Not an operation-layer effect: {effect!r}")
