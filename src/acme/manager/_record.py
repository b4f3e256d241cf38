"""The lineage record: one managed certificate, its key/chain pairs and its schedule.

A lineage is what stays the same across renewals: the names, the key type, the CA and account,
profile, challenge method and hooks. Each renewal replaces its current (key, chain) pair and
keeps the previous one. In a store a lineage is the group ``lineages/<id>/``::

    record.json           the metadata below (no secrets)
    key.pem, chain.pem    the current pair (key mode 0600)
    previous-key.pem, previous-chain.pem

and the group is always written as one (`Storage.write`), so a key never sits beside another
key's chain.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme._wire import renewal_id as _ari
from acme.manager._errors import StorageError
from acme.manager._policy import Schedule

__all__ = ["KEY_TYPES", "Certificate", "CertificatePair", "Hooks", "lineage_group"]

#: Certificate key types a lineage may ask for.
KEY_TYPES = ("ec256", "ec384", "rsa2048", "rsa3072", "rsa4096")
#: Challenge types a lineage may be validated by (the last two: the DNS drafts).
CHALLENGES = ("http-01", "tls-alpn-01", "dns-01", "dns-account-01", "dns-persist-01")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}\Z")
_RECORD, _KEY, _CHAIN = "record.json", "key.pem", "chain.pem"
_PREV_KEY, _PREV_CHAIN = "previous-key.pem", "previous-chain.pem"
PRIVATE_FILES = frozenset({_KEY, _PREV_KEY})


def lineage_group(lineage_id: str) -> str:
    """The store group (folder) of a lineage."""
    return f"lineages/{lineage_id}"


@dataclasses.dataclass(frozen=True)
class CertificatePair:
    """A private key (PEM) and the certificate chain (PEM, leaf first) issued for it."""

    key_pem: bytes = dataclasses.field(repr=False)  # never shown: it is a private key
    chain_pem: str

    @functools.cached_property
    def leaf(self) -> x509.Certificate:
        """The first certificate of the chain."""
        return x509.load_pem_x509_certificates(self.chain_pem.encode("ascii"))[0]

    @property
    def not_before(self) -> datetime.datetime:
        """The leaf's notBefore (aware UTC)."""
        return self.leaf.not_valid_before_utc

    @property
    def not_after(self) -> datetime.datetime:
        """The leaf's notAfter (aware UTC)."""
        return self.leaf.not_valid_after_utc

    @property
    def serial(self) -> int:
        """The leaf's serial number."""
        return self.leaf.serial_number

    @functools.cached_property
    def ari_id(self) -> str | None:
        """The RFC 9773 certificate identifier, or None if the leaf has no AKI."""
        try:
            return _ari.certificate_identifier(self.leaf)
        except Exception:  # no AKI keyIdentifier: the certificate has no ARI id
            return None

    def matches(self) -> bool:
        """Whether the key is the leaf's key (what a crash must never break)."""
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        return bool(
            key.public_key().public_bytes(*spki) == self.leaf.public_key().public_bytes(*spki)
        )


@dataclasses.dataclass(frozen=True)
class Hooks:
    """Shell commands run around issuance (see `acme.manager` for their environment)."""

    pre: str | None = None
    post: str | None = None
    deploy: str | None = None


def _time(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    when = datetime.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"naive timestamp {value!r}")
    return when


def _iso(when: datetime.datetime | None) -> str | None:
    return when.astimezone(datetime.timezone.utc).isoformat() if when is not None else None


