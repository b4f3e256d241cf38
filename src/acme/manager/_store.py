"""The storage interface of the manager: keys, atomic group writes, leases with fencing tokens.

Keys are ``/``-separated paths (``lineages/www.example.org/chain.pem``); a key's *group* is
everything before its last ``/``. Rules every store keeps:

- `Storage.write` replaces several keys of ONE group as a single step: a reader sees all of
  the old values or all of the new ones, never a mix (a key beside the wrong chain). Keys of
  the group that the write does not name are kept.
- A lock is a lease: it has an owner, an expiry and a fencing token that grows with every
  acquisition of that name. A write given ``fence=lease`` succeeds only while that lease is
  still the current one, so a manager that stalled past its lease cannot overwrite the work
  of the one that took over (`LeaseLost`). A lock held by someone else raises `LockHeld`,
  which names the holder.
- ``due`` on a write schedules the group: `Storage.claim_due` finds groups whose time has
  come and leases them, each to one caller only.
"""

from __future__ import annotations

import abc
import builtins
import dataclasses
import datetime
import re
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import TypeVar

from acme.manager._errors import LockHeld, StorageError

__all__ = ["Lease", "Storage", "check_key", "split_key"]

StorageT = TypeVar("StorageT", bound="Storage")

_KEY_PART = re.compile(r"[A-Za-z0-9_%:+=@-][A-Za-z0-9._%:+=@-]{0,254}\Z")  # no "." first


def check_key(key: str) -> str:
    """``key`` if it is a safe relative path of simple parts, else `StorageError`."""
    parts = key.split("/")
    if not key or not all(_KEY_PART.match(part) for part in parts) or len(key) > 1024:
        raise StorageError(f"Invalid storage key {key[:120]!r}")
    return key


def split_key(key: str) -> tuple[str, str]:
    """``(group, name)`` of a key; keys at the top level have the group ``""``."""
    check_key(key)
    group, _, name = key.rpartition("/")
    return group, name


@dataclasses.dataclass(frozen=True)
class Lease:
    """A held lock: ``token`` is its fencing token, ``expires`` aware UTC."""

    name: str
    owner: str
    token: int
    expires: datetime.datetime


class Storage(abc.ABC):
    """Where lineages, locks and challenge answers live (see the module docstring)."""

    @abc.abstractmethod
    def read(self, key: str) -> bytes | None:
        """The value of ``key``, or None if it does not exist."""

    def read_group(self, group: str) -> dict[str, bytes]:
        """Every key of ``group`` (by name), from one consistent version of it."""
        out: dict[str, bytes] = {}
        for key in self.list(group + "/"):
            value = self.read(key)
            if value is not None and key.rpartition("/")[0] == group:
                out[key.rpartition("/")[2]] = value
        return out

    @abc.abstractmethod
    def write(
        self,
        items: Mapping[str, bytes],
        *,
        private: Collection[str] = (),
        fence: Lease | None = None,
        due: datetime.datetime | None = None,
    ) -> None:
        """Replace ``items`` (keys of one group) as one step.

        :param private: keys holding secrets (stored readable by the owner only).
        :param fence: write only while this lease is current, else `LeaseLost`.
        :param due: schedule the group for `claim_due` at this time.
        """

    @abc.abstractmethod
    def list(self, prefix: str) -> builtins.list[str]:
        """Every key starting with ``prefix``, sorted."""

    @abc.abstractmethod
    def delete(self, key_or_group: str, *, fence: Lease | None = None) -> None:
        """Delete a key, or a whole group and its schedule; nothing if it does not exist."""

    @abc.abstractmethod
    def lock(self, name: str, *, owner: str, ttl: float) -> Lease:
        """Take the lock ``name`` for ``ttl`` seconds; `LockHeld` if someone else has it."""

    @abc.abstractmethod
    def renew(self, lease: Lease, ttl: float) -> Lease:
        """Extend a lease we hold (same token); `LeaseLost` if it is no longer ours."""

    @abc.abstractmethod
    def unlock(self, lease: Lease) -> None:
        """Release a lease (nothing if it was already lost)."""

    @abc.abstractmethod
    def due(self, prefix: str, now: datetime.datetime) -> builtins.list[str]:
        """Groups under ``prefix`` scheduled at or before ``now``, earliest first."""

    def claim_due(
        self, prefix: str, now: datetime.datetime, *, owner: str, ttl: float, limit: int
    ) -> builtins.list[tuple[str, Lease]]:
        """Lease up to ``limit`` due groups under ``prefix`` (lock name = group name).

        A group leased by someone else is skipped, never waited for, so many managers can
        share one store and each group goes to one of them.
        """
        claimed: builtins.list[tuple[str, Lease]] = []
        for group in self.due(prefix, now):
            if len(claimed) >= limit:
                break
            try:
                claimed.append((group, self.lock(group, owner=owner, ttl=ttl)))
            except LockHeld:
                continue
        return claimed

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release connections and file handles."""

    def __enter__(self: StorageT) -> StorageT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def one_group(items: Mapping[str, bytes]) -> str:
    """The single group of ``items``; `StorageError` if they span several or none."""
    groups = {split_key(key)[0] for key in items}
    if len(groups) != 1:
        raise StorageError(f"One write must stay in one group, got {sorted(groups)[:5]}")
    return groups.pop()
