"""`PostgresStore`: one PostgreSQL database shared by a fleet of managers (psycopg 3).

Install with ``pip install acme-protocol[postgresql]``. Tables (created on first use)::

    acme_objects     key, grp, value, private: every stored file (a lineage's record and pairs)
    acme_lineages    grp, due_at: the schedule, one row per lineage
    acme_leases      name, owner, token, expires_at: locks with fencing tokens
    acme_challenges  key, value: challenge answers (http-01 key authorizations, tls-alpn-01
                     certificates), readable by every node, so whichever node the CA reaches
                     can answer

Rules:

- A group write is one transaction, so a key is never beside another key's chain.
- Leases expire on the database's clock (``clock_timestamp()``), so nodes' clocks need not
  agree; a node that dies simply stops extending its leases. Fencing tokens come from one
  sequence, so every acquisition of a name gets a larger token than the one before. A fenced
  write locks the lease row (``FOR UPDATE``) and checks it is still ours and unexpired.
- Due work is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` and leased in the same
  statement: two managers claiming at the same moment get disjoint lineages, and a lineage
  leased by a live manager is skipped, never waited for.
- Private keys are stored as they are in files: protect the database (roles, TLS) as you
  would protect the key folder.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import threading
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from acme import errors
from acme.manager._errors import LeaseLost, LockHeld, StorageError
from acme.manager._store import Lease, Storage, check_key, one_group

__all__ = ["SCHEMA", "PostgresStore"]

_CHALLENGES = "challenges/"

#: The tables, index and sequence the store creates on first use (idempotent).
SCHEMA = """
CREATE TABLE IF NOT EXISTS acme_objects (
    key text PRIMARY KEY,
    grp text NOT NULL,
    value bytea NOT NULL,
    private boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS acme_objects_grp ON acme_objects (grp);
CREATE TABLE IF NOT EXISTS acme_lineages (
    grp text PRIMARY KEY,
    due_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS acme_lineages_due ON acme_lineages (due_at);
CREATE TABLE IF NOT EXISTS acme_leases (
    name text PRIMARY KEY,
    owner text NOT NULL,
    token bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS acme_fencing_tokens;
CREATE TABLE IF NOT EXISTS acme_challenges (
    key text PRIMARY KEY,
    value bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""

_LOCK = """
INSERT INTO acme_leases (name, owner, token, expires_at)
VALUES (%s, %s, nextval('acme_fencing_tokens'), clock_timestamp() + make_interval(secs => %s))
ON CONFLICT (name) DO UPDATE
    SET owner = EXCLUDED.owner, token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
    WHERE acme_leases.expires_at <= clock_timestamp()
RETURNING token, expires_at
"""

# One statement: pick due lineages nobody holds (rows another claimer is looking at are
# skipped, not waited for), and lease them. The ON CONFLICT guard re-checks the newest lease
# row, so a lineage leased meanwhile by someone else is not taken over.
_CLAIM = """
WITH due AS (
    SELECT l.grp FROM acme_lineages AS l
    WHERE l.grp LIKE %(prefix)s AND l.due_at <= %(now)s
      AND NOT EXISTS (
          SELECT 1 FROM acme_leases AS s
          WHERE s.name = l.grp AND s.expires_at > clock_timestamp()
      )
    ORDER BY l.due_at
    LIMIT %(limit)s
    FOR UPDATE OF l SKIP LOCKED
)
INSERT INTO acme_leases (name, owner, token, expires_at)
SELECT grp, %(owner)s, nextval('acme_fencing_tokens'),
       clock_timestamp() + make_interval(secs => %(ttl)s)
FROM due
ON CONFLICT (name) DO UPDATE
    SET owner = EXCLUDED.owner, token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
    WHERE acme_leases.expires_at <= clock_timestamp()
RETURNING name, token, expires_at
"""


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PostgresStore(Storage):
    """A `Storage` in PostgreSQL (see the module docstring).

    :param conninfo: a libpq connection string or ``postgresql://`` URL.
    :param connect_timeout: seconds to wait for the server when connecting.
    :param statement_timeout: seconds any one statement may take (a deadline on every call).
    """

    def __init__(
        self, conninfo: str, *, connect_timeout: float = 10.0, statement_timeout: float = 30.0
    ) -> None:
        try:
            import psycopg
        except ImportError as error:  # pragma: no cover - the extra is not installed
            raise errors.DependencyError(
                "PostgresStore needs psycopg 3: pip install acme-protocol[postgresql]"
            ) from error
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=max(1, int(connect_timeout)),
                options=f"-c statement_timeout={int(statement_timeout * 1000)}",
            )
        except psycopg.Error as error:
            raise StorageError(f"Cannot connect to PostgreSQL: {error}") from error
        self._mutex = threading.RLock()
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(8555)")  # one schema creator at a time
            cur.execute(SCHEMA)

    # -- plumbing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor in one transaction; database errors become `StorageError`."""
        with self._mutex:
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except self._psycopg.Error as error:
                raise StorageError(f"PostgreSQL error: {error}") from error

    def _query(self, sql: str, params: Any = ()) -> builtins.list[tuple[Any, ...]]:
        with self._transaction() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    @staticmethod
    def _table(key: str) -> str:
        return "acme_challenges" if key.startswith(_CHALLENGES) else "acme_objects"

    def _fence(self, cur: Any, lease: Lease) -> None:
        cur.execute(
            "SELECT 1 FROM acme_leases WHERE name = %s AND token = %s"
            " AND expires_at > clock_timestamp() FOR UPDATE",
            (lease.name, lease.token),
        )
        if cur.fetchone() is None:
            raise LeaseLost(f"Lease {lease.name!r} (token {lease.token}) is no longer held")

    # -- Storage -----------------------------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        """The value of ``key``, or None."""
        check_key(key)
        rows = self._query(f"SELECT value FROM {self._table(key)} WHERE key = %s", (key,))
        return bytes(rows[0][0]) if rows else None

    def read_group(self, group: str) -> dict[str, bytes]:
        """Every key of ``group`` in one statement (one consistent snapshot)."""
        if group.startswith(_CHALLENGES) or group + "/" == _CHALLENGES:
            return super().read_group(group)
        rows = self._query("SELECT key, value FROM acme_objects WHERE grp = %s", (group,))
        return {key.rpartition("/")[2]: bytes(value) for key, value in rows}

    def write(
        self,
        items: Mapping[str, bytes],
        *,
        private: Collection[str] = (),
        fence: Lease | None = None,
        due: datetime.datetime | None = None,
    ) -> None:
        """Replace ``items`` (one group) in one transaction, fenced and scheduled if asked."""
        group = one_group(items)
        with self._transaction() as cur:
            if fence is not None:
                self._fence(cur, fence)
            answers = [(k, bytes(v)) for k, v in items.items() if k.startswith(_CHALLENGES)]
            files = [
                (k, group, bytes(v), k in private)
                for k, v in items.items()
                if not k.startswith(_CHALLENGES)
            ]
            if answers:
                cur.executemany(
                    "INSERT INTO acme_challenges (key, value) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    answers,
                )
            if files:
                cur.executemany(
                    "INSERT INTO acme_objects (key, grp, value, private) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
                    " private = EXCLUDED.private, updated_at = clock_timestamp()",
                    files,
                )
            if due is not None:
                cur.execute(
                    "INSERT INTO acme_lineages (grp, due_at) VALUES (%s, %s)"
                    " ON CONFLICT (grp) DO UPDATE SET due_at = EXCLUDED.due_at",
                    (group, due),
                )

    def list(self, prefix: str) -> builtins.list[str]:
        """Every key starting with ``prefix`` (files and challenge answers), sorted."""
        rows = self._query(
            "SELECT key FROM acme_objects WHERE key LIKE %s"
            " UNION ALL SELECT key FROM acme_challenges WHERE key LIKE %s ORDER BY 1",
            (_like(prefix), _like(prefix)),
        )
        return [key for (key,) in rows]

    def delete(self, key_or_group: str, *, fence: Lease | None = None) -> None:
        """Delete a key, or a group with its schedule, in one transaction."""
        check_key(key_or_group)
        with self._transaction() as cur:
            if fence is not None:
                self._fence(cur, fence)
            cur.execute(
                "DELETE FROM acme_objects WHERE key = %s OR grp = %s",
                (key_or_group, key_or_group),
            )
            cur.execute("DELETE FROM acme_lineages WHERE grp = %s", (key_or_group,))
            cur.execute(
                "DELETE FROM acme_challenges WHERE key = %s OR key LIKE %s",
                (key_or_group, _like(key_or_group + "/")),
            )

    def lock(self, name: str, *, owner: str, ttl: float) -> Lease:
        """Take or take over (if expired) the lease ``name``; `LockHeld` names the holder."""
        check_key(name)
        with self._transaction() as cur:
            cur.execute(_LOCK, (name, owner, float(ttl)))
            row = cur.fetchone()
            if row is None:
                cur.execute("SELECT owner, expires_at FROM acme_leases WHERE name = %s", (name,))
                held = cur.fetchone()
                holder, expires = held if held is not None else ("unknown", None)
                raise LockHeld(name, str(holder), expires)
        return Lease(name, owner, int(row[0]), row[1])

    def renew(self, lease: Lease, ttl: float) -> Lease:
        """Extend an unexpired lease we hold, on the database clock."""
        rows = self._query(
            "UPDATE acme_leases SET expires_at = clock_timestamp() + make_interval(secs => %s)"
            " WHERE name = %s AND token = %s AND expires_at > clock_timestamp()"
            " RETURNING expires_at",
            (float(ttl), lease.name, lease.token),
        )
        if not rows:
            raise LeaseLost(f"Lease {lease.name!r} (token {lease.token}) is no longer held")
        return Lease(lease.name, lease.owner, lease.token, rows[0][0])

    def unlock(self, lease: Lease) -> None:
        """Delete the lease if it is still ours (same fencing token)."""
        self._query(
            "DELETE FROM acme_leases WHERE name = %s AND token = %s", (lease.name, lease.token)
        )

    def due(self, prefix: str, now: datetime.datetime) -> builtins.list[str]:
        """Scheduled groups under ``prefix`` due at or before ``now``, earliest first."""
        rows = self._query(
            "SELECT grp FROM acme_lineages WHERE grp LIKE %s AND due_at <= %s ORDER BY due_at",
            (_like(prefix), now),
        )
        return [group for (group,) in rows]

    def claim_due(
        self, prefix: str, now: datetime.datetime, *, owner: str, ttl: float, limit: int
    ) -> builtins.list[tuple[str, Lease]]:
        """Lease up to ``limit`` due groups in one ``FOR UPDATE SKIP LOCKED`` statement."""
        rows = self._query(
            _CLAIM,
            {"prefix": _like(prefix), "now": now, "limit": limit, "owner": owner, "ttl": ttl},
        )
        return [(name, Lease(name, owner, int(token), expires)) for name, token, expires in rows]

    def close(self) -> None:
        """Close the database connection."""
        with self._mutex:
            self._conn.close()