@dataclasses.dataclass
class Certificate:
    """One lineage: what to issue, the current and previous pairs, and when to act.

    :ivar id: a short lower-case id (``[a-z0-9._-]``), by default the first name.
    :ivar names: DNS names or IP addresses, the first one is the common name.
    :ivar window: the last renewal window from the CA (RFC 9773), ``(start, end)``.
    :ivar renew_at: the renewal time drawn in that window.
    :ivar next_ari_check: when to fetch renewal information again.
    :ivar retry_at: after a failure, the earliest next attempt; ``failures`` in a row so far.
    :ivar skip_replaces: the CA refused our ``replaces`` once: order without it.
    """

    id: str
    names: tuple[str, ...]
    directory_url: str
    key_type: str = "ec256"
    account: str | None = None
    profile: str | None = None
    challenge: str = "http-01"
    hooks: Hooks = dataclasses.field(default_factory=Hooks)
    current: CertificatePair | None = None
    previous: CertificatePair | None = None
    window: tuple[datetime.datetime, datetime.datetime] | None = None
    explanation_url: str | None = None
    renew_at: datetime.datetime | None = None
    next_ari_check: datetime.datetime | None = None
    retry_at: datetime.datetime | None = None
    failures: int = 0
    last_error: str | None = None
    skip_replaces: bool = False
    revoked: bool = False
    #: Free-form settings of the front-end that made the lineage (e.g. the CLI's solver).
    options: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = tuple(self.names)
        if not _ID.match(self.id):
            raise StorageError(f"Lineage id {self.id!r} must match [a-z0-9][a-z0-9._-]*")
        if not self.names:
            raise StorageError(f"Lineage {self.id} has no names")
        if self.key_type not in KEY_TYPES:
            raise StorageError(f"Unknown key type {self.key_type!r}; use one of {KEY_TYPES}")
        if self.challenge not in CHALLENGES:
            raise StorageError(f"Unknown challenge {self.challenge!r}; use one of {CHALLENGES}")

    @property
    def group(self) -> str:
        """The store group of this lineage (``lineages/<id>``)."""
        return lineage_group(self.id)

    def schedule(self, force: bool = False) -> Schedule:
        """The scheduling view of this record (what `acme.manager._policy.decide` reads)."""
        pair = self.current
        return Schedule(
            has_certificate=pair is not None,
            not_before=pair.not_before if pair else None,
            not_after=pair.not_after if pair else None,
            ari_id=pair.ari_id if pair else None,
            window=self.window,
            renew_at=self.renew_at,
            next_ari_check=self.next_ari_check,
            retry_at=self.retry_at,
            skip_replaces=self.skip_replaces,
            force=force or self.revoked,
        )

    def due_at(self, now: datetime.datetime, ca_has_ari: bool = True) -> datetime.datetime:
        """When the next action is due (what a store indexes to find due work)."""
        from acme.manager._policy import Wait, decide

        decision = decide(self.schedule(), now, ca_has_ari=ca_has_ari)
        return decision.until if isinstance(decision, Wait) else now

    # -- (de)serialization -------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The record as JSON-ready data, without the pairs (they are files of their own)."""
        window = self.window
        return {
            "version": 1,
            "id": self.id,
            "names": list(self.names),
            "directory_url": self.directory_url,
            "key_type": self.key_type,
            "account": self.account,
            "profile": self.profile,
            "challenge": self.challenge,
            "hooks": dataclasses.asdict(self.hooks),
            "window": [_iso(window[0]), _iso(window[1])] if window else None,
            "explanation_url": self.explanation_url,
            "renew_at": _iso(self.renew_at),
            "next_ari_check": _iso(self.next_ari_check),
            "retry_at": _iso(self.retry_at),
            "failures": self.failures,
            "last_error": self.last_error,
            "skip_replaces": self.skip_replaces,
            "revoked": self.revoked,
            "options": dict(self.options),
        }

    def files(self) -> dict[str, bytes]:
        """The group's files, by name (``record.json`` and the pairs)."""
        out = {_RECORD: json.dumps(self.metadata(), indent=1, sort_keys=True).encode()}
        for pair, key_name, chain_name in (
            (self.current, _KEY, _CHAIN),
            (self.previous, _PREV_KEY, _PREV_CHAIN),
        ):
            if pair is not None:
                out[key_name] = pair.key_pem
                out[chain_name] = pair.chain_pem.encode("ascii")
        return out

    @classmethod
    def from_files(cls, files: Mapping[str, bytes | None]) -> Certificate:
        """Rebuild a record from its group's files; `StorageError` if they do not parse."""
        raw = files.get(_RECORD)
        if raw is None:
            raise StorageError("The lineage has no record.json")
        try:
            data = json.loads(raw)
            window = data.get("window")
            record = cls(
                id=data["id"],
                names=tuple(data["names"]),
                directory_url=data["directory_url"],
                key_type=data.get("key_type", "ec256"),
                account=data.get("account"),
                profile=data.get("profile"),
                challenge=data.get("challenge", "http-01"),
                hooks=Hooks(**(data.get("hooks") or {})),
                window=(_time(window[0]), _time(window[1])) if window else None,  # type: ignore[arg-type]
                explanation_url=data.get("explanation_url"),
                renew_at=_time(data.get("renew_at")),
                next_ari_check=_time(data.get("next_ari_check")),
                retry_at=_time(data.get("retry_at")),
                failures=int(data.get("failures", 0)),
                last_error=data.get("last_error"),
                skip_replaces=bool(data.get("skip_replaces", False)),
                revoked=bool(data.get("revoked", False)),
                options={str(k): str(v) for k, v in (data.get("options") or {}).items()},
            )
            record.current = _pair(files.get(_KEY), files.get(_CHAIN))
            record.previous = _pair(files.get(_PREV_KEY), files.get(_PREV_CHAIN))
        except StorageError:
            raise
        except (KeyError, TypeError, ValueError) as error:
            raise StorageError(f"Malformed lineage record: {error!r:.200}") from error
        return record


def _pair(key: bytes | None, chain: bytes | None) -> CertificatePair | None:
    if key is None and chain is None:
        return None
    if key is None or chain is None:
        raise StorageError("A lineage has a key without its chain (or a chain without its key)")
    return CertificatePair(key, chain.decode("ascii"))
