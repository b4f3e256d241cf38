"""The challenge base classes and the key authorization rules (RFC 8555 sections 8 and 8.1).

Public through `acme.challenges`; kept here so that the RFC challenges (`acme.challenges`) and
the pre-RFC ``dns`` challenge (`acme._wire.legacy_dns`) both build on them without importing
each other.
"""

from __future__ import annotations

import abc
import copy
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from cryptography.hazmat.primitives import hashes
from josepy import b64, json_util, jwk
from josepy import errors as jose_errors

from acme import errors

__all__ = [
    "Challenge",
    "ChallengeResponse",
    "KeyAuthorizationChallenge",
    "KeyAuthorizationChallengeResponse",
    "UnrecognizedChallenge",
]

logger = logging.getLogger("acme.challenges")

# RFC 8555 section 8.3: tokens use only the base64url alphabet, without "=" padding.
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+\Z")
# RFC 8555 section 11.3: at least 128 bits of entropy, i.e. at least 16 decoded bytes.
_TOKEN_BYTES = 128 // 8


def _decode_token(value: Any) -> bytes:
    """Decode a challenge token, refusing what RFC 8555 sections 8.3 and 11.3 forbid."""
    if not isinstance(value, str):
        raise jose_errors.DeserializationError(
            f"Challenge token must be a string, got {type(value).__name__}"
        )
    if "=" in value:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} contains base64 padding ('=')"
        )
    if not _BASE64URL.match(value) or len(value) % 4 == 1:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} is not base64url (RFC 8555 section 8.3)"
        )
    decoded = b64.b64decode(value)
    if len(decoded) < _TOKEN_BYTES:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} has fewer than 128 bits of entropy "
            "(RFC 8555 section 11.3)"
        )
    # The key authorization re-encodes the token; a non-canonical encoding (stray low bits in
    # the last character) would not survive that, so the key authorization would be wrong.
    if b64.b64encode(decoded).decode("ascii") != value:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} is not canonical base64url"
        )
    return decoded


def _decode_key_authorization(value: Any) -> str:
    if not isinstance(value, str):
        raise jose_errors.DeserializationError(
            f"keyAuthorization must be a string, got {type(value).__name__}"
        )
    return value


def _require_mapping(jobj: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(jobj, Mapping):
        raise jose_errors.DeserializationError(
            f"{what} must be a JSON object, got {type(jobj).__name__}"
        )
    return jobj


def _thumbprint(account_key: Any, hash_function: type[hashes.HashAlgorithm]) -> bytes:
    """RFC 7638 thumbprint of the account key's public part.

    Like acme 5.x, any object with josepy's ``thumbprint(hash_function=...)`` will do (a JWK,
    or a test's stand-in for one).
    """
    method = getattr(account_key, "thumbprint", None)
    if not callable(method):
        raise errors.Error(
            "The account key must be a josepy JWK (or have its thumbprint() method), "
            f"got {type(account_key).__name__}"
        )
    digest = method(hash_function=hash_function)
    if not isinstance(digest, bytes):
        raise errors.Error(f"The account key's thumbprint() gave {type(digest).__name__}")
    return digest


def _token_text(chall: Any) -> str:
    """A challenge's token as it appears in JSON and key authorizations (base64url)."""
    if isinstance(chall, _TokenChallenge):
        return chall._token_text
    try:  # acme 5.x asks only for josepy's encode("token")
        token = chall.encode("token")
    except (AttributeError, TypeError, KeyError, jose_errors.Error) as error:
        raise errors.Error(f"Expected a challenge with a token, got {chall!r:.100}") from error
    if not isinstance(token, str):
        raise errors.Error(f"Expected a challenge with a token, got {chall!r:.100}")
    return token


def _require_jwk(account_key: Any) -> jwk.JWK:
    if not isinstance(account_key, jwk.JWK):
        raise errors.Error(
            f"The account key must be a josepy JWK, got {type(account_key).__name__}"
        )
    return account_key


def _parsed(cls: type[Any]) -> dict[str, Any]:
    """Extra constructor arguments for a class built from JSON: a class that warns when the
    caller constructs it (``WARNS_ON_USE``) is told that a server sent it instead."""
    return {"_acme_parsed": True} if getattr(cls, "WARNS_ON_USE", False) else {}


def _rebuild(cls: type[Any], fields: dict[str, Any]) -> Any:
    """Unpickle helper: josepy's immutable objects refuse the default attribute setting."""
    return cls(**fields)


_C = TypeVar("_C", bound="Challenge")
_R = TypeVar("_R", bound="ChallengeResponse")


class Challenge(json_util.TypedJSONObjectWithFields):
    """An ACME challenge; ``Challenge.from_json`` picks the class registered for its type."""

    TYPES: dict[str, type[Any]] = {}

    @classmethod
    def from_json(cls: type[_C], jobj: Mapping[str, Any]) -> _C:
        """Parse a challenge; an unknown type gives `UnrecognizedChallenge`."""
        jobj = _require_mapping(jobj, "A challenge")
        typ = jobj.get(cls.type_field_name)
        if not isinstance(typ, str):
            raise jose_errors.DeserializationError(
                f"A challenge needs a string 'type' field, got {typ!r:.80}"
            )
        type_cls = cls.TYPES.get(typ)
        if type_cls is None and cls is Challenge:
            return cast(_C, UnrecognizedChallenge(jobj))
        if type_cls is None or not issubclass(type_cls, cls):
            raise jose_errors.DeserializationError(
                f"Expected a {cls.__name__} challenge, got type {typ!r:.80}"
            )
        challenge: _C = type_cls(**type_cls.fields_from_json(jobj), **_parsed(type_cls))
        return challenge

    def __eq__(self, other: object) -> bool:
        # Mapping equality ignores the class: an http-01 and a dns-01 with one token differ.
        return type(self) is type(other) and super().__eq__(other)

    __hash__ = json_util.TypedJSONObjectWithFields.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), dict(self))


