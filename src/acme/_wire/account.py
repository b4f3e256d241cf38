"""Accounts (RFC 8555 sections 7.1.2 and 7.3) and external account binding (section 7.3.4)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from josepy import b64, interfaces, jwa, jwk

from acme import errors, jws
from acme._wire.base import (
    ResourceBody,
    ResourceWithURI,
    array,
    boolean,
    freeze,
    json_object,
    optional,
    required,
    string,
    thaw,
)
from acme._wire.constants import Status

__all__ = [
    "ExternalAccountBinding",
    "NewRegistration",
    "Registration",
    "RegistrationResource",
    "UpdateRegistration",
]

R = TypeVar("R", bound="Registration")


def _public_jwk(key: Any) -> Any:
    """Serialize only the public half of a key: a private JWK must never reach the server."""
    return key.public_key()


def _frozen_jws(value: Any) -> Any:
    """An external account binding as given (JWS object or its JSON), frozen."""
    if isinstance(value, interfaces.JSONDeSerializable):
        value = value.to_json()
    return freeze(value) if isinstance(value, Mapping) else value


class Registration(ResourceBody):
    """ACME account object (RFC 8555 section 7.1.2), also the newAccount payload (7.3).

    ``contact`` given explicitly, even empty, is serialized (``"contact": []`` clears the
    account's contacts); left out, it is omitted. ``key`` is always serialized as the public key.

    :ivar key: the account's public key (a josepy JWK)
    :ivar contact: contact URLs, ``mailto:`` (and ``tel:`` where a CA takes them), a tuple
    :ivar agreement: the terms of service URL agreed to (ACMEv1, acme 1.x)
    :ivar status: a `Status`: valid, deactivated or revoked (section 7.1.6)
    :ivar terms_of_service_agreed: True to agree to the CA's terms of service (section 7.3)
    :ivar only_return_existing: True to look up the key's account instead of creating one (section
        7.3.1)
    :ivar external_account_binding: the JWS made by `ExternalAccountBinding.from_data` (section
        7.3.4)
    :ivar orders: the URL of the account's orders list (section 7.1.2.1)
    """

    __slots__ = ("_add_contact",)
    _slot_defaults: ClassVar[dict[str, Any]] = {"_add_contact": False}

    key: jwk.JWK | None = optional("key", jwk.JWK.from_json, _public_jwk)
    contact: tuple[str, ...] = array("contact", string)
    agreement: str | None = optional("agreement", string)  # ACMEv1
    status: Status | None = optional("status", Status.from_json)
    terms_of_service_agreed: bool | None = optional("termsOfServiceAgreed", boolean)
    only_return_existing: bool | None = optional("onlyReturnExisting", boolean)
    external_account_binding: Any = optional("externalAccountBinding", json_object, thaw)
    orders: str | None = optional("orders", string)  # RFC 8555 section 7.1.2.1

    _add_contact: bool

    phone_prefix: ClassVar[str] = "tel:"
    email_prefix: ClassVar[str] = "mailto:"

    def __init__(self, **kwargs: Any) -> None:
        if "contact" in kwargs:
            kwargs.setdefault("_add_contact", True)
            kwargs["contact"] = tuple(kwargs["contact"])
        if kwargs.get("external_account_binding") is not None:
            kwargs["external_account_binding"] = _frozen_jws(kwargs["external_account_binding"])
        super().__init__(**kwargs)

    @classmethod
    def _from_mapping(cls, jobj: Mapping[str, Any]) -> Any:
        fields = cls.fields_from_json(jobj)
        fields["_add_contact"] = "contact" in jobj
        return cls(**fields)

    @classmethod
    def from_data(
        cls: type[R],
        phone: str | None = None,
        email: str | Iterable[str] | None = None,
        external_account_binding: Any = None,
        **kwargs: Any,
    ) -> R:
        """A registration whose ``contact`` holds ``tel:`` and ``mailto:`` URLs.

        ``email`` may be one address, a comma separated string of them, or an iterable.
        ``contact`` is always set (empty if no details were given), as 1.x did.
        """
        details = list(kwargs.pop("contact", ()))
        if phone is not None:
            details.append(cls.phone_prefix + phone)
        if email is not None:
            addresses = email.split(",") if isinstance(email, str) else email
            details.extend(cls.email_prefix + a.strip() for a in addresses if a.strip())
        kwargs["contact"] = tuple(details)
        if external_account_binding:
            kwargs["external_account_binding"] = external_account_binding
        return cls(**kwargs)

    def fields_to_partial_json(self) -> dict[str, Any]:
        """The fields, ``contact`` included when it was given (even empty)."""
        jobj = super().fields_to_partial_json()
        if self._add_contact and "contact" not in jobj:
            jobj["contact"] = ()
        return jobj

    def _filter_contact(self, prefix: str) -> tuple[str, ...]:
        return tuple(c[len(prefix) :] for c in self.contact if c.startswith(prefix))

    @property
    def phones(self) -> tuple[str, ...]:
        """All phone numbers in ``contact`` (``tel:`` stripped)."""
        return self._filter_contact(self.phone_prefix)

    @property
    def emails(self) -> tuple[str, ...]:
        """All e-mail addresses in ``contact`` (``mailto:`` stripped)."""
        return self._filter_contact(self.email_prefix)


class NewRegistration(Registration):
    """newAccount request payload (RFC 8555 section 7.3)."""


class UpdateRegistration(Registration):
    """Account update request payload (RFC 8555 sections 7.3.2 and 7.3.6)."""


class RegistrationResource(ResourceWithURI):
    """An account: its object, URL and the terms of service URL in force.

    :ivar body: the `Registration`
    :ivar terms_of_service: the URL of the terms of service in force, if the CA has any
    :ivar new_authzr_uri: kept from acme 1.x (ACMEv1's new-authz URL, found in old account
        files); nothing in ACME v2 uses it
    """

    body: Registration = required("body", Registration.from_json)
    new_authzr_uri: str | None = optional("new_authzr_uri", string)
    terms_of_service: str | None = optional("terms_of_service", string)


# RFC 8555 section 7.3.4: "The "alg" field MUST indicate a MAC-based algorithm".
_HMAC_ALGS = {"HS256": jwa.HS256, "HS384": jwa.HS384, "HS512": jwa.HS512}
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}\Z")


class ExternalAccountBinding:
    """External account binding (RFC 8555 section 7.3.4)."""

    @classmethod
    def from_data(
        cls,
        account_public_key: jwk.JWK,
        kid: str,
        hmac_key: str,
        directory: Mapping[str, Any],
        hmac_alg: str = "HS256",
    ) -> dict[str, Any]:
        """The ``externalAccountBinding`` value: a JWS (as JSON) binding the account key.

        Its protected header is ``{alg, kid, url}`` (no ``nonce``, no ``jwk``), ``url`` being the
        directory's ``newAccount``; its payload is the account's public JWK; it is MAC'd with
        the base64url-decoded ``hmac_key``.

        :raises ValueError: (an `acme.errors.Error` too) for a key that is not base64url, an
            unknown ``hmac_alg``, or a directory without ``newAccount``.
        """
        alg = _HMAC_ALGS.get(getattr(hmac_alg, "name", hmac_alg))
        if alg is None:
            raise errors.InvalidArgument(  # "Invalid value for hmac_alg": acme 5.x's words
                f"Invalid value for hmac_alg: {hmac_alg!r} is not an EAB MAC algorithm; "
                f"use one of {', '.join(_HMAC_ALGS)}"
            )
        if isinstance(hmac_key, bytes):
            hmac_key = hmac_key.decode("ascii", errors="replace")
        if not isinstance(hmac_key, str) or not _BASE64URL.match(hmac_key.strip()):
            raise errors.InvalidArgument(
                "The EAB HMAC key must be base64url encoded (RFC 8555 section 7.3.4), "
                "as the CA provided it"
            )
        if not isinstance(account_public_key, jwk.JWK) or isinstance(
            account_public_key, jwk.JWKOct
        ):
            raise errors.InvalidArgument("account_public_key must be the account's asymmetric JWK")
        if not isinstance(kid, str) or not kid:
            raise errors.InvalidArgument("The EAB key identifier (kid) must be a non-empty string")
        try:
            url = directory["newAccount"]
        except KeyError:
            raise errors.InvalidArgument("The directory has no newAccount URL") from None
        mac_key = jwk.JWKOct(key=b64.b64decode(hmac_key.strip()))
        payload = account_public_key.public_key().json_dumps().encode()
        binding = jws.JWS.sign(payload, key=mac_key, alg=alg, nonce=None, url=url, kid=kid)
        jobj: dict[str, Any] = binding.to_partial_json()
        return jobj
