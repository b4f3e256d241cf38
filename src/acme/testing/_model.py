"""The test server's records (accounts, orders, authorizations, challenges, certificates).

Records are plain mutable dataclasses owned by one `ACMEServerCore`; ``to_json`` renders the
RFC 8555 section 7.1 objects. Status changes go through `move`, which checks every step
against the one transition table of `acme._core.states`.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import re
from typing import Any

from cryptography import x509
from josepy import jwk

from acme._core import states
from acme._core.http import Headers
from acme.fields import format_rfc3339
from acme.testing._problems import Problem

__all__ = [
    "Account",
    "Authorization",
    "Challenge",
    "IssuedCertificate",
    "Order",
    "SignedRequest",
    "check_identifier",
    "move",
]


def move(kind: str, record: Any, new: str) -> None:
    """Change ``record.status`` along one edge of RFC 8555 section 7.1.6, or fail loudly."""
    if not states.is_allowed(kind, record.status, new):
        raise RuntimeError(f"test server bug: {kind} {record.status} -> {new} is not allowed")
    record.status = new


@dataclasses.dataclass
class SignedRequest:
    """A POST whose JWS verified: who sent it and what it carries."""

    url: str
    resource: str
    params: tuple[str, ...]
    headers: Headers
    protected: dict[str, Any]
    payload: bytes
    key: jwk.JWK
    account: Account | None

    def require_empty(self) -> None:
        """POST-as-GET: the payload must be the empty string (RFC 8555 section 6.3)."""
        if self.payload != b"":
            raise Problem("malformed", "POST-as-GET requests must have an empty payload")

    def json_object(self) -> dict[str, Any]:
        """The payload as a JSON object (every non-fetch request carries one)."""
        if self.payload == b"":
            raise Problem("malformed", "This request needs a JSON object payload, not POST-as-GET")
        try:
            obj = json.loads(self.payload)
        except ValueError:
            raise Problem("malformed", "The JWS payload is not JSON") from None
        if not isinstance(obj, dict):
            raise Problem("malformed", "The JWS payload must be a JSON object")
        return obj

    @property
    def account_required(self) -> Account:
        if self.account is None:
            raise Problem("malformed", 'This request must be signed with an account "kid"')
        return self.account


@dataclasses.dataclass
class Account:
    id: str
    url: str
    key: jwk.JWK
    status: str = "valid"
    contact: list[str] = dataclasses.field(default_factory=list)
    terms_agreed: bool = False
    eab: dict[str, Any] | None = None
    order_ids: list[str] = dataclasses.field(default_factory=list)
    #: Keys rolled over from, newest first: dns-persist-01 records made with them still
    #: validate (draft-ietf-acme-dns-persist section 4.2).
    prior_keys: list[jwk.JWK] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "status": self.status,
            "contact": list(self.contact),
            "orders": f"{self.url}/orders",
            "key": self.key.public_key().to_partial_json(),
        }
        if self.terms_agreed:
            obj["termsOfServiceAgreed"] = True
        if self.eab is not None:
            obj["externalAccountBinding"] = self.eab
        return obj


@dataclasses.dataclass
class Challenge:
    id: str
    url: str
    type: str
    token: str
    status: str = "pending"
    validated: datetime.datetime | None = None
    error: dict[str, Any] | None = None
    key_authorization: str | None = None
    polls_left: int = 0
    #: dns-persist-01 only (draft-ietf-acme-dns-persist section 3.1); it has no token.
    issuer_domain_names: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"type": self.type, "url": self.url, "status": self.status}
        if self.token:
            obj["token"] = self.token
        if self.issuer_domain_names is not None:
            obj["issuerDomainNames"] = list(self.issuer_domain_names)
        if self.validated is not None:
            obj["validated"] = format_rfc3339(self.validated)
        if self.error is not None:
            obj["error"] = self.error
        return obj


@dataclasses.dataclass
class Authorization:
    id: str
    url: str
    account_id: str
    type: str
    value: str
    wildcard: bool
    expires: datetime.datetime
    challenges: list[Challenge]
    status: str = "pending"

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "identifier": {"type": self.type, "value": self.value},
            "status": self.status,
            "expires": format_rfc3339(self.expires),
            "challenges": [chall.to_json() for chall in self.challenges],
        }
        if self.wildcard:  # RFC 8555 section 7.1.4: present only for wildcard names
            obj["wildcard"] = True
        return obj


@dataclasses.dataclass
class Order:
    id: str
    url: str
    account_id: str
    identifiers: list[tuple[str, str]]
    authz_ids: list[str]
    expires: datetime.datetime
    profile: str | None = None
    replaces: str | None = None
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    status: str = "pending"
    error: dict[str, Any] | None = None
    csr: x509.CertificateSigningRequest | None = None
    cert_id: str | None = None
    polls_left: int = 0

    def to_json(self, authz_urls: list[str], cert_url: str | None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "status": self.status,
            "expires": format_rfc3339(self.expires),
            "identifiers": [{"type": typ, "value": value} for typ, value in self.identifiers],
            "authorizations": authz_urls,
            "finalize": f"{self.url}/finalize",
        }
        optional = {
            "profile": self.profile,
            "replaces": self.replaces,
            "notBefore": self.not_before and format_rfc3339(self.not_before),
            "notAfter": self.not_after and format_rfc3339(self.not_after),
            "error": self.error,
            "certificate": cert_url,
        }
        obj.update({name: value for name, value in optional.items() if value is not None})
        return obj


@dataclasses.dataclass
class IssuedCertificate:
    id: str
    url: str
    account_id: str
    order_id: str
    certificate: x509.Certificate
    chains: list[str]
    ari_id: str
    identifiers: list[tuple[str, str]]
    revoked_reason: int | None = None
    revoked: bool = False
    replaced_by: str | None = None
    window: tuple[datetime.datetime, datetime.datetime] | None = None


# RFC 1035 section 2.3.1 letter-digit-hyphen labels (lower case: names as in certificates).
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_DOTTED_NUMBERS = re.compile(r"[0-9]+(?:\.[0-9]+){3}\Z")


def _is_address_text(value: str) -> bool:
    """Whether ``value`` is written as an IP address: never a DNS name (RFC 1123 section 2.1:
    a host name is never dotted-decimal; an IPv6 address has colons no name can hold)."""
    if _DOTTED_NUMBERS.match(value) or ":" in value:
        return True
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _check_dns_name(value: str, whole: str) -> None:
    """A ``dns`` identifier's name ``value``: ``whole`` without its wildcard prefix (RFC 8555
    section 7.1.4); refusals quote ``whole``."""
    shown = f"dns identifier {whole[:80]!r}"
    if _is_address_text(value):  # RFC 8738 section 3: addresses are "ip" identifiers
        raise Problem(
            "malformed",
            f'{shown} is an IP address; use {{"type": "ip", "value": ...}} (RFC 8738 section 3)',
        )
    if len(value) > 253 or not value:
        raise Problem("rejectedIdentifier", f"{shown} is not a valid DNS name")
    for label in value.split("."):
        if not _LABEL.match(label):
            raise Problem(
                "rejectedIdentifier", f"{shown} is not a lower-case letter-digit-hyphen DNS name"
            )
        if label.startswith("xn--"):  # RFC 8555 section 7.1.4: check ACE labels
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise Problem(
                    "rejectedIdentifier", f"{shown}: {label!r} is not a valid IDNA label"
                ) from None


def check_identifier(obj: Any, *, allow_wildcard: bool) -> tuple[str, str]:
    """Validate an identifier object (RFC 8555 section 7.1.4, RFC 8738 section 3).

    Every refusal names the identifier type, so ``dns`` "127.0.0.1" reads as what it is.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("value"), str):
        raise Problem("malformed", 'Identifiers are objects with string "type" and "value"')
    typ, value = obj.get("type"), obj["value"]
    if typ == "dns":
        wildcard = value.startswith("*.")  # RFC 8555 section 7.1.3: "*." and a domain name
        base = value[2:] if wildcard else value
        if wildcard and not allow_wildcard:
            raise Problem(
                "rejectedIdentifier",
                f"dns identifier {value[:80]!r}: pre-authorization cannot be used for wildcard "
                "names (RFC 8555 section 7.4.1)",
            )
        _check_dns_name(base, value)
        return typ, value
    if typ == "ip":
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            shown = f"ip identifier {value[:80]!r}"
            raise Problem("malformed", f"{shown} is not an IP address") from None
        if str(address) != value:  # RFC 8738 section 3: RFC 1123 / RFC 5952 textual form
            raise Problem(
                "malformed", f"ip identifier {value!r} is not in canonical form ({address})"
            )
        return typ, value
    raise Problem(
        "unsupportedIdentifier",
        f"identifier type {str(typ)[:40]!r} is not supported (only dns and ip)",
    )
