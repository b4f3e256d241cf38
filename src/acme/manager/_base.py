"""What the sync and async managers share: lineage bookkeeping, contexts, events, reports.

Nothing here talks to a CA; the drivers (`Manager`, `AsyncManager`) run the flows.
"""

from __future__ import annotations

import datetime
import logging
import os
import random
import socket
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from acme._wire.timestamps import utcnow
from acme.manager import _policy
from acme.manager._challenges import Solver, StoreSolver
from acme.manager._errors import HookError, LineageError, ManagerError, RateLimited, StorageError
from acme.manager._events import Event, RunReport
from acme.manager._flow import Context, Flow, Outcome, lineage_flow
from acme.manager._record import PRIVATE_FILES, Certificate, Hooks, lineage_group
from acme.manager._store import Lease, Storage

__all__ = ["LINEAGES", "ManagerBase", "run_hook_sync"]

logger = logging.getLogger("acme.manager")
LINEAGES = "lineages/"
EventCallback = Callable[[Event], None]


def default_owner() -> str:
    """``host:pid:random``: names this manager in leases and `LockHeld` errors."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hook_environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def run_hook_sync(
    lineage: str, hook: str, command: str, env: dict[str, str], timeout: float
) -> None:
    """Run one hook command through the shell; `HookError` unless it exits 0 in time."""
    try:
        done = subprocess.run(
            command,
            shell=True,
            env=hook_environment(env),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise HookError(lineage, f"{hook} hook timed out after {timeout:g} s", hook) from None
    except OSError as error:
        raise HookError(lineage, f"{hook} hook could not start: {error}", hook) from error
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise HookError(lineage, f"{hook} hook exited {done.returncode}: {tail}", hook)


def name_lock(name: str) -> str:
    """The lock that allows one issuance at a time for ``name``."""
    return "names/" + urllib.parse.quote(name.lower(), safe="")


def stored_files(record: Certificate) -> tuple[dict[str, bytes], list[str]]:
    """A lineage's files as store keys, and which of them are private (mode 0600)."""
    items = {f"{record.group}/{name}": data for name, data in record.files().items()}
    return items, [f"{record.group}/{name}" for name in PRIVATE_FILES]


class Turn:
    """The leases held during one lineage's turn."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.names: list[Lease] = []
        self.since = time.monotonic()  # when the lease was taken or last extended

    def lease_needs_renewal(self, ttl: float) -> bool:
        """Whether a third of the lease's time has passed since it was taken or extended."""
        return time.monotonic() - self.since > ttl / 3

    def lease_renewed(self, lease: Lease) -> None:
        self.lease = lease
        self.since = time.monotonic()