class ChallengeResponse(json_util.TypedJSONObjectWithFields):
    """The client's answer to a challenge, POSTed to the challenge URL."""

    TYPES: dict[str, type[Any]] = {}

    @classmethod
    def from_json(cls: type[_R], jobj: Mapping[str, Any]) -> _R:
        """Parse a response; the RFC 8555 ``{}`` (no type) parses too (section 7.5.1)."""
        jobj = _require_mapping(jobj, "A challenge response")
        typ = jobj.get(cls.type_field_name)
        if typ is None:
            # Every RFC 8555 / RFC 8737 response body is ``{}``: without a type, the class
            # asked for is used, or the generic key authorization response.
            target: type[Any] = (
                KeyAuthorizationChallengeResponse if cls is ChallengeResponse else cls
            )
        elif not isinstance(typ, str):
            raise jose_errors.DeserializationError(f"Invalid challenge response type {typ!r:.80}")
        else:
            if typ not in cls.TYPES:
                raise jose_errors.UnrecognizedTypeError(typ, jobj)
            target = cls.TYPES[typ]
            if not issubclass(target, cls):
                raise jose_errors.DeserializationError(
                    f"Expected a {cls.__name__}, got type {typ!r:.80}"
                )
        response: _R = target(**target.fields_from_json(jobj), **_parsed(target))
        return response

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and super().__eq__(other)

    __hash__ = json_util.TypedJSONObjectWithFields.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), dict(self))


class UnrecognizedChallenge(Challenge):
    """A challenge of a type this library does not know; its JSON is kept unchanged.

    :ivar dict jobj: the original JSON object (a private copy).
    """

    __slots__ = ("jobj",)
    jobj: dict[str, Any]

    def __init__(self, jobj: Mapping[str, Any]) -> None:
        jobj = _require_mapping(jobj, "A challenge")
        object.__setattr__(self, "jobj", copy.deepcopy(dict(jobj)))

    def to_partial_json(self) -> dict[str, Any]:
        """The original JSON object (a copy, so the challenge stays immutable)."""
        return copy.deepcopy(self.jobj)

    @property
    def typ(self) -> Any:  # type: ignore[override]
        """The challenge's own ``type`` string (the class has none of its own)."""
        return self.jobj.get("type")

    @classmethod
    def from_json(cls, jobj: Mapping[str, Any]) -> UnrecognizedChallenge:
        """Keep ``jobj`` as it is."""
        return cls(jobj)

    def __reduce__(self) -> tuple[Any, ...]:
        return UnrecognizedChallenge, (self.jobj,)

    def __hash__(self) -> int:
        return hash(json.dumps(self.jobj, sort_keys=True, default=repr))


