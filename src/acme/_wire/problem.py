"""ACME problem documents (RFC 7807, RFC 8555 section 6.7): `Error` and the error registry."""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from josepy import util as jose_util

from acme import errors
from acme._wire.base import JSONObject, array, optional, string
from acme._wire.constants import Identifier

__all__ = [
    "ERROR_CODES",
    "ERROR_PREFIX",
    "ERROR_TYPE_DESCRIPTIONS",
    "OLD_ERROR_PREFIX",
    "Error",
    "is_acme_error",
]

#: The namespace of ACME problem types (RFC 8555 section 6.7).
ERROR_PREFIX = "urn:ietf:params:acme:error:"
#: The namespace of the pre-RFC ACME drafts (ACMEv1), still recognized.
OLD_ERROR_PREFIX = "urn:acme:error:"

#: Every registered ACME error type (short code) and its description. The descriptions are
#: acme 5.x's texts (programs match on them), for the codes acme 5.x knows.
ERROR_CODES: dict[str, str] = {
    # RFC 8555 section 6.7
    "accountDoesNotExist": "The request specified an account that does not exist",
    "alreadyRevoked": (
        "The request specified a certificate to be revoked that has already been revoked"
    ),
    "badCSR": "The CSR is unacceptable (e.g., due to a short key)",
    "badNonce": "The client sent an unacceptable anti-replay nonce",
    "badPublicKey": "The JWS was signed by a public key the server does not support",
    "badRevocationReason": "The revocation reason provided is not allowed by the server",
    "badSignatureAlgorithm": "The JWS was signed with an algorithm the server does not support",
    "caa": (
        "Certification Authority Authorization (CAA) records forbid the CA from issuing a "
        "certificate"
    ),
    "compound": 'Specific error conditions are indicated in the "subproblems" array',
    "connection": "The server could not connect to the client to verify the domain",
    "dns": "There was a problem with a DNS query during identifier validation",
    "externalAccountRequired": "The server requires external account binding",
    "incorrectResponse": "Response received didn't match the challenge's requirements",
    "invalidContact": "The provided contact URI was invalid",
    "malformed": "The request message was malformed",
    "orderNotReady": (
        "The request attempted to finalize an order that is not ready to be finalized"
    ),
    "rateLimited": "There were too many requests of a given type",
    "rejectedIdentifier": "The server will not issue certificates for the identifier",
    "serverInternal": "The server experienced an internal error",
    "tls": "The server experienced a TLS error during domain verification",
    "unauthorized": "The client lacks sufficient authorization",
    "unsupportedContact": "A contact URL for an account used an unsupported protocol scheme",
    "unsupportedIdentifier": "An identifier is of an unsupported type",
    "userActionRequired": 'Visit the "instance" URL and take actions specified there',
    # Pre-RFC ACME drafts and Let's Encrypt's Boulder; acme 5.x accepts them in with_code.
    "dnssec": "The server could not validate a DNSSEC signed domain",
    "invalidEmail": "The provided email for a registration was invalid",
    "unknownHost": "The server could not resolve a domain name",
    # RFC 9773 section 7.4
    "alreadyReplaced": (
        "The request specified a predecessor certificate that has already been marked as replaced"
    ),
    # draft-ietf-acme-profiles section 6.3
    "invalidProfile": "The request specified a profile which this server does not support",
}

#: Full error type URN (current and pre-RFC prefixes) to description.
ERROR_TYPE_DESCRIPTIONS: dict[str, str] = {
    **{ERROR_PREFIX + code: desc for code, desc in ERROR_CODES.items()},
    **{OLD_ERROR_PREFIX + code: desc for code, desc in ERROR_CODES.items()},
}

_MAX_STR = 1000  # str(Error) never exceeds this, whatever the server sent
_MAX_PART = 400  # nor does any one server-provided part of it
_MAX_SUBPROBLEMS = 5  # shown in str(Error); the rest are counted


def _clean(text: str, limit: int = _MAX_PART) -> str:
    """Server text made safe for one log line: control characters escaped, length capped."""
    safe = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def _retry_after(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime.datetime) or value.utcoffset() is None:
        raise errors.InvalidArgument(
            f"retry_after must be an aware datetime or None, not {value!r}"
        )
    return value.astimezone(datetime.timezone.utc)


