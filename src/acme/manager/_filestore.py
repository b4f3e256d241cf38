"""`FileStore`: the default store, a folder on one machine, crash-safe and locked with flock.

Layout under ``root`` (every folder mode 0700, whatever the umask)::

    lineages/www.example.org -> .www.example.org.v7     one symlink per group
    lineages/.www.example.org.v7/{record.json,key.pem,chain.pem,...,.due}
    lineages/.www.example.org.v6/...                    the previous version, kept
    .locks/<name>.lock, .locks/<name>.json              flock file and lease record

A write builds a complete new version folder beside the current one (unchanged files are hard
links, new ones written with fsync, private keys mode 0600 from their creation), then points
the group's symlink at it with one ``rename`` (atomic on POSIX). A crash at any moment leaves
the symlink on a complete version, so a key is never beside another key's chain; a half-built
folder is removed by the next write. The version before is kept (the previous pair survives
even a bad deploy), older ones are removed.

Locks: the lease of ``name`` is an ``fcntl.flock`` on ``.locks/<name>.lock``, held by the open
file for as long as the lease, so it ends when its process ends, even by SIGKILL. Its record
(owner, fencing token, expiry) is in ``.locks/<name>.json``; the token grows by one with each
acquisition. On one machine the kernel's lock is what counts: ``ttl`` is recorded, not enforced.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import fcntl
import json
import os
import re
import shutil
import threading
import urllib.parse
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from acme._wire.timestamps import utcnow
from acme.manager._errors import LeaseLost, LockHeld, StorageError
from acme.manager._store import Lease, Storage, check_key, one_group, split_key

__all__ = ["FileStore", "default_store_dir"]

_DIR_MODE, _PRIVATE_MODE, _PUBLIC_MODE = 0o700, 0o600, 0o644
_DUE = ".due"
_VERSION = re.compile(r"\.(.+)\.v(\d+)\Z")


def default_store_dir() -> Path:
    """The CLI's state folder: ``$XDG_CONFIG_HOME/acme-python-cli/store`` (or ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "acme-python-cli" / "store"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore(Storage):
    """A `Storage` in a local folder (see the module docstring)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_dir()
        self._mkdirs(self.root)
        self._locks = self.root / ".locks"
        self._mkdirs(self._locks)
        self._held: dict[str, tuple[int, int]] = {}  # lock name -> (fd, token)
        self._mutex = threading.Lock()

    # -- paths and folders -----------------------------------------------------------------

    def _mkdirs(self, path: Path) -> None:
        """Create ``path`` and its missing parents, each mode 0700 whatever the umask."""
        missing = []
        while not path.exists():
            missing.append(path)
            path = path.parent
        for folder in reversed(missing):
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=_DIR_MODE)
                os.chmod(folder, _DIR_MODE)

    def _group_path(self, group: str) -> Path:
        if not group:
            raise StorageError("FileStore keys need a group: 'group/name'")
        return self.root / check_key(group)

    def _version(self, link: Path) -> Path | None:
        """The version folder ``link`` points at, or None for a group never written."""
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            return None
        except OSError as error:  # a plain folder or file where a group should be
            raise StorageError(f"{link} is not a group of this store: {error}") from error
        return link.parent / target

    # -- reading ---------------------------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        """The value of ``key`` (through its group's current version), or None."""
        group, name = split_key(key)
        try:
            return (self._group_path(group) / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise StorageError(f"Cannot read {key}: {error}") from error

    def read_group(self, group: str) -> dict[str, bytes]:
        """Every file of one version of ``group`` (retried if a writer retires it)."""
        link = self._group_path(group)
        for _ in range(5):  # a writer may retire the version we resolved; take the new one
            version = self._version(link)
            if version is None:
                return {}
            try:
                return {
                    entry.name: entry.read_bytes()
                    for entry in version.iterdir()
                    if not entry.name.startswith(".")
                }
            except FileNotFoundError:
                continue
        raise StorageError(f"Group {group} kept changing while it was read")

    def list(self, prefix: str) -> builtins.list[str]:
        """Every key starting with ``prefix``, sorted."""
        keys = []
        for group, version in self._groups(prefix):
            with contextlib.suppress(FileNotFoundError):
                for entry in version.iterdir():
                    key = f"{group}/{entry.name}"
                    if not entry.name.startswith(".") and key.startswith(prefix):
                        keys.append(key)
        return sorted(keys)

    def _groups(self, prefix: str) -> Iterator[tuple[str, Path]]:
        """``(group, version folder)`` of every group whose keys may start with ``prefix``."""
        base = prefix.rpartition("/")[0]
        start = self.root / base if base else self.root
        if base:
            check_key(base)
            version = self._version(start) if start.is_symlink() else None
            if version is not None:
                yield base, version
                return
        if not start.is_dir():
            return
        for dirpath, dirnames, _ in os.walk(start):
            here = Path(dirpath)
            for name in sorted(dirnames):
                path = here / name
                if name.startswith("."):
                    continue
                if path.is_symlink():
                    version = self._version(path)
                    if version is not None:
                        group = path.relative_to(self.root).as_posix()
                        if group.startswith(prefix) or prefix.startswith(group + "/"):
                            yield group, version
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]

    def due(self, prefix: str, now: datetime.datetime) -> builtins.list[str]:
        """Groups under ``prefix`` whose ``.due`` time is at or before ``now``."""
        found = []
        for group, version in self._groups(prefix):
            if not group.startswith(prefix):
                continue
            try:
                when = datetime.datetime.fromisoformat((version / _DUE).read_text("ascii"))
            except (FileNotFoundError, ValueError):
                continue
            if when <= now:
                found.append((when, group))
        return [group for _, group in sorted(found)]

    # -- writing ---------------------------------------------------------------------------

    def write(
        self,
        items: Mapping[str, bytes],
        *,
        private: Collection[str] = (),
        fence: Lease | None = None,
        due: datetime.datetime | None = None,
    ) -> None:
        """Replace ``items`` (one group) with a new version folder and one rename."""
        group = one_group(items)
        files = {split_key(key)[1]: (value, key in private) for key, value in items.items()}
        self._commit(group, files, fence, due)

    def _commit(
        self,
        group: str,
        files: Mapping[str, tuple[bytes, bool]],
        fence: Lease | None,
        due: datetime.datetime | None,
        remove: Collection[str] = (),
    ) -> None:
        link = self._group_path(group)
        self._mkdirs(link.parent)
        with self._write_lock(link):
            if fence is not None:
                self._check_fence(fence)
            old = self._version(link)
            number = 0
            if old is not None:
                match = _VERSION.match(old.name)
                number = int(match.group(2)) if match else 0
            new = link.parent / f".{link.name}.v{number + 1}"
            if new.exists():  # left half-built by a crash
                shutil.rmtree(new)
            new.mkdir(mode=_DIR_MODE)
            os.chmod(new, _DIR_MODE)
            if old is not None:
                for entry in old.iterdir():
                    keep = entry.name not in files and entry.name not in remove
                    if keep and not (entry.name == _DUE and due is not None):
                        os.link(entry, new / entry.name)
            for name, (value, secret) in files.items():
                self._write_file(new / name, value, _PRIVATE_MODE if secret else _PUBLIC_MODE)
            if due is not None:
                self._write_file(new / _DUE, due.isoformat().encode(), _PUBLIC_MODE)
            _fsync_dir(new)
            self._before_switch(new)
            tmp = link.parent / f".{link.name}.link-tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(new.name, tmp)
            os.replace(tmp, link)  # the one atomic step
            _fsync_dir(link.parent)
            self._retire(link, keep={new.name, old.name if old is not None else ""})

    def _before_switch(self, version: Path) -> None:
        """Called with a complete new version, just before the switch (crash tests hook it)."""

    @staticmethod
    def _write_file(path: Path, data: bytes, mode: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            os.fchmod(fd, mode)  # exactly this mode, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _retire(self, link: Path, keep: set[str]) -> None:
        prefix = f".{link.name}.v"
        for entry in link.parent.iterdir():
            if entry.name.startswith(prefix) and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    @contextlib.contextmanager
    def _write_lock(self, link: Path) -> Iterator[None]:
        """Serialize writers of one group across threads and processes."""
        fd = os.open(
            link.parent / f".{link.name}.wlock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def delete(self, key_or_group: str, *, fence: Lease | None = None) -> None:
        """Remove a group (symlink and versions) or one key (a new version without it)."""
        path = self._group_path(check_key(key_or_group))
        if path.is_symlink():  # a whole group
            with self._write_lock(path):
                if fence is not None:
                    self._check_fence(fence)
                os.unlink(path)
                self._retire(path, keep=set())
            return
        group, name = split_key(key_or_group)
        if not group:
            return  # neither a group nor a key of one: nothing to delete
        link = self._group_path(group)
        version = self._version(link)
        if version is not None and (version / name).exists():
            self._commit(group, {}, fence, None, remove={name})

    # -- leases ----------------------------------------------------------------------------

    def _lock_paths(self, name: str) -> tuple[Path, Path]:
        quoted = urllib.parse.quote(check_key(name), safe="")
        return self._locks / f"{quoted}.lock", self._locks / f"{quoted}.json"

    def _lease_record(self, name: str) -> dict[str, object]:
        try:
            data = json.loads(self._lock_paths(name)[1].read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lock(self, name: str, *, owner: str, ttl: float) -> Lease:
        """Take the flock of ``name`` without waiting; `LockHeld` names the holder."""
        lock_path, record_path = self._lock_paths(name)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            record = self._lease_record(name)
            expires = record.get("expires")
            raise LockHeld(
                name,
                str(record.get("owner", "unknown")),
                datetime.datetime.fromisoformat(expires) if isinstance(expires, str) else None,
            ) from None
        try:
            previous = self._lease_record(name).get("token", 0)
            token = (previous if isinstance(previous, int) else 0) + 1
            lease = Lease(name, owner, token, utcnow() + datetime.timedelta(seconds=ttl))
            self._save_lease(record_path, lease)
        except BaseException:
            os.close(fd)
            raise
        with self._mutex:
            self._held[name] = (fd, token)
        return lease

    def _save_lease(self, path: Path, lease: Lease) -> None:
        data = {"owner": lease.owner, "token": lease.token, "expires": lease.expires.isoformat()}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data), "utf-8")
        os.replace(tmp, path)

    def _check_fence(self, lease: Lease) -> None:
        with self._mutex:
            held = self._held.get(lease.name)
        record = self._lease_record(lease.name)
        if held is None or held[1] != lease.token or record.get("token") != lease.token:
            raise LeaseLost(f"Lease {lease.name!r} (token {lease.token}) is no longer held")

    def renew(self, lease: Lease, ttl: float) -> Lease:
        """Record a later expiry for a lease we still hold (`LeaseLost` otherwise)."""
        self._check_fence(lease)
        renewed = Lease(
            lease.name, lease.owner, lease.token, utcnow() + datetime.timedelta(seconds=ttl)
        )
        self._save_lease(self._lock_paths(lease.name)[1], renewed)
        return renewed

    def unlock(self, lease: Lease) -> None:
        """Release the flock and mark the lease record released."""
        with self._mutex:
            held = self._held.get(lease.name)
            if held is None or held[1] != lease.token:
                return
            del self._held[lease.name]
        fd = held[0]
        try:
            released = Lease(lease.name, "", lease.token, utcnow())
            self._save_lease(self._lock_paths(lease.name)[1], released)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release every lock this store still holds."""
        with self._mutex:
            held, self._held = self._held, {}
        for fd, _ in held.values():
            os.close(fd)