class ManagerBase:
    """Lineages in a store, the schedule's state, and event delivery.

    :param store: where lineages, leases and challenge answers live.
    :param solver: publishes challenge answers (default: `StoreSolver` on ``store``).
    :param policy: the schedule's knobs.
    :param clock: the current aware UTC time (scheduling decisions only).
    :param rng: draws renewal times in windows and back-off jitter.
    :param owner: this manager's name in leases (default ``host:pid:random``).
    :param lease_ttl: seconds a lineage stays leased to us without being extended; keep it
        well above ``timeout`` plus the hooks' time (it is extended once, before the order).
    :param timeout: seconds one issuance may take (validation and finalization).
    :param hook_timeout: seconds one hook command may take.
    :param on_event: callbacks receiving every `Event` (errors in them are logged, not raised).
    :param on_saved: called with a lineage right after a new certificate of it was saved,
        before its deploy hook (e.g. to copy the files elsewhere). If it raises, the lineage
        is reported renewed and failed with a `HookError` (hook ``deploy``), and its deploy
        hook does not run; the new certificate stays saved.
    :param hooks: hook commands for every lineage of this manager's runs, in place of the
        lineage's own (a None field keeps the lineage's).
    """

    def __init__(
        self,
        store: Storage,
        *,
        solver: Solver | None = None,
        policy: _policy.Policy | None = None,
        clock: Callable[[], datetime.datetime] = utcnow,
        rng: random.Random | None = None,
        owner: str | None = None,
        lease_ttl: float = 600.0,
        timeout: float = 90.0,
        hook_timeout: float = 300.0,
        on_event: Iterable[EventCallback] | EventCallback | None = None,
        hooks: Hooks | None = None,
        on_saved: Callable[[Certificate], None] | None = None,
    ) -> None:
        self.store = store
        self.solver = solver if solver is not None else StoreSolver(store)
        self.policy = policy or _policy.Policy()
        self.clock = clock
        self.rng = rng or random.Random()
        self.owner = owner or default_owner()
        self.lease_ttl = lease_ttl
        self.timeout = timeout
        self.hook_timeout = hook_timeout
        self.backoff = _policy.CABackoff(self.policy)
        self.hooks = hooks
        self.on_saved = on_saved
        if on_event is None:
            self.callbacks: list[EventCallback] = []
        elif callable(on_event):
            self.callbacks = [on_event]
        else:
            self.callbacks = list(on_event)

    # -- lineages in the store (blocking; the async manager runs these in a thread) ----------

    def now(self) -> datetime.datetime:
        """The manager clock's current time (aware UTC; a naive clock is a `ManagerError`)."""
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ManagerError("The manager's clock returned a naive datetime")
        return now

    def load(self, lineage_id: str) -> Certificate | None:
        """The lineage ``lineage_id`` from the store, or None."""
        files = self.store.read_group(lineage_group(lineage_id))
        return Certificate.from_files(files) if files else None

    def lineages(self) -> list[Certificate]:
        """Every lineage in the store, by id."""
        ids = sorted({key.split("/")[1] for key in self.store.list(LINEAGES)})
        found = [self.load(lineage_id) for lineage_id in ids]
        return [record for record in found if record is not None]

    def save(self, record: Certificate, lease: Lease | None = None) -> None:
        """Write a lineage as one group, scheduled for its next action."""
        items, private = stored_files(record)
        self.store.write(items, private=private, fence=lease, due=record.due_at(self.now()))

    def add(self, record: Certificate) -> None:
        """Record a new lineage; its first certificate is issued by the next run."""
        lease = self.store.lock(record.group, owner=self.owner, ttl=self.lease_ttl)
        try:
            if self.store.read(f"{record.group}/record.json") is not None:
                raise StorageError(f"Lineage {record.id} already exists")
            self.save(record, lease)
        finally:
            self.store.unlock(lease)

    def delete(self, lineage_id: str) -> None:
        """Forget a lineage and its keys (the certificate itself stays valid at the CA)."""
        group = lineage_group(lineage_id)
        lease = self.store.lock(group, owner=self.owner, ttl=self.lease_ttl)
        try:
            self.store.delete(group, fence=lease)
        finally:
            self.store.unlock(lease)

    # -- one lineage's turn -------------------------------------------------------------------

    def context(
        self, record: Certificate, account_key: Any, account_url: str | None, has_ari: bool,
        force: bool, dry_run: bool,
    ) -> Context:  # fmt: skip
        """The `Context` of one lineage's turn with this manager's settings."""
        now = self.now()
        hook_env: dict[str, str] = {}
        path = self.store_path(record.group)
        if path is not None:
            hook_env = {
                "RENEWED_LINEAGE": str(path),
                "ACME_KEY_FILE": str(path / "key.pem"),
                "ACME_CHAIN_FILE": str(path / "chain.pem"),
            }
        return Context(
            now=now,
            rng=self.rng,
            account_key=account_key,
            deadline=utcnow() + datetime.timedelta(seconds=self.timeout),
            ca_has_ari=has_ari,
            ca_blocked_until=self.backoff.blocked_until(record.directory_url, now),
            account_url=account_url,
            policy=self.policy,
            force=force,
            dry_run=dry_run,
            hook_env=hook_env,
            hooks=self.hooks,
        )

    def store_path(self, group: str) -> Path | None:
        """The folder of ``group`` when the store is a `FileStore`, else None (hook variables)."""
        root = getattr(self.store, "root", None)
        return Path(root) / group if isinstance(root, Path) else None

    def start_turn(
        self,
        lineage_id: str,
        files: dict[str, bytes],
        clients: Mapping[str, Any],
        *,
        force: bool,
        dry_run: bool,
        reschedule: bool,
    ) -> tuple[Flow, Any] | Outcome | None:
        """What one lineage's turn runs, from its stored ``files``: its flow and its CA's
        client; an `Outcome` when it cannot start (unknown CA, unreadable record); None when
        the lineage was deleted meanwhile. Both drivers start their turns here."""
        if not files:
            return None
        try:
            record = Certificate.from_files(files)
            client = clients[record.directory_url]
        except KeyError:
            return self.failed(lineage_id, "no client for its CA", None)
        except StorageError as error:
            return self.failed(lineage_id, f"unreadable record: {error}", error)
        account = client.net.account
        ctx = self.context(
            record, client.net.key, account.uri if account else None,
            "renewalInfo" in client.directory, force, dry_run,
        )  # fmt: skip
        ctx.reschedule = reschedule
        return lineage_flow(record, ctx), client

    def failed(self, lineage_id: str, message: str, cause: BaseException | None) -> Outcome:
        """The outcome of a lineage that could not even start (unknown CA, unreadable)."""
        error = LineageError(lineage_id, message)
        error.__cause__ = cause
        placeholder = Certificate(lineage_id, ("unknown",), "")
        event = Event("failed", lineage_id, self.now(), error=error)
        return Outcome(placeholder, "failed", [event], error=error)

    def finish(self, outcome: Outcome, report: RunReport) -> None:
        """Record an outcome in the report, note rate limits, deliver its events."""
        lineage = outcome.record.id
        if isinstance(outcome.error, RateLimited):
            self.backoff.rate_limited(outcome.error.ca, outcome.error.retry_at, self.now())
        if outcome.error is not None:
            report.failed[lineage] = outcome.error
        if outcome.action == "issued":
            report.issued.append(lineage)
        elif outcome.action == "renewed":
            report.renewed.append(lineage)
        elif outcome.action == "checked":
            report.checked.append(lineage)
        elif outcome.action == "would_renew":
            report.would_renew.append(lineage)
        elif outcome.action == "skipped":
            report.skipped[lineage] = outcome.skip_reason or "locked"
        if outcome.wait_until is not None:
            report.waiting[lineage] = outcome.wait_until
        self.emit(outcome.events)

    def emit(self, events: Iterable[Event]) -> None:
        """Deliver ``events`` to every callback; a failing callback is logged, not raised."""
        for event in events:
            for callback in self.callbacks:
                try:
                    callback(event)
                except Exception:  # a broken metrics hook must not stop renewals
                    logger.exception("Event callback %r failed on %s", callback, event.kind)
