"""What a manager reports: events to callbacks, and the report of one run."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Literal

from acme.manager._errors import LineageError
from acme.manager._record import CertificatePair

__all__ = ["Event", "EventKind", "RunReport"]

#: The kinds of `Event`.
EventKind = Literal["issued", "renewed", "failed", "revoked", "window_changed"]


@dataclasses.dataclass(frozen=True)
class Event:
    """Something that happened to a lineage, for users' metrics and alerts.

    :ivar kind: ``issued`` (first certificate), ``renewed``, ``failed`` (``error`` set),
        ``revoked``, ``window_changed`` (the CA moved the renewal window it gave before; ``window``
        set).
    """

    kind: EventKind
    lineage: str
    when: datetime.datetime
    certificate: CertificatePair | None = None
    error: LineageError | None = None
    window: tuple[datetime.datetime, datetime.datetime] | None = None
    replaced: bool = False  # the order carried RFC 9773 ``replaces``


@dataclasses.dataclass
class RunReport:
    """What one `renew_due`/`run_once` did, lineage by lineage."""

    issued: list[str] = dataclasses.field(default_factory=list)
    renewed: list[str] = dataclasses.field(default_factory=list)
    checked: list[str] = dataclasses.field(default_factory=list)
    would_renew: list[str] = dataclasses.field(default_factory=list)
    waiting: dict[str, datetime.datetime] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    failed: dict[str, LineageError] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no lineage failed."""
        return not self.failed

    def merge(self, other: RunReport) -> None:
        """Add the results of ``other`` to this report."""
        self.issued += other.issued
        self.renewed += other.renewed
        self.checked += other.checked
        self.would_renew += other.would_renew
        self.waiting.update(other.waiting)
        self.skipped.update(other.skipped)
        self.failed.update(other.failed)
