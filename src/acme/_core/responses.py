"""Reading responses the flows share: a JSON body as a message, ``Location``, directory URLs."""

from __future__ import annotations

import urllib.parse
from typing import TypeVar

from josepy import errors as jose_errors
from josepy import interfaces

from acme import errors, messages
from acme._core.http import HTTPResponse

__all__ = ["location", "parse", "resource_url"]

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
