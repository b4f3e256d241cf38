"""Helpers shared by the flows: parsing responses into messages, deadlines and waits."""

from __future__ import annotations

import datetime
import urllib.parse
from typing import Any, TypeVar

from josepy import errors as jose_errors
from josepy import interfaces, jwa, jwk

from acme import errors, messages
from acme._core.http import Flow, HTTPResponse, Sleep
from acme._core.session import Session

__all__ = [
    "Monotonic",
    "alg_for_key",
    "location",
    "parse",
    "resource_url",
    "to_monotonic",
    "wait",
]

M = TypeVar("M", bound=interfaces.JSONDeSerializable)


def parse(cls: type[M], response: HTTPResponse) -> M:
    """Decode the JSON body of ``response`` as ``cls``; a bad body raises `ClientError`."""
    try:
        jobj = response.json()
    except ValueError as error:
        raise errors.ClientError(
            f"{response.url} answered with a body that is not JSON: {error}"
        ) from error
    try:
        return cls.from_json(jobj)
    except (jose_errors.DeserializationError, errors.Error) as error:
        raise errors.ClientError(
            f"{response.url} answered with a malformed {cls.__name__}: {error}"
        ) from error


def location(response: HTTPResponse) -> str:
    """The ``Location`` header of a resource-creating response (RFC 8555 section 7.1),
    resolved against the request URL (RFC 9110 allows a relative reference)."""
    value = response.headers.get("Location")
    if not value:
        raise errors.ClientError(f"{response.url} answered without a Location header")
    return urllib.parse.urljoin(response.url, value)


def resource_url(directory: messages.Directory, name: str) -> str:
    """The directory's URL for ``name`` (``newOrder``...); `ClientError` if it has none."""
    try:
        url = directory[name]
    except KeyError:
        raise errors.ClientError(f"The server's directory has no {name} resource") from None
    if not isinstance(url, str):
        raise errors.ClientError(f"The server's directory has a non-URL {name}: {url!r:.100}")
    return url


class Monotonic(float):
    """A deadline already converted to the session clock's monotonic seconds.

    Its own type, so converting twice is harmless: a flow composed of other flows passes
    its `Monotonic` deadline on, and `to_monotonic` returns it unchanged.
    """


def to_monotonic(session: Session, deadline: Any) -> Monotonic:
    """Turn a caller's deadline into monotonic seconds.

    Accepts an aware datetime, a naive datetime (local time, as acme 5.x callers pass),
    ``None`` (the policy's default timeout from now), a number of seconds from now, or an
    already converted `Monotonic`.
    """
    if isinstance(deadline, Monotonic):
        return deadline
    now_mono = session.clock()
    if deadline is None:
        return Monotonic(now_mono + session.policy.default_timeout)
    if isinstance(deadline, datetime.datetime):
        now = session.now()
        if deadline.tzinfo is None or deadline.utcoffset() is None:
            now = now.astimezone().replace(tzinfo=None)
        return Monotonic(now_mono + (deadline - now).total_seconds())
    if isinstance(deadline, (int, float)) and not isinstance(deadline, bool):
        return Monotonic(now_mono + float(deadline))
    raise errors.ClientError(f"Deadline must be a datetime or seconds, got {deadline!r:.80}")


def wait(session: Session, seconds: float, deadline: float, what: str) -> Flow[None]:
    """Sleep ``seconds`` unless that would pass ``deadline``: then raise `TimeoutError` now."""
    if session.clock() + seconds > deadline:
        raise errors.TimeoutError(f"Deadline reached while waiting for {what}")
    yield Sleep(seconds)


_EC_ALGS = {"secp256r1": jwa.ES256, "secp384r1": jwa.ES384, "secp521r1": jwa.ES512}


def alg_for_key(key: jwk.JWK) -> jwa.JWASignature:
    """The usual JWS algorithm for an account key: RS256 for RSA, ES256/384/512 for EC."""
    if isinstance(key, jwk.JWKRSA):
        return jwa.RS256
    if isinstance(key, jwk.JWKEC):
        curve = getattr(key.key, "curve", None)
        alg = _EC_ALGS.get(getattr(curve, "name", ""))
        if alg is not None:
            return alg
    raise errors.ClientError(f"Unsupported account key type {type(key).__name__}")
