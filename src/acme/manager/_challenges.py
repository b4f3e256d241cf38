"""Challenge answers: published by the manager, served by whichever node the CA reaches.

The default `StoreSolver` writes each answer into the store, so with a shared store (the
PostgreSQL one) every node can answer for every other:

- http-01 (RFC 8555 section 8.3): ``challenges/http-01/<token>`` holds the key authorization;
  `StoreHTTP01Resources` is a live view of them for ``acme.standalone.HTTP01Server``.
- tls-alpn-01 (RFC 8737): ``challenges/tls-alpn-01/<name>`` holds the challenge certificate and
  its key (PEM); `StoreTLSALPN01Certs` is a live mapping for ``acme.standalone``'s
  ``TLSALPN01Server``.
- dns-01 (RFC 8555 section 8.4) and dns-account-01 need a DNS provider: pass your own
  `Solver`. dns-persist-01 needs none: its record is published once, outside any order, and
  the manager only answers the challenge.
"""

from __future__ import annotations

import abc
import dataclasses
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from josepy import b64

from acme import challenges, errors
from acme.manager._store import Storage

__all__ = [
    "ChallengeAnswer",
    "Solver",
    "StoreHTTP01Resources",
    "StoreSolver",
    "StoreTLSALPN01Certs",
]

_HTTP01, _TLSALPN01 = "challenges/http-01/", "challenges/tls-alpn-01/"


@dataclasses.dataclass(frozen=True)
class ChallengeAnswer:
    """What to publish for one challenge.

    :ivar kind: ``http-01``, ``tls-alpn-01``, ``dns-01`` or ``dns-account-01``.
    :ivar identifier: the name or IP address being validated.
    :ivar key_authorization: RFC 8555 section 8.1.
    :ivar value: http-01: the key authorization; dns-01 and dns-account-01: the TXT record
        value (at `record_name`); tls-alpn-01: the challenge certificate and its key as one
        PEM text.
    :ivar record_name: dns-01 and dns-account-01: where the TXT record goes, no final dot
        (``_acme-challenge.<identifier>``; dns-account-01 puts the account's label first,
        draft-ietf-acme-dns-account-label section 3.2); empty for the others.
    """

    kind: str
    identifier: str
    token: str
    key_authorization: str
    value: str = dataclasses.field(repr=False)
    lineage: str = ""
    record_name: str = ""


class Solver(abc.ABC):
    """Publishes challenge answers (`present`) and removes them (`cleanup`)."""

    @abc.abstractmethod
    def present(self, answer: ChallengeAnswer) -> None:
        """Make ``answer`` reachable by the CA before the challenge is answered."""

    @abc.abstractmethod
    def cleanup(self, answer: ChallengeAnswer) -> None:
        """Remove what `present` published (also after a failure)."""

    def ready(self, answers: Sequence[ChallengeAnswer]) -> None:  # noqa: B027 - optional
        """Called once every answer of an order is presented, before any is answered: a
        solver can wait here until they are visible (DNS propagation). Does nothing."""


def _answer_key(answer: ChallengeAnswer) -> str:
    if answer.kind == "http-01":
        return _HTTP01 + answer.token
    if answer.kind == "tls-alpn-01":
        return _TLSALPN01 + urllib.parse.quote(answer.identifier.lower(), safe="")
    raise errors.InvalidArgument(
        f"{answer.kind} answers cannot be served from a store: publish them with a DNS provider"
    )


class StoreSolver(Solver):
    """Publishes http-01 and tls-alpn-01 answers in a `Storage` (see the module docstring)."""

    def __init__(self, store: Storage) -> None:
        self.store = store

    def present(self, answer: ChallengeAnswer) -> None:
        """Write the answer under ``challenges/<type>/...`` in the store."""
        key = _answer_key(answer)
        self.store.write({key: answer.value.encode("ascii")}, private=[key])

    def cleanup(self, answer: ChallengeAnswer) -> None:
        """Delete the answer from the store."""
        self.store.delete(_answer_key(answer))


@dataclasses.dataclass(frozen=True)
class _Resource:
    """The shape ``acme.standalone.HTTP01Server`` reads: ``chall.path`` and ``validation``."""

    chall: challenges.HTTP01
    validation: str
    response: Any = None


class StoreHTTP01Resources:
    """Every http-01 answer in ``store``, read afresh on each iteration.

    Pass it as the ``resources`` of ``acme.standalone.HTTP01Server``: the server iterates it
    for every request, so answers published by any node are served at once.
    """

    def __init__(self, store: Storage) -> None:
        self.store = store

    def __iter__(self) -> Iterator[_Resource]:
        for key in self.store.list(_HTTP01):
            value = self.store.read(key)
            if value is None:
                continue
            token = key[len(_HTTP01) :]
            chall = challenges.HTTP01(token=b64.b64decode(token))
            yield _Resource(chall, value.decode("ascii"))


class StoreTLSALPN01Certs(Mapping[str, tuple[Any, x509.Certificate]]):
    """Every tls-alpn-01 answer in ``store`` as ``{name: (key, certificate)}``, read live.

    Pass it as the certificates of ``acme.standalone.TLSALPN01Server``.
    """

    def __init__(self, store: Storage) -> None:
        self.store = store

    def _load(self, key: str) -> tuple[Any, x509.Certificate] | None:
        value = self.store.read(key)
        if value is None:
            return None
        cert = x509.load_pem_x509_certificate(value)
        return serialization.load_pem_private_key(value, password=None), cert

    def __getitem__(self, name: str) -> tuple[Any, x509.Certificate]:
        found = self._load(_TLSALPN01 + urllib.parse.quote(name.lower(), safe=""))
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        for key in self.store.list(_TLSALPN01):
            yield urllib.parse.unquote(key[len(_TLSALPN01) :])

    def __len__(self) -> int:
        return len(self.store.list(_TLSALPN01))
