"""The draft DNS challenges: dns-account-01 and dns-persist-01.

Public through `acme.challenges` (``DNSAccount01``, ``DNSPersist01`` and their responses,
``DNSPersist01Record``); kept apart so the RFC challenges stay readable.

- dns-account-01, draft-ietf-acme-dns-account-label-03 section 3: dns-01's TXT value under a
  name that carries a label derived from the account URL, so several accounts (clients) can
  validate one name side by side.
- dns-persist-01, draft-ietf-acme-dns-persist-02: one long-lived TXT record at
  ``_validation-persist.<name>`` naming the CA (an issuer domain name) and the account (a
  hashed account URI). The record is built once, published once, and from then on only read:
  it does not change per order, so a client checks it and never deletes it after validation.

  After an account key rollover (RFC 8555 section 7.3.5) the account URL stays, but the
  hashed account URI changes, because the key's thumbprint is an input (draft section 7.2.1).
  The CA keeps accepting records made with the old key while it retains that key (section
  4.2), yet clients SHOULD republish each ``_validation-persist`` record, recomputed with the
  new key (same issuer domain name, policy and persistUntil), then remove the old value.
  dns-account-01 labels depend on the account URL only and survive a rollover unchanged.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from josepy import errors as jose_errors
from josepy import json_util, jwk

from acme import errors
from acme._wire.challenge_base import (
    Challenge,
    ChallengeResponse,
    KeyAuthorizationChallenge,
    KeyAuthorizationChallengeResponse,
    _require_jwk,
    _require_mapping,
)
from acme._wire.timestamps import utcnow

__all__ = [
    "DNSAccount01",
    "DNSAccount01Response",
    "DNSPersist01",
    "DNSPersist01Record",
    "DNSPersist01Response",
    "PersistVerdict",
    "evaluate_persist_records",
    "normalize_domain",
]

# RFC 1035 section 2.3.1 letter-digit-hyphen label, as RFC 8659 section 4.2 writes it.
_LDH_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")
# RFC 8659 section 4.2: tag = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)),
# value = *(%x21-3A / %x3C-7E): visible characters except ";".
_TAG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")
_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]*\Z")
_WSP = " \t"
_DIGITS = re.compile(r"[0-9]+\Z")
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}\Z")  # unpadded base64url of 32 octets


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _thumbprint_text(account_key: jwk.JWK | str) -> str:
    """The 43-octet base64url SHA-256 JWK thumbprint (RFC 7638), as in a key authorization."""
    if isinstance(account_key, str):
        if not _THUMBPRINT.match(account_key):
            raise errors.Error(f"Not a base64url SHA-256 JWK thumbprint: {account_key!r:.80}")
        return account_key
    from cryptography.hazmat.primitives import hashes

    return _b64(_require_jwk(account_key).thumbprint(hash_function=hashes.SHA256))


def _require_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise errors.Error(f"{what} must be a non-empty string, got {value!r:.100}")
    return value


def _base_name(name: Any) -> str:
    """A domain name without a wildcard prefix: ``*.example.org`` is validated on
    ``example.org`` (RFC 8555 section 7.1.3; dns-persist section 6.1)."""
    text = _require_text(name, "A domain name")
    return text[2:] if text.startswith("*.") else text


def normalize_domain(name: str) -> str:
    """dns-persist section 9.2: case-fold, NFC, A-labels (IDNA), no trailing dot."""
    name = _require_text(name, "A domain name")
    folded = unicodedata.normalize("NFC", name.casefold()).rstrip(".")
    labels = []
    for label in folded.split("."):
        if not label:
            raise errors.Error(f"Empty label in domain name {name!r:.100}")
        try:
            labels.append(label if label.isascii() else label.encode("idna").decode("ascii"))
        except UnicodeError as error:
            raise errors.Error(f"Cannot convert {label!r:.80} to an A-label: {error}") from None
    return ".".join(labels)


# -- dns-account-01 -------------------------------------------------------------------------


@ChallengeResponse.register
class DNSAccount01Response(KeyAuthorizationChallengeResponse):
    """dns-account-01 response: ``{}`` (draft-ietf-acme-dns-account-label section 3.2)."""

    typ = "dns-account-01"


@Challenge.register
class DNSAccount01(KeyAuthorizationChallenge):
    """dns-account-01: dns-01's TXT value under an account-specific name
    (draft-ietf-acme-dns-account-label-03 section 3)."""

    typ = "dns-account-01"
    response_cls = DNSAccount01Response
    # Section 3.2: the second label prepended to the domain name.
    LABEL = "_acme-challenge"
    # Section 3.2: the first ten bytes of SHA-256(account URL), base32 (16 characters).
    ACCOUNT_LABEL_BYTES = 10

    def response(self, account_key: jwk.JWK) -> DNSAccount01Response:
        """The ``dns-account-01`` response (its JSON is ``{}``), holding the key authorization."""
        return DNSAccount01Response(key_authorization=self.key_authorization(account_key))

    @classmethod
    def account_label(cls, account_url: str) -> str:
        """``"_" || base32(SHA-256(account URL)[0:10])`` in lower case (section 3.2).

        The account URL is the ``Location`` of the account (RFC 8555 section 7.3), exactly
        as the server gave it: the label depends on the account, not on its key, so it
        survives a key rollover (section 4).
        """
        url = _require_text(account_url, "The account URL")
        digest = hashlib.sha256(url.encode("utf-8")).digest()[: cls.ACCOUNT_LABEL_BYTES]
        return "_" + base64.b32encode(digest).decode("ascii").lower()

    def validation_domain_name(self, name: str, account_url: str) -> str:
        """``_<account label>._acme-challenge.<name>`` (section 3.2); a wildcard is
        validated on its base name (RFC 8555 section 7.1.3)."""
        return f"{self.account_label(account_url)}.{self.LABEL}.{_base_name(name)}"

    def validation(self, account_key: jwk.JWK, **unused_kwargs: Any) -> str:
        """The TXT value: base64url(SHA-256(key authorization)), as for dns-01 (3.2)."""
        digest = hashlib.sha256(self.key_authorization(account_key).encode("ascii")).digest()
        return _b64(digest)


# -- dns-persist-01 -------------------------------------------------------------------------

# Section 3.1: at most 10 issuer domain names, each at most 253 octets.
_MAX_ISSUER_NAMES = 10
_MAX_NAME_OCTETS = 253


def _check_issuer_name(value: Any) -> str:
    """Section 3.1: a lower-case A-label domain name without a trailing dot."""
    if not isinstance(value, str) or not value:
        raise jose_errors.DeserializationError(
            f"An issuer domain name must be a non-empty string, got {value!r:.80}"
        )
    if not value.isascii() or len(value) > _MAX_NAME_OCTETS or value != value.lower():
        raise jose_errors.DeserializationError(
            f"Issuer domain name {value!r:.80} is not lower-case ASCII (A-labels) or is too long"
        )
    for label in value.split("."):
        if not _LDH_LABEL.match(label):
            raise jose_errors.DeserializationError(
                f"Issuer domain name {value!r:.80} is not a lower-case A-label name "
                "without a trailing dot (draft-ietf-acme-dns-persist section 3.1)"
            )
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise jose_errors.DeserializationError(
                    f"Issuer domain name label {label!r:.80} is not a valid A-label"
                ) from None
    return value


def _decode_issuer_names(value: Any) -> tuple[str, ...]:
    """Section 3.1: the client MUST reject an empty array or one of more than 10 names."""
    if not isinstance(value, list):
        raise jose_errors.DeserializationError(
            f"issuerDomainNames must be an array, got {type(value).__name__}"
        )
    if not 1 <= len(value) <= _MAX_ISSUER_NAMES:
        raise jose_errors.DeserializationError(
            f"issuerDomainNames must hold 1 to {_MAX_ISSUER_NAMES} names, got {len(value)}"
        )
    return tuple(_check_issuer_name(name) for name in value)


def _encode_issuer_names(value: Sequence[str]) -> list[str]:
    return list(value)


@dataclasses.dataclass(frozen=True)
class DNSPersist01Record:
    """One ``_validation-persist`` TXT value (draft-ietf-acme-dns-persist section 4.1).

    Its text is an RFC 8659 section 4.2 ``issue-value``: the issuer domain name, then
    ``; tag=value`` parameters: ``accounturi`` (required), ``policy`` and ``persistUntil``
    (optional); other parameters are kept in ``extra`` and ignored by CAs.
    """

    issuer_domain_name: str
    account_uri: str
    policy: str | None = None
    persist_until: datetime.datetime | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _check_record_issuer(self.issuer_domain_name)
        if not isinstance(self.account_uri, str) or not _VALUE.match(self.account_uri):
            raise errors.Error(f"Not a usable accounturi value: {self.account_uri!r:.100}")
        if self.policy is not None and not _VALUE.match(self.policy):
            raise errors.Error(f"Not a usable policy value: {self.policy!r:.100}")
        until = self.persist_until
        if until is not None and (until.tzinfo is None or until.utcoffset() is None):
            raise errors.Error("persist_until must be an aware datetime (UTC)")

    @property
    def wildcard(self) -> bool:
        """``policy=wildcard`` (compared case-insensitively, section 4.1 item 4)."""
        return self.policy is not None and self.policy.lower() == "wildcard"

    def to_text(self) -> str:
        """The TXT value, as the draft's examples write it (section 10)."""
        parts = [self.issuer_domain_name, f"accounturi={self.account_uri}"]
        if self.policy is not None:
            parts.append(f"policy={self.policy}")
        if self.persist_until is not None:
            # Section 4.1 item 5: a base-10 UNIX timestamp.
            parts.append(f"persistUntil={int(self.persist_until.timestamp())}")
        parts.extend(f"{tag}={value}" for tag, value in self.extra)
        return "; ".join(parts)

    @classmethod
    def from_text(cls, text: str) -> DNSPersist01Record:
        """Parse a TXT value; malformed records raise `acme.errors.Error` (section 9.3.1)."""
        if not isinstance(text, str):
            raise errors.Error(f"A TXT value must be a string, got {type(text).__name__}")
        head, _, rest = text.partition(";")
        issuer = head.strip(_WSP)
        params: dict[str, str] = {}
        order: list[tuple[str, str]] = []
        if rest.strip(_WSP):
            for item in rest.split(";"):
                tag, equals, value = item.strip(_WSP).partition("=")
                tag, value = tag.strip(_WSP), value.strip(_WSP)
                if not equals or not _TAG.match(tag) or not _VALUE.match(value):
                    raise errors.Error(f"Malformed parameter {item.strip()!r:.80} in {text!r:.200}")
                key = tag.lower()
                if key in params:
                    raise errors.Error(f"Duplicate parameter {tag!r} in {text!r:.200}")
                params[key] = value
                order.append((tag, value))
        if "accounturi" not in params:
            raise errors.Error(f"No accounturi parameter in {text!r:.200}")
        until = None
        if "persistuntil" in params:
            raw = params["persistuntil"]
            if not _DIGITS.match(raw):  # section 4.1 item 5: MUST be a base-10 integer
                raise errors.Error(f"persistUntil {raw!r:.40} is not a base-10 integer")
            try:
                until = datetime.datetime.fromtimestamp(int(raw), datetime.timezone.utc)
            except (OverflowError, OSError, ValueError):
                raise errors.Error(f"persistUntil {raw!r:.40} is out of range") from None
        known = {"accounturi", "policy", "persistuntil"}
        return cls(
            issuer_domain_name=issuer,
            account_uri=params["accounturi"],
            policy=params.get("policy"),
            persist_until=until,
            extra=tuple((tag, value) for tag, value in order if tag.lower() not in known),
        )