class Error(JSONObject, errors.Error):
    """An RFC 7807 problem document, which is also the exception raised for it.

    JSON fields: ``typ`` (``type``, default ``about:blank``), ``title``, ``detail``,
    ``identifier`` (only in subproblems, RFC 8555 section 6.7.1), ``subproblems`` (tuple of
    `Error`) and ``instance`` (the URL a human must visit for ``userActionRequired``, RFC 8555
    section 7.3.3). Other members (RFC 7807 ``status``, extension members such as
    ``algorithms`` of ``badSignatureAlgorithm``) are kept and re-serialized.

    Not JSON: ``http_status`` (the response's status code) and ``retry_after`` (its
    ``Retry-After`` as an aware UTC datetime); the client records them with
    ``error.update(http_status=..., retry_after=...)``. Like every message, an `Error` is
    immutable and hashable.

    :ivar typ: the problem type URI, e.g. ``urn:ietf:params:acme:error:badNonce`` (`code` is its
        last part)
    :ivar title: a short summary of the problem type
    :ivar detail: the server's explanation of this occurrence
    :ivar identifier: the `Identifier` a subproblem is about (section 6.7.1)
    :ivar subproblems: a tuple of `Error`, one per identifier at fault (section 6.7.1)
    :ivar instance: a URL for a human to visit, for ``userActionRequired`` (section 7.3.3)
    """

    __slots__ = ("_extra", "http_status", "retry_after")
    _slot_defaults: ClassVar[dict[str, Any]] = {
        "_extra": jose_util.frozendict({}),
        "http_status": None,
        "retry_after": None,
    }
    _keep_unknown: ClassVar[bool] = True

    typ: str = optional("type", string)
    title: str | None = optional("title", string)
    detail: str | None = optional("detail", string)
    identifier: Identifier | None = optional("identifier", Identifier.from_json)
    subproblems: tuple[Error, ...] = array("subproblems", lambda item: Error.from_json(item))
    instance: str | None = optional("instance", string)

    _extra: Any
    http_status: int | None
    retry_after: datetime.datetime | None

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("typ") is None:
            kwargs["typ"] = "about:blank"  # RFC 7807 section 4.2
        kwargs["retry_after"] = _retry_after(kwargs.get("retry_after"))
        super().__init__(**kwargs)

    @classmethod
    def with_code(cls, code: str, **kwargs: Any) -> Error:
        """An error of the registered ACME type ``code`` (e.g. ``"malformed"``).

        :raises ValueError: if ``code`` is not in `ERROR_CODES`.
        """
        if code not in ERROR_CODES:
            raise errors.InvalidArgument(
                f"The supplied code: {code!r} is not a known ACME error code"
            )
        return cls(typ=ERROR_PREFIX + code, **kwargs)

    @property
    def code(self) -> str | None:
        """The short ACME error code (``typ`` without its URN prefix), or None if not ACME."""
        for prefix in (ERROR_PREFIX, OLD_ERROR_PREFIX):
            if self.typ.startswith(prefix) and len(self.typ) > len(prefix):
                return self.typ[len(prefix) :]
        return None

    @property
    def description(self) -> str | None:
        """The registry description of ``typ``, or None for an unregistered type."""
        return ERROR_TYPE_DESCRIPTIONS.get(self.typ)

    def __setattr__(self, name: str, value: Any) -> None:
        # Raising sets __traceback__ etc. in C, but add_note() (used by pytest and hypothesis)
        # goes through setattr; let dunder bookkeeping through, keep the fields immutable.
        if name.startswith("__") and name.endswith("__"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __str__(self) -> str:
        parts = [self.typ, self.description, self.detail, self.title]
        text = " :: ".join(_clean(part) for part in parts if part)
        if self.identifier is not None:  # acme 5.x's wording for a subproblem's line
            text = f"Problem for {_clean(self.identifier.value, 255)}: {text}"
        if self.instance:
            text += f" (see {_clean(self.instance, 255)})"
        for sub in self.subproblems[:_MAX_SUBPROBLEMS]:  # one line each (RFC 8555 6.7.1)
            text += "\n" + _clean(str(sub), _MAX_STR)
        hidden = len(self.subproblems) - _MAX_SUBPROBLEMS
        if hidden > 0:
            text += f"\n... and {hidden} more subproblem(s)"
        return text if len(text) <= _MAX_STR else text[: _MAX_STR - 3] + "..."


def is_acme_error(err: object) -> bool:
    """True if ``err`` is an `Error` whose type is in the ACME URN namespace."""
    if isinstance(err, Error):
        return err.typ.startswith((ERROR_PREFIX, OLD_ERROR_PREFIX))
    return False