class _TokenChallenge(Challenge):
    """A challenge carrying a random ``token`` (bytes; base64url in JSON)."""

    token: bytes = json_util.field("token", encoder=json_util.encode_b64jose, decoder=_decode_token)

    #: Token size in bytes: the 128 bits of entropy of RFC 8555 section 11.3 (acme 5.x name).
    TOKEN_SIZE = _TOKEN_BYTES

    @property
    def good_token(self) -> bool:
        """Whether the token has the 128 bits of entropy RFC 8555 section 11.3 requires."""
        return isinstance(self.token, bytes) and len(self.token) >= self.TOKEN_SIZE

    @property
    def _token_text(self) -> str:
        if not isinstance(self.token, bytes):
            raise errors.Error(f"Challenge token must be bytes, got {type(self.token).__name__}")
        return json_util.encode_b64jose(self.token)


class KeyAuthorizationChallengeResponse(ChallengeResponse):
    """Response to a key authorization challenge.

    ``key_authorization`` is kept locally but never sent: the JSON is ``{}`` (RFC 8555
    section 7.5.1), because the server recomputes the key authorization itself.

    :ivar key_authorization: ``token.thumbprint`` (RFC 8555 section 8.1), or None
    """

    key_authorization: str | None = json_util.field(
        "keyAuthorization", omitempty=True, decoder=_decode_key_authorization
    )
    #: Hash of the account key thumbprint in key authorizations (RFC 8555 section 8.1).
    thumbprint_hash_function: type[hashes.HashAlgorithm] = hashes.SHA256

    def verify(self, chall: KeyAuthorizationChallenge, account_public_key: jwk.JWK) -> bool:
        """Whether ``key_authorization`` is ``token || '.' || base64url(thumbprint)`` for
        ``chall`` and the account key (RFC 8555 section 8.1).

        As in acme 5.x, ``chall`` needs only josepy's ``encode("token")`` and the key only
        ``thumbprint()``; anything else raises `acme.errors.Error`.
        """
        if not isinstance(self.key_authorization, str):
            logger.debug("No key authorization to verify")
            return False
        thumbprint = _thumbprint(account_public_key, self.thumbprint_hash_function)
        expected = f"{_token_text(chall)}.{json_util.encode_b64jose(thumbprint)}"
        if self.key_authorization != expected:
            logger.debug("Key authorization %r is not %r", self.key_authorization, expected)
            return False
        return True

    def to_partial_json(self) -> dict[str, Any]:
        """``{}``: RFC 8555 section 7.5.1 sends an empty object, without ``type``."""
        return {}


class KeyAuthorizationChallenge(_TokenChallenge):
    """A challenge answered with a key authorization (RFC 8555 section 8.1)."""

    response_cls: type[KeyAuthorizationChallengeResponse] = KeyAuthorizationChallengeResponse
    #: Hash of the account key thumbprint in key authorizations (RFC 8555 section 8.1).
    thumbprint_hash_function: type[hashes.HashAlgorithm] = hashes.SHA256

    def key_authorization(self, account_key: jwk.JWK) -> str:
        """``token || '.' || base64url(Thumbprint(accountKey))`` (RFC 8555 section 8.1).

        The thumbprint is RFC 7638's, with `thumbprint_hash_function` (SHA-256), over the
        public part of the key. As in acme 5.x, the key only needs josepy's ``thumbprint()``.
        """
        thumbprint = _thumbprint(account_key, self.thumbprint_hash_function)
        return f"{self._token_text}.{json_util.encode_b64jose(thumbprint)}"

    def response(self, account_key: jwk.JWK) -> KeyAuthorizationChallengeResponse:
        """The response to POST (its JSON is ``{}``), holding the key authorization."""
        return self.response_cls(key_authorization=self.key_authorization(account_key))

    @abc.abstractmethod
    def validation(self, account_key: jwk.JWK, **kwargs: Any) -> Any:
        """What to provision so the server can validate; its type depends on the challenge."""

    def response_and_validation(
        self, account_key: jwk.JWK, *args: Any, **kwargs: Any
    ) -> tuple[KeyAuthorizationChallengeResponse, Any]:
        """``(self.response(account_key), self.validation(account_key, *args, **kwargs))``."""
        return self.response(account_key), self.validation(account_key, *args, **kwargs)