def _check_record_issuer(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise errors.Error(f"A record needs an issuer domain name, got {value!r:.80}")
    if not all(_LDH_LABEL.match(label) for label in value.split(".")):
        raise errors.Error(f"Issuer domain name {value!r:.80} is not an LDH domain name")


@ChallengeResponse.register
class DNSPersist01Response(ChallengeResponse):
    """dns-persist-01 response: ``{}`` (draft-ietf-acme-dns-persist section 4)."""

    typ = "dns-persist-01"

    def to_partial_json(self) -> dict[str, Any]:
        """``{}``, as RFC 8555 section 7.5.1 sends it (no ``type``)."""
        return {}


@Challenge.register
class DNSPersist01(Challenge):
    """dns-persist-01: a persistent TXT record naming the CA and the account
    (draft-ietf-acme-dns-persist-02). It carries no token: see the module docstring.

    :ivar tuple issuer_domain_names: the names the CA accepts in the record (section 3.1).
    """

    typ = "dns-persist-01"
    # Section 4: the label prepended to the domain name being validated.
    LABEL = "_validation-persist"
    # Section 4.1 item 3: the RFC 6920 Hash Name String every client and CA supports.
    HASH_ALGORITHM = "sha-256"
    # Section 4.1 item 3: domain_name "*" opts out of binding the hash to the domain.
    ANY_DOMAIN = "*"

    issuer_domain_names: tuple[str, ...] = json_util.field(
        "issuerDomainNames", decoder=_decode_issuer_names, encoder=_encode_issuer_names
    )

    def response(self, account_key: jwk.JWK | None = None) -> DNSPersist01Response:
        """The response to POST once the record is published: ``{}``."""
        return DNSPersist01Response()

    def validation_domain_name(self, name: str) -> str:
        """``_validation-persist.<name>``; a wildcard's record lives at its base name
        (sections 4 and 5)."""
        return f"{self.LABEL}.{_base_name(name)}"

    @classmethod
    def account_uri(
        cls,
        account_url: str,
        account_key: jwk.JWK | str,
        account_hash_prefix: str,
        domain: str,
    ) -> str:
        """The hashed account URI (section 4.1 item 3):
        ``<prefix>sha-256/base64url(SHA-256(len(domain) || domain || thumbprint || URL))``.

        :param account_key: the account's key, or its base64url SHA-256 JWK thumbprint (all
            a delegated DNS operator needs, section 4.5).
        :param account_hash_prefix: the CA's directory ``meta.accountHashPrefix``.
        :param domain: the domain whose ``_validation-persist`` record this is (normalized
            by section 9.2; a wildcard's base name), or `ANY_DOMAIN` for a value reusable
            across domains (which lets observers link them, section 7.2.2).
        """
        url = _require_text(account_url, "The account URL")
        if not url.isascii():  # RFC 3986: a URI is US-ASCII (section 4.1 item 3.4)
            raise errors.Error(f"The account URL {url!r:.100} is not ASCII")
        prefix = _require_text(account_hash_prefix, "accountHashPrefix")
        name = cls.ANY_DOMAIN if domain == cls.ANY_DOMAIN else normalize_domain(_base_name(domain))
        encoded = name.encode("ascii")
        if len(encoded) > 255:  # one length octet (section 4.1 item 3.1; RFC 1035 2.3.4)
            raise errors.Error(f"Domain name {name[:80]!r} is longer than 255 octets")
        data = bytes([len(encoded)]) + encoded
        data += _thumbprint_text(account_key).encode("ascii") + url.encode("ascii")
        return f"{prefix}{cls.HASH_ALGORITHM}/{_b64(hashlib.sha256(data).digest())}"

    def record(
        self,
        account_key: jwk.JWK | str,
        *,
        account_url: str,
        account_hash_prefix: str,
        domain: str,
        issuer_domain_name: str | None = None,
        wildcard: bool = False,
        persist_until: datetime.datetime | None = None,
        any_domain: bool = False,
    ) -> DNSPersist01Record:
        """The record to publish once at `validation_domain_name` (section 4.1).

        :param issuer_domain_name: one of `issuer_domain_names` (the first when None).
        :param wildcard: add ``policy=wildcard``: the record then also covers
            ``*.domain`` and subdomains (sections 5 and 6). Needed for a wildcard.
        :param persist_until: when CAs must stop relying on it (aware datetime).
        :param any_domain: hash with `ANY_DOMAIN`, so one value serves every domain.
        """
        issuer = issuer_domain_name or self.issuer_domain_names[0]
        if issuer not in self.issuer_domain_names:
            raise errors.Error(
                f"{issuer!r:.80} is not one of this challenge's issuer domain names "
                f"{list(self.issuer_domain_names)}"
            )
        hashed = self.account_uri(
            account_url, account_key, account_hash_prefix, self.ANY_DOMAIN if any_domain else domain
        )
        return DNSPersist01Record(
            issuer, hashed, "wildcard" if wildcard else None, persist_until=persist_until
        )

    def validation(self, account_key: jwk.JWK | str, **kwargs: Any) -> str:
        """The TXT value: ``record(account_key, **kwargs).to_text()``."""
        return self.record(account_key, **kwargs).to_text()

    def check_directory(self, meta: Mapping[str, Any]) -> None:
        """Section 3.2: reject a challenge missing a directory issuer name, or (when the
        directory lists ``caaIdentities``) offering a name not among them.

        :param meta: the directory's ``meta`` as JSON (``directory.meta.to_partial_json()``).
        """
        meta = _require_mapping(meta, "The directory meta")
        offered = set(self.issuer_domain_names)
        try:
            advertised = set(_decode_issuer_names(meta.get("issuerDomainNames")))
        except jose_errors.DeserializationError:
            advertised = set()  # missing or nonconforming: unavailable (section 3.2)
        if advertised - offered:
            missing = sorted(advertised - offered)
            raise errors.Error(f"dns-persist-01 challenge lacks directory issuer names {missing}")
        caa = meta.get("caaIdentities")
        # A list in JSON; a tuple in ``Directory.meta.to_partial_json()``.
        if isinstance(caa, (list, tuple)) and all(isinstance(name, str) for name in caa):
            identities = {name.lower().rstrip(".") for name in caa}
            if offered - identities:
                raise errors.Error(
                    f"dns-persist-01 issuer names {sorted(offered - identities)} are not in "
                    "the directory's caaIdentities"
                )

    def find_record(
        self,
        txt_values: Iterable[str],
        *,
        account_url: str,
        account_keys: Sequence[jwk.JWK | str],
        account_hash_prefix: str,
        domain: str,
        wildcard: bool = False,
        now: datetime.datetime | None = None,
    ) -> DNSPersist01Record:
        """The published value that lets this CA validate ``domain`` for the account, read
        only (section 4.2); `acme.errors.Error` says why none does.

        :param account_keys: the current key first, then prior keys the CA still accepts.
        :param wildcard: the authorization is for ``*.domain`` (needs ``policy=wildcard``).
        """
        verdict = evaluate_persist_records(
            txt_values,
            issuer_domain_names=self.issuer_domain_names,
            account_url=account_url,
            account_keys=account_keys,
            account_hash_prefix=account_hash_prefix,
            domain=domain,
            wildcard=wildcard,
            now=now or utcnow(),
        )
        if verdict.record is None:
            raise errors.Error(f"{self.validation_domain_name(domain)}: {verdict.detail}")
        return verdict.record


@dataclasses.dataclass(frozen=True)
class PersistVerdict:
    """What a CA makes of the TXT values at a ``_validation-persist`` name (section 4.2).

    ``record`` is the one that validates, else ``problem`` is the RFC 8555 error code to
    report (section 9.3.1: ``malformed`` for syntax, ``unauthorized`` for a mismatch) and
    ``detail`` says why.
    """

    record: DNSPersist01Record | None
    problem: str | None = None
    detail: str = ""


def evaluate_persist_records(
    txt_values: Iterable[str],
    *,
    issuer_domain_names: Sequence[str],
    account_url: str,
    account_keys: Sequence[jwk.JWK | str],
    account_hash_prefix: str,
    domain: str,
    wildcard: bool,
    now: datetime.datetime,
) -> PersistVerdict:
    """Sections 4.2 and 4.3.2: filter by issuer name, then accept a record whose accounturi
    is a hashed URI of one of the account's keys (for ``domain`` or ``*``), not past its
    persistUntil, and with ``policy=wildcard`` for a wildcard authorization."""
    base = _base_name(domain)
    expected = set()
    for key in account_keys:  # current key first (section 4.2)
        for name in (base, DNSPersist01.ANY_DOMAIN):
            expected.add(DNSPersist01.account_uri(account_url, key, account_hash_prefix, name))
    issuers = {name.lower() for name in issuer_domain_names}
    failures: list[tuple[str, str]] = []
    seen_any = False
    for text in txt_values:
        seen_any = True
        try:
            record = DNSPersist01Record.from_text(text)
        except errors.Error as error:
            # Only a record for this CA matters; a malformed one may be anyone's.
            head = text.partition(";")[0].strip(_WSP).lower().rstrip(".") if text else ""
            if head in issuers:
                failures.append(("malformed", str(error)))
            continue
        if record.issuer_domain_name.lower().rstrip(".") not in issuers:
            continue  # another CA's record (section 4.3.2 step 2)
        if record.account_uri not in expected:  # Simple String Comparison (section 4.1)
            failures.append(("unauthorized", "accounturi is not this account's hashed URI"))
        elif record.persist_until is not None and now > record.persist_until:
            failures.append(("unauthorized", f"persistUntil {record.persist_until} has passed"))
        elif wildcard and not record.wildcard:
            failures.append(("unauthorized", "a wildcard needs policy=wildcard (section 5)"))
        else:
            return PersistVerdict(record)
    if failures:
        problem = "malformed" if all(code == "malformed" for code, _ in failures) else None
        problem = problem or "unauthorized"
        return PersistVerdict(None, problem, "; ".join(detail for _, detail in failures))
    if seen_any:
        return PersistVerdict(None, "unauthorized", "no TXT record names this CA")
    return PersistVerdict(None, "dns", "no TXT record")
