"""`Manager`: runs lineage flows with the blocking client (`acme.client.ClientV2`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from acme.manager._base import (
    LINEAGES,
    ManagerBase,
    Turn,
    name_lock,
    run_hook_sync,
    stored_files,
)
from acme.manager._errors import HookError, LineageError, LockHeld, StorageError
from acme.manager._events import Event, RunReport
from acme.manager._flow import (
    Call,
    Flow,
    KeepLease,
    LockNames,
    Outcome,
    Persist,
    RunHook,
    Solve,
)
from acme.manager._record import lineage_group
from acme.manager._store import Lease

if TYPE_CHECKING:  # pragma: no cover
    from acme.client import ClientV2

__all__ = ["Manager"]


class Manager(ManagerBase):
    """Keeps the certificates of a store alive, one lineage at a time (blocking).

    :param clients: a ready `acme.client.ClientV2` (with its account) per CA directory URL;
        a lineage names its CA by ``directory_url``.

    See `ManagerBase` for the other options.
    """

    def __init__(self, store: Any, clients: Mapping[str, ClientV2], **options: Any) -> None:
        super().__init__(store, **options)
        self.clients = dict(clients)

    def run_once(self, *, limit: int = 100_000) -> RunReport:
        """Do every due piece of work once: ARI checks, renewals, first issuances.

        Lineages are claimed from the store's schedule (`Storage.claim_due`), so managers
        sharing a store split the work and never take the same lineage at once.
        """
        report = RunReport()
        seen: set[str] = set()
        while len(seen) < limit:
            batch = min(100, limit - len(seen))
            claimed = self.store.claim_due(
                LINEAGES, self.now(), owner=self.owner, ttl=self.lease_ttl, limit=batch
            )
            fresh = [(group, lease) for group, lease in claimed if group not in seen]
            for group, lease in claimed:
                if group in seen:  # still due after its turn (e.g. skipped): next run
                    self.store.unlock(lease)
            if not fresh:
                break
            for group, lease in fresh:
                seen.add(group)
                self._turn(group, lease, report, force=False, dry_run=False, reschedule=True)
        return report

    def renew_due(
        self, ids: Iterable[str] | None = None, *, force: bool = False, dry_run: bool = False
    ) -> RunReport:
        """Go through the lineages (all, or ``ids``) and do what is due for each.

        ``force`` renews now whatever the schedule; ``dry_run`` fetches renewal information
        but orders nothing and reports ``would_renew`` instead.
        """
        report = RunReport()
        wanted = sorted(set(ids)) if ids is not None else [r.id for r in self.lineages()]
        for lineage_id in wanted:
            group = lineage_group(lineage_id)
            try:
                lease = self.store.lock(group, owner=self.owner, ttl=self.lease_ttl)
            except LockHeld as held:
                report.skipped[lineage_id] = str(held)
                continue
            self._turn(group, lease, report, force=force, dry_run=dry_run)
        return report

    def revoke(self, lineage_id: str, reason: int = 0) -> None:
        """Revoke the lineage's current certificate (RFC 8555 section 7.6); the next run
        replaces it."""
        group = lineage_group(lineage_id)
        lease = self.store.lock(group, owner=self.owner, ttl=self.lease_ttl)
        try:
            record = self.load(lineage_id)
            if record is None or record.current is None:
                raise LineageError(lineage_id, "no certificate to revoke")
            self.clients[record.directory_url].revoke(record.current.leaf, reason)
            record.revoked = True
            self.save(record, lease)
        finally:
            self.store.unlock(lease)
        self.emit([Event("revoked", lineage_id, self.now(), certificate=record.current)])

    # -- driving one flow ---------------------------------------------------------------------

    def _turn(
        self,
        group: str,
        lease: Lease,
        report: RunReport,
        *,
        force: bool,
        dry_run: bool,
        reschedule: bool = False,
    ) -> None:
        lineage_id = group.rpartition("/")[2]
        turn = Turn(lease)
        try:
            started: tuple[Flow, Any] | Outcome | None
            try:
                files = self.store.read_group(group)
            except StorageError as error:
                started = self.failed(lineage_id, f"unreadable record: {error}", error)
            else:
                started = self.start_turn(
                    lineage_id, files, self.clients,
                    force=force, dry_run=dry_run, reschedule=reschedule,
                )  # fmt: skip
            if started is None:
                return  # deleted meanwhile
            outcome = started if isinstance(started, Outcome) else self._drive(*started, turn)
            self.finish(outcome, report)
        finally:
            for held in turn.names:
                self.store.unlock(held)
            self.store.unlock(turn.lease)

    def _drive(self, flow: Flow, client: ClientV2, turn: Turn) -> Outcome:
        try:
            effect = next(flow)
            while True:
                try:
                    result = self._execute(effect, client, turn)
                except Exception as error:
                    effect = flow.throw(error)
                    continue
                effect = flow.send(result)
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome
        finally:
            flow.close()

    def _execute(self, effect: Any, client: ClientV2, turn: Turn) -> Any:
        if isinstance(effect, Call):
            return getattr(client, effect.method)(*effect.args, **effect.kwargs)
        if isinstance(effect, Solve):
            return getattr(self.solver, effect.action)(effect.answer)
        if isinstance(effect, RunHook):
            lineage = effect.env.get("ACME_LINEAGE", "?")
            return run_hook_sync(
                lineage, effect.hook, effect.command, effect.env, self.hook_timeout
            )
        if isinstance(effect, KeepLease):
            if turn.lease_needs_renewal(self.lease_ttl):  # else it is fresh enough
                turn.lease_renewed(self.store.renew(turn.lease, self.lease_ttl))
            return None
        if isinstance(effect, LockNames):
            for name in sorted(set(effect.names)):
                turn.names.append(
                    self.store.lock(name_lock(name), owner=self.owner, ttl=self.lease_ttl)
                )
            return None
        if isinstance(effect, Persist):
            record = effect.record
            items, private = stored_files(record)
            self.store.write(items, private=private, fence=turn.lease, due=effect.due)
            if effect.new_pair and self.on_saved is not None:
                try:
                    self.on_saved(record)
                except Exception as error:
                    raise HookError(record.id, f"after saving: {error}", "deploy") from error
            return None
        raise TypeError(f"Unknown effect {effect!r}")
