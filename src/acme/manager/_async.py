"""`AsyncManager`: the same lineage flows, driven with `acme.asyncio_client.AsyncClientV2`.

Client calls are awaited on the shared connection pool; store and solver calls (blocking
file or database I/O) run in worker threads; hooks are asyncio subprocesses. Up to
``concurrency`` lineages take their turn at once.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from acme.manager._base import (
    LINEAGES,
    ManagerBase,
    Turn,
    hook_environment,
    name_lock,
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
    from acme.asyncio_client import AsyncClientV2

__all__ = ["AsyncManager"]


class AsyncManager(ManagerBase):
    """`Manager` for asyncio: ``clients`` are `AsyncClientV2` objects by directory URL.

    :param concurrency: how many lineages take their turn at once.
    """

    def __init__(
        self,
        store: Any,
        clients: Mapping[str, AsyncClientV2],
        *,
        concurrency: int = 16,
        **options: Any,
    ) -> None:
        super().__init__(store, **options)
        self.clients = dict(clients)
        self.concurrency = max(1, concurrency)

    async def run_once(self, *, limit: int = 100_000) -> RunReport:
        """Do every due piece of work once (see `Manager.run_once`)."""
        report = RunReport()
        seen: set[str] = set()
        while len(seen) < limit:
            batch = min(max(self.concurrency * 4, 50), limit - len(seen))
            claimed = await asyncio.to_thread(
                self.store.claim_due,
                LINEAGES,
                self.now(),
                owner=self.owner,
                ttl=self.lease_ttl,
                limit=batch,
            )
            fresh = [(group, lease) for group, lease in claimed if group not in seen]
            for group, lease in claimed:
                if group in seen:
                    await asyncio.to_thread(self.store.unlock, lease)
            if not fresh:
                break
            seen.update(group for group, _ in fresh)
            await self._turns(fresh, report, force=False, dry_run=False, reschedule=True)
        return report

    async def renew_due(
        self, ids: Iterable[str] | None = None, *, force: bool = False, dry_run: bool = False
    ) -> RunReport:
        """Go through the lineages (all, or ``ids``): see `Manager.renew_due`."""
        report = RunReport()
        if ids is None:
            wanted = [r.id for r in await asyncio.to_thread(self.lineages)]
        else:
            wanted = sorted(set(ids))
        leased = []
        for lineage_id in wanted:
            group = lineage_group(lineage_id)
            try:
                lease = await asyncio.to_thread(
                    self.store.lock, group, owner=self.owner, ttl=self.lease_ttl
                )
            except LockHeld as held:
                report.skipped[lineage_id] = str(held)
                continue
            leased.append((group, lease))
        await self._turns(leased, report, force=force, dry_run=dry_run)
        return report

    async def revoke(self, lineage_id: str, reason: int = 0) -> None:
        """Revoke the lineage's current certificate; the next run replaces it."""
        group = lineage_group(lineage_id)
        lease = await asyncio.to_thread(
            self.store.lock, group, owner=self.owner, ttl=self.lease_ttl
        )
        try:
            record = await asyncio.to_thread(self.load, lineage_id)
            if record is None or record.current is None:
                raise LineageError(lineage_id, "no certificate to revoke")
            await self.clients[record.directory_url].revoke(record.current.leaf, reason)
            record.revoked = True
            await asyncio.to_thread(self.save, record, lease)
        finally:
            await asyncio.to_thread(self.store.unlock, lease)
        self.emit([Event("revoked", lineage_id, self.now(), certificate=record.current)])

    async def _turns(
        self,
        leased: list[tuple[str, Lease]],
        report: RunReport,
        *,
        force: bool,
        dry_run: bool,
        reschedule: bool = False,
    ) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(group: str, lease: Lease) -> None:
            async with gate:
                await self._turn(
                    group, lease, report, force=force, dry_run=dry_run, reschedule=reschedule
                )

        await asyncio.gather(*(one(group, lease) for group, lease in leased))

    async def _turn(
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
                files = await asyncio.to_thread(self.store.read_group, group)
            except StorageError as error:
                started = self.failed(lineage_id, f"unreadable record: {error}", error)
            else:
                started = self.start_turn(
                    lineage_id, files, self.clients,
                    force=force, dry_run=dry_run, reschedule=reschedule,
                )  # fmt: skip
            if started is None:
                return  # deleted meanwhile
            if isinstance(started, Outcome):
                outcome = started
            else:
                outcome = await self._drive(*started, turn)
            self.finish(outcome, report)
        finally:
            for held in turn.names:
                await asyncio.to_thread(self.store.unlock, held)
            await asyncio.to_thread(self.store.unlock, turn.lease)

    async def _drive(self, flow: Flow, client: AsyncClientV2, turn: Turn) -> Outcome:
        try:
            effect = next(flow)
            while True:
                try:
                    result = await self._execute(effect, client, turn)
                except Exception as error:
                    effect = flow.throw(error)
                    continue
                effect = flow.send(result)
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome
        finally:
            flow.close()

    async def _execute(self, effect: Any, client: AsyncClientV2, turn: Turn) -> Any:
        if isinstance(effect, Call):
            return await getattr(client, effect.method)(*effect.args, **effect.kwargs)
        if isinstance(effect, Solve):
            return await asyncio.to_thread(getattr(self.solver, effect.action), effect.answer)
        if isinstance(effect, RunHook):
            return await self._hook(effect)
        if isinstance(effect, KeepLease):
            if turn.lease_needs_renewal(self.lease_ttl):
                turn.lease_renewed(
                    await asyncio.to_thread(self.store.renew, turn.lease, self.lease_ttl)
                )
            return None
        if isinstance(effect, LockNames):
            for name in sorted(set(effect.names)):
                held = await asyncio.to_thread(
                    self.store.lock, name_lock(name), owner=self.owner, ttl=self.lease_ttl
                )
                turn.names.append(held)
            return None
        if isinstance(effect, Persist):
            record = effect.record
            items, private = stored_files(record)
            await asyncio.to_thread(
                self.store.write, items, private=private, fence=turn.lease, due=effect.due
            )
            if effect.new_pair and self.on_saved is not None:
                try:
                    await asyncio.to_thread(self.on_saved, record)
                except Exception as error:
                    raise HookError(record.id, f"after saving: {error}", "deploy") from error
            return None
        raise TypeError(f"Unknown effect {effect!r}")

    async def _hook(self, effect: RunHook) -> None:
        lineage = effect.env.get("ACME_LINEAGE", "?")
        try:
            process = await asyncio.create_subprocess_shell(
                effect.command,
                env=hook_environment(effect.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as error:
            raise HookError(
                lineage, f"{effect.hook} hook could not start: {error}", effect.hook
            ) from error
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), self.hook_timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise HookError(
                lineage, f"{effect.hook} hook timed out after {self.hook_timeout:g} s", effect.hook
            ) from None
        if process.returncode != 0:
            tail = stderr.decode("utf-8", "replace").strip()[-300:]
            raise HookError(
                lineage, f"{effect.hook} hook exited {process.returncode}: {tail}", effect.hook
            )
