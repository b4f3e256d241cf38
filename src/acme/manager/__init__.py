"""Managed certificates: keep a store of certificate lineages alive, renewing by ARI.

A *lineage* (`Certificate`) is a certificate that gets renewed: names, key type, CA, account,
profile, challenge method, hooks, the current and previous key/chain pairs, and its schedule.
A manager goes through the lineages of a `Storage` and, for each one:

- fetches RFC 9773 renewal information when it is due (right after issuance, then when the
  CA's ``Retry-After`` says; six hours after an error);
- renews at a random time inside the CA's suggested window (at once when the window was moved
  into the past), or at 2/3 of the lifetime when the CA has no ARI; renewals carry
  ``replaces``, and are retried without it if the CA refuses it;
- backs off per CA on ``rateLimited`` until its ``Retry-After``, and per lineage after a
  failure; a failure is a `LineageError` in the `RunReport`, never an exception of the run;
- issues one certificate at a time per name (a lock per name in the store);
- tells callbacks about every `Event` (issued, renewed, failed, revoked, window_changed).

`Manager` is blocking (on `acme.client.ClientV2`), `AsyncManager` is asyncio (on
`acme.asyncio_client.AsyncClientV2`); both run the same sans-I/O flow. Stores: `FileStore`
(default, one machine) and ``acme.manager.postgresql.PostgresStore`` (a fleet, needs the
``postgresql`` extra).

Hooks (`Hooks`) are shell commands. ``pre`` runs before an order, ``post`` after it (also
when it failed), ``deploy`` after a new certificate was saved. Their environment:
``ACME_HOOK`` (pre/post/deploy), ``ACME_LINEAGE`` (the id), ``ACME_NAMES`` (space-separated);
deploy also gets ``RENEWED_DOMAINS`` (= ACME_NAMES, as certbot), ``ACME_SERIAL`` (hex),
``ACME_NOT_AFTER`` (ISO 8601) and, with a `FileStore`, ``RENEWED_LINEAGE`` (the lineage's
folder), ``ACME_KEY_FILE`` and ``ACME_CHAIN_FILE``. A hook that exits non-zero or runs past
``hook_timeout`` is a `HookError`. In short::

    store = FileStore("/var/lib/acme")
    manager = Manager(store, {directory_url: client})
    manager.add(Certificate("www.example.org", ("www.example.org",), directory_url))
    report = manager.run_once()     # from cron or a timer, e.g. every hour
"""

from __future__ import annotations

from acme.manager._async import AsyncManager
from acme.manager._base import ManagerBase
from acme.manager._challenges import (
    ChallengeAnswer,
    Solver,
    StoreHTTP01Resources,
    StoreSolver,
    StoreTLSALPN01Certs,
)
from acme.manager._errors import (
    HookError,
    LeaseLost,
    LineageError,
    LockHeld,
    ManagerError,
    RateLimited,
    StorageError,
)
from acme.manager._events import Event, EventKind, RunReport
from acme.manager._filestore import FileStore, default_store_dir
from acme.manager._policy import Policy
from acme.manager._record import KEY_TYPES, Certificate, CertificatePair, Hooks
from acme.manager._store import Lease, Storage
from acme.manager._sync import Manager

__all__ = [
    "KEY_TYPES",
    "AsyncManager",
    "Certificate",
    "CertificatePair",
    "ChallengeAnswer",
    "Event",
    "EventKind",
    "FileStore",
    "HookError",
    "Hooks",
    "Lease",
    "LeaseLost",
    "LineageError",
    "LockHeld",
    "Manager",
    "ManagerBase",
    "ManagerError",
    "Policy",
    "RateLimited",
    "RunReport",
    "Solver",
    "Storage",
    "StorageError",
    "StoreHTTP01Resources",
    "StoreSolver",
    "StoreTLSALPN01Certs",
    "default_store_dir",
]
