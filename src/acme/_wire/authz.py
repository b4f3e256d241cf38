"""Authorizations and challenges (RFC 8555 sections 7.1.4, 7.5 and 8)."""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Mapping
from typing import Any

from josepy import errors as jose_errors

from acme import challenges as acme_challenges
from acme import fields
from acme._wire.base import (
    DECODE_ERRORS,
    Resource,
    ResourceBody,
    ResourceWithURI,
    array,
    array_of,
    boolean,
    error_text,
    integer,
    optional,
    required,
    string,
)
from acme._wire.constants import Identifier, Status
from acme._wire.problem import Error

__all__ = [
    "Authorization",
    "AuthorizationResource",
    "ChallengeBody",
    "ChallengeResource",
    "NewAuthorization",
    "UpdateAuthorization",
]


class ChallengeBody(ResourceBody):
    """A challenge as the server lists it: the challenge plus its state (RFC 8555 section 8).

    The JSON is one flat object: the challenge's own fields (``type``, ``token``, ...) and
    ``url``, ``status``, ``validated``, ``error``. Attributes not found here are looked up on
    ``chall`` (``challb.token``, ``challb.response(key)``); ``uri`` is an alias of ``url``
    (also as a constructor and ``update()`` argument, where it takes precedence).

    :ivar url: the challenge URL: POST to it to answer (section 7.5.1); ``uri`` is an alias
    :ivar status: a `Status`: pending, processing, valid or invalid (section 7.1.6)
    :ivar validated: when the server validated it (aware UTC datetime), once valid
    :ivar error: the `Error` that made validation fail, if it did (section 7.1.5)
    """

    __slots__ = ("chall",)
    chall: acme_challenges.Challenge

    url: str = optional("url", string)  # required by RFC 8555 section 8; typed as in 5.x
    status: Status | None = optional("status", Status.from_json)
    validated: datetime.datetime | None = fields.rfc3339("validated", omitempty=True)
    error: Error | None = optional("error", Error.from_json)

    def __init__(self, **kwargs: Any) -> None:
        if "uri" in kwargs:
            kwargs["url"] = kwargs.pop("uri")  # the alias wins, so update(uri=...) works
        super().__init__(**kwargs)

    @classmethod
    def _from_mapping(cls, jobj: Mapping[str, Any]) -> Any:
        decoded = cls.fields_from_json(jobj)
        try:
            decoded["chall"] = acme_challenges.Challenge.from_json(jobj)
        except DECODE_ERRORS as error:
            raise jose_errors.DeserializationError(
                f"{cls.__qualname__}: {error_text(error, jobj)}"
            ) from error
        return cls(**decoded)

    def to_partial_json(self) -> dict[str, Any]:
        """One flat JSON object: the challenge's fields and the state fields."""
        jobj: dict[str, Any] = dict(self.chall.to_partial_json())
        jobj.update(self.fields_to_partial_json())
        return jobj

    @property
    def uri(self) -> str:
        """The challenge URL (alias of ``url``)."""
        return self.url

    def encode(self, name: str) -> Any:
        """One field encoded for JSON (josepy); ``uri``, acme 5.x's name, means ``url``."""
        return super().encode("url" if name == "uri" else name)

    @property
    def typ(self) -> str:
        """The challenge type, also for a challenge of an unknown type."""
        typ = getattr(self.chall, "typ", None)
        if isinstance(typ, str):
            return typ
        return str(self.chall.to_partial_json().get("type"))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            chall = object.__getattribute__(self, "chall")
        except AttributeError:
            raise AttributeError(name) from None
        return getattr(chall, name)


class ChallengeResource(Resource):
    """A challenge and the URL of its authorization (the ``up`` link, RFC 8555 7.5.1).

    :ivar body: the `ChallengeBody`
    :ivar authzr_uri: the URL of its authorization
    """

    body: ChallengeBody = required("body", ChallengeBody.from_json)
    authzr_uri: str | None = optional("authzr_uri", string)

    @property
    def uri(self) -> str:
        """The challenge URL."""
        return self.body.uri


class Authorization(ResourceBody):
    """Authorization object (RFC 8555 section 7.1.4).

    ``identifier``, ``challenges`` (tuple of `ChallengeBody`), ``status``, ``expires`` and
    ``wildcard``. ``combinations`` (ACMEv1, acme 1.x) is kept but deprecated.

    :ivar identifier: the `Identifier` it authorizes (for a wildcard, the name without ``*.``)
    :ivar challenges: the offered challenges, a tuple of `ChallengeBody`; once valid, the one that
        passed
    :ivar status: a `Status`: pending, valid, invalid, deactivated, expired or revoked (section
        7.1.6)
    :ivar expires: when it expires (aware UTC datetime); servers must set it once valid
    :ivar wildcard: True if it was created for a ``*.`` name of an order (dns-01 only, section
        7.1.3)
    """

    identifier: Identifier = optional("identifier", Identifier.from_json)  # required by RFC
    challenges: tuple[ChallengeBody, ...] = array("challenges", ChallengeBody.from_json)
    _combinations: tuple[tuple[int, ...], ...] = array("combinations", array_of(integer))
    status: Status | None = optional("status", Status.from_json)
    expires: datetime.datetime | None = fields.rfc3339("expires", omitempty=True)
    wildcard: bool | None = optional("wildcard", boolean)

    def __init__(self, **kwargs: Any) -> None:
        if "combinations" in kwargs:
            _warn_combinations()
            kwargs["_combinations"] = tuple(tuple(c) for c in kwargs.pop("combinations"))
        super().__init__(**kwargs)

    @classmethod
    def _from_mapping(cls, jobj: Mapping[str, Any]) -> Any:
        decoded = cls.fields_from_json(jobj)
        count = len(decoded["challenges"])
        for combo in decoded["_combinations"]:
            if any(not 0 <= index < count for index in combo):
                raise jose_errors.DeserializationError(
                    f"{cls.__qualname__}.combinations: index out of range in {list(combo)}"
                )
        return cls(**decoded)

    @property
    def combinations(self) -> tuple[tuple[int, ...], ...]:
        """ACMEv1 challenge combinations (indices into ``challenges``). Deprecated."""
        _warn_combinations()
        return self._combinations

    @property
    def resolved_combinations(self) -> tuple[tuple[ChallengeBody, ...], ...]:
        """``combinations`` with indices replaced by challenges. Deprecated."""
        _warn_combinations()
        return tuple(tuple(self.challenges[i] for i in combo) for combo in self._combinations)


def _warn_combinations() -> None:
    warnings.warn(
        "Authorization.combinations is deprecated: RFC 8555 has no challenge combinations",
        DeprecationWarning,
        stacklevel=3,
    )


class NewAuthorization(Authorization):
    """newAuthz request payload: ``identifier`` only (RFC 8555 section 7.4.1)."""


class UpdateAuthorization(Authorization):
    """Authorization update payload, e.g. ``{"status": "deactivated"}`` (RFC 8555 7.5.2)."""


class AuthorizationResource(ResourceWithURI):
    """An authorization and its URL.

    :ivar body: the `Authorization`
    :ivar new_cert_uri: kept from acme 1.x (ACMEv1's new-cert URL); ACME v2 does not use it
    """

    body: Authorization = required("body", Authorization.from_json)
    new_cert_uri: str | None = optional("new_cert_uri", string)
