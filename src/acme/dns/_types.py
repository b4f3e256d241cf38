"""The plain values of acme.dns (no dnspython needed): records, servers, progress, errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from acme import errors

__all__ = [
    "Address",
    "DNSError",
    "Expectation",
    "NameServer",
    "Progress",
    "PropagationTimeout",
    "TXTCheck",
    "TXTRecord",
]

Address = tuple[str, int]  # (IP address, port)


class DNSError(errors.Error):
    """A DNS lookup or a DNS provider failed."""


class PropagationTimeout(DNSError, errors.TimeoutError):
    """The deadline passed before every authoritative server had every record.

    :ivar list waiting: ``(record description, server description, last answer)`` triples.
    """

    def __init__(self, waiting: list[tuple[str, str, str]], timeout: float) -> None:
        self.waiting = waiting
        lines = "; ".join(f"{rec} at {server}: {last}" for rec, server, last in waiting[:10])
        more = f" (and {len(waiting) - 10} more)" if len(waiting) > 10 else ""
        super().__init__(f"DNS records not visible after {timeout:g}s: {lines}{more}")


@dataclasses.dataclass(frozen=True)
class TXTRecord:
    """A TXT record to publish and wait for: ``name`` (no final dot) holds ``value``."""

    name: str
    value: str

    def accepts(self, values: Sequence[str]) -> bool:
        """Whether the TXT values served at the name include this record's value."""
        return self.value in values

    def __str__(self) -> str:
        return f"TXT {self.name} {self.value!r}"


@dataclasses.dataclass(frozen=True)
class TXTCheck:
    """A read-only expectation: some TXT value at ``name`` satisfies ``predicate`` (e.g. a
    dns-persist-01 record published once, whose exact text the client need not know)."""

    name: str
    predicate: Callable[[Sequence[str]], bool]
    description: str = "an acceptable value"

    def accepts(self, values: Sequence[str]) -> bool:
        """Whether the TXT values served at the name satisfy the check's predicate."""
        return self.predicate(values)

    def __str__(self) -> str:
        return f"TXT {self.name} ({self.description})"


Expectation = TXTRecord | TXTCheck


@dataclasses.dataclass(frozen=True)
class NameServer:
    """One authoritative server of a zone: its NS name (or, for a server given by address,
    that address) and the address queried."""

    name: str
    address: Address

    def __str__(self) -> str:
        host, port = self.address
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return shown if self.name == host else f"{self.name} ({shown})"


@dataclasses.dataclass(frozen=True)
class Progress:
    """One answer seen while waiting: what was asked, where, and whether it is there."""

    record: Expectation
    server: NameServer
    seen: bool
    detail: str
    pending: int  # (record, server) pairs still waiting after this answer
    elapsed: float  # seconds since the wait began
