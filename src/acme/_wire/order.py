"""Orders, finalization, certificates, revocation and renewal information.

RFC 8555 sections 7.1.3, 7.4 and 7.6; RFC 9773 (ARI); draft-ietf-acme-profiles.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cryptography import x509
from josepy import errors as jose_errors
from josepy import json_util

from acme import errors, fields
from acme._wire.authz import AuthorizationResource
from acme._wire.base import (
    JSONObject,
    ResourceBody,
    ResourceWithURI,
    array,
    array_of,
    integer,
    optional,
    required,
    string,
)
from acme._wire.coercion import from_legacy
from acme._wire.constants import Identifier, Status
from acme._wire.problem import Error

__all__ = [
    "REVOCATION_REASONS",
    "CertificateRequest",
    "CertificateResource",
    "NewOrder",
    "Order",
    "OrderResource",
    "RenewalInfo",
    "Revocation",
]


def _decode_der(loader: Any, what: str) -> Any:
    """A decoder of base64url DER (RFC 8555 sections 7.4 and 7.6: no PEM armour)."""

    def decode(value: Any) -> Any:
        der = json_util.decode_b64jose(string(value))
        try:
            return loader(der)
        except ValueError as error:
            raise jose_errors.DeserializationError(f"invalid {what}: {error}") from None

    return decode


class Order(ResourceBody):
    """Order object (RFC 8555 section 7.1.3), also the newOrder payload (section 7.4).

    ``replaces`` is the ARI certificate identifier of the certificate this order renews
    (RFC 9773 section 5); ``profile`` a profile name the directory advertises (profiles draft
    section 4).

    :ivar identifiers: the `Identifier` objects the certificate is for
    :ivar status: a `Status`: pending, ready, processing, valid or invalid (section 7.1.6)
    :ivar authorizations: the URLs of its authorizations, one per identifier
    :ivar certificate: the URL to download the certificate chain from, once valid (section 7.4.2)
    :ivar finalize: the URL to POST the CSR to once every authorization is valid (section 7.4)
    :ivar expires: when the server gives up on the order (aware UTC datetime)
    :ivar error: the `Error` that made the order invalid, if it did
    :ivar profile: the certificate profile asked for or applied (profiles draft)
    :ivar replaces: the ARI identifier of the certificate it renews (RFC 9773 section 5)
    :ivar not_before: the requested start of validity (aware UTC datetime; few CAs honour it)
    :ivar not_after: the requested end of validity (aware UTC datetime; few CAs honour it)
    """

    identifiers: tuple[Identifier, ...] = array("identifiers", Identifier.from_json)
    status: Status | None = optional("status", Status.from_json)
    authorizations: tuple[str, ...] = array("authorizations", string)
    certificate: str | None = optional("certificate", string)
    finalize: str = optional("finalize", string)  # required in orders; absent in newOrder
    expires: datetime.datetime | None = fields.rfc3339("expires", omitempty=True)
    error: Error | None = optional("error", Error.from_json)
    profile: str | None = optional("profile", string)
    replaces: str | None = optional("replaces", string)
    not_before: datetime.datetime | None = fields.rfc3339("notBefore", omitempty=True)
    not_after: datetime.datetime | None = fields.rfc3339("notAfter", omitempty=True)


class NewOrder(Order):
    """newOrder request payload (RFC 8555 section 7.4)."""


def _decode_pem_bytes(value: Any) -> bytes:
    return string(value).encode("utf-8")


def _encode_pem_bytes(value: bytes) -> str:
    return value.decode("utf-8")


_decode_authzrs = array_of(AuthorizationResource.from_json)


def _decode_fetched_authzrs(value: Any) -> list[AuthorizationResource] | None:
    """``null`` (none fetched yet, as acme 5.x writes it) or an array of authorizations."""
    return None if value is None else list(_decode_authzrs(value))


def _encode_fetched_authzrs(value: Any) -> list[Any] | None:
    return None if value is None else list(value)


class _AlwaysWritten(json_util.Field):
    """Optional on input (absent means the default), but always in the output, null too."""

    __slots__ = ()

    def omit(self, value: Any) -> bool:
        return False


def _fetched_authorizations() -> Any:
    """The ``authorizations`` field of `OrderResource` (typed ``Any``, as the other fields)."""
    return _AlwaysWritten(
        "authorizations",
        default=None,
        omitempty=True,
        decoder=_decode_fetched_authzrs,
        encoder=_encode_fetched_authzrs,
    )


class OrderResource(ResourceWithURI):
    """An order with what the client gathered for it.

    ``csr_pem`` (bytes) the CSR it will be finalized with; ``authorizations`` the fetched
    `AuthorizationResource` objects; ``fullchain_pem`` and ``alternative_fullchains_pem`` the
    downloaded certificate chains (RFC 8555 section 7.4.2).

    :ivar body: the `Order`
    :ivar csr_pem: the PEM CSR it will be finalized with (bytes)
    :ivar authorizations: the fetched `AuthorizationResource` objects (a list), or None before
        they are fetched (JSON ``null``, as in acme 5.x)
    :ivar fullchain_pem: the downloaded certificate and chain (PEM text), once issued
    :ivar alternative_fullchains_pem: the alternate chains (``Link: rel="alternate"``), if asked for
    """

    _list_fields = frozenset({"authorizations", "alternative_fullchains_pem"})

    body: Order = required("body", Order.from_json)
    csr_pem: bytes | None = optional("csr_pem", _decode_pem_bytes, _encode_pem_bytes)
    # Always in the JSON, null until fetched: acme 5.x writes it so, and requires it to read.
    # Typed as acme 5.x types it: every order the client returns has them fetched; only an
    # order built by hand or read from old JSON holds None.
    authorizations: list[AuthorizationResource] = _fetched_authorizations()
    fullchain_pem: str | None = optional("fullchain_pem", string)
    alternative_fullchains_pem: list[str] = array("alternative_fullchains_pem", string)

    def __init__(self, **kwargs: Any) -> None:
        if isinstance(kwargs.get("csr_pem"), str):
            kwargs["csr_pem"] = kwargs["csr_pem"].encode("utf-8")
        super().__init__(**kwargs)

    def __hash__(self) -> int:
        # The list fields (see _list_fields) hash as tuples, so the resource stays hashable.
        return hash(
            tuple(
                tuple(value) if isinstance(value, list) else value
                for value in (getattr(self, slot) for slot in self.__slots__)
            )
        )


class CertificateRequest(JSONObject):
    """finalize request payload (RFC 8555 section 7.4): ``csr`` as base64url DER.

    ``csr`` is a ``cryptography`` ``CertificateSigningRequest``; a pyOpenSSL ``X509Req`` is
    converted.

    :ivar csr: the ``cryptography`` CSR (base64url DER in JSON)
    """

    csr: x509.CertificateSigningRequest = required(
        "csr", _decode_der(x509.load_der_x509_csr, "CSR"), json_util.encode_csr
    )

    def __init__(self, **kwargs: Any) -> None:
        if "csr" in kwargs:
            kwargs["csr"] = from_legacy(kwargs["csr"])
        super().__init__(**kwargs)


class CertificateResource(ResourceWithURI):
    """An issued certificate (``body``, a ``cryptography`` certificate) with related URLs.

    :ivar body: the ``cryptography`` certificate
    :ivar cert_chain_uri: the URL of the issuer's chain, if known (acme 1.x)
    :ivar authzrs: the `AuthorizationResource` objects it was issued under
    """

    body: x509.Certificate = required(
        "body", _decode_der(x509.load_der_x509_certificate, "certificate"), json_util.encode_cert
    )
    cert_chain_uri: str | None = optional("cert_chain_uri", string)
    authzrs: tuple[AuthorizationResource, ...] = array("authzrs", AuthorizationResource.from_json)

    def __init__(self, **kwargs: Any) -> None:
        if "body" in kwargs:
            kwargs["body"] = from_legacy(kwargs["body"])
        super().__init__(**kwargs)


#: The RFC 5280 section 5.3.1 reason codes a subscriber may give in a revocation request
#: (RFC 8555 section 7.6), by name. The codes only a CA uses (cACompromise, certificateHold,
#: removeFromCRL, privilegeWithdrawn, aACompromise) are left out: CAs refuse them.
REVOCATION_REASONS: Mapping[str, int] = MappingProxyType(
    {
        "unspecified": 0,
        "keyCompromise": 1,
        "affiliationChanged": 3,
        "superseded": 4,
        "cessationOfOperation": 5,
    }
)


class Revocation(JSONObject):
    """revokeCert request payload (RFC 8555 section 7.6).

    ``certificate`` (base64url DER in JSON) and the optional RFC 5280 section 5.3.1
    ``reason`` code (see `REVOCATION_REASONS` for those a subscriber may use).

    :ivar certificate: the ``cryptography`` certificate to revoke
    :ivar reason: the RFC 5280 section 5.3.1 reason code, or None (unspecified)
    """

    certificate: x509.Certificate = required(
        "certificate",
        _decode_der(x509.load_der_x509_certificate, "certificate"),
        json_util.encode_cert,
    )
    reason: int | None = optional("reason", integer)

    def __init__(self, **kwargs: Any) -> None:
        if "certificate" in kwargs:
            kwargs["certificate"] = from_legacy(kwargs["certificate"])
        super().__init__(**kwargs)


def _check_window(start: Any, end: Any) -> str | None:
    """Why ``start``/``end`` is not a valid window, or None (RFC 9773 section 4.2)."""
    try:
        if end <= start:
            return f"end ({end}) must be after start ({start})"
    except TypeError:
        return "start and end must both be aware datetimes"
    return None


class RenewalInfo(ResourceBody):
    """RenewalInfo object (RFC 9773 section 4.2).

    ``suggested_window`` (with aware UTC ``start`` and ``end``) and ``explanation_url``. A
    window whose end is not after its start is invalid and refused.

    :ivar suggested_window: the `RenewalInfo.SuggestedWindow` (aware UTC ``start`` and ``end``)
    :ivar explanation_url: a page explaining the window, e.g. why it moved (optional)
    """

    class SuggestedWindow(JSONObject):
        """The window in which the CA suggests renewing."""

        start: datetime.datetime = fields.rfc3339("start")
        end: datetime.datetime = fields.rfc3339("end")

        def __init__(self, **kwargs: Any) -> None:
            problem = _check_window(kwargs.get("start"), kwargs.get("end"))
            if problem is not None:
                raise errors.InvalidArgument(f"Invalid renewal window: {problem}")
            super().__init__(**kwargs)

        @classmethod
        def _from_mapping(cls, jobj: Mapping[str, Any]) -> Any:
            decoded = cls.fields_from_json(jobj)
            problem = _check_window(decoded["start"], decoded["end"])
            if problem is not None:
                raise jose_errors.DeserializationError(
                    f"{cls.__qualname__}: {problem} (RFC 9773 section 4.2)"
                )
            return cls(**decoded)

    suggested_window: SuggestedWindow = required("suggestedWindow", SuggestedWindow.from_json)
    explanation_url: str | None = optional("explanationURL", string)
