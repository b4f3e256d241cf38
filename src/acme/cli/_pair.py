"""A certificate key and its chain, replaced as one: versioned folders and one atomic switch.

Why: a web server that finds a new key beside the old chain (or the reverse) refuses to start.
Writing two files can never be atomic, so the pair never lives in two independently replaced
files. Layout, for ``--key-file DIR/privkey.pem`` and any ``--chain-file``::

    DIR/.privkey.pem.acme/          the archive of this key file (mode 0755)
        1/privkey.pem               an earlier pair (the previous one is kept)
        1/fullchain.pem
        2/privkey.pem               the newest pair
        2/fullchain.pem
        current -> 2                the one switch: a symlink, replaced by one rename
    DIR/privkey.pem   -> .privkey.pem.acme/current/privkey.pem
    CHAIN             -> (relative path to) DIR/.privkey.pem.acme/current/fullchain.pem

A new pair is written into a fresh numbered folder (files fsynced, the folder renamed into
place), then ``current`` is switched with ``os.replace``: a crash at any moment leaves the
key and the chain both old or both new. Plain files found at the two paths (an earlier
layout, or files made by hand) are first copied into the archive as a version of their own,
then replaced by the links, which still read the same bytes: every step is consistent.

Permissions: a new key is 0600 and a new chain 0644; replacing existing files keeps their
owner, group and mode (a private key never keeps permissions for "other"). Archive folders
are 0755 so that whoever could read the chain still can; the key is protected by its own
mode. A chain file outside the key's folder is read through the key's folder: its readers need
search (x) permission there. The archive keeps the current and the previous pair.

`replace_pair_atomically` is the one entry point (shared with the renewal manager).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import stat
import time
from pathlib import Path

from acme.cli._files import check_can_write
from acme.cli._output import CLIError

__all__ = [
    "PairWritten",
    "archive_of",
    "check_pair_writable",
    "hook_point",
    "replace_pair_atomically",
]

KEY_NAME = "privkey.pem"
CHAIN_NAME = "fullchain.pem"
CURRENT = "current"
_ARCHIVE_MODE = 0o755
_KEY_MODE = 0o600
_CHAIN_MODE = 0o644

# Private test hook, NOT an interface: ``_ACME_CLI_TEST_HOOK=crash:POINT`` makes the process
# SIGKILL itself at POINT (see `hook_point`), ``pause:POINT:FILE`` creates FILE there and
# waits (60 s at most) until it is removed. Tests use it to kill or stall a real ``acme issue``
# at the dangerous moments and prove the files on disk still match.
_HOOK_ENV = "_ACME_CLI_TEST_HOOK"
_PAUSE_LIMIT = 60.0


def hook_point(point: str) -> None:
    """Where the private test hook may crash or pause the process (no-op otherwise)."""
    hook = os.environ.get(_HOOK_ENV)
    if not hook:
        return
    action, _, rest = hook.partition(":")
    where, _, marker = rest.partition(":")
    if where != point:
        return
    if action == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause" and marker:
        Path(marker).touch()
        until = time.monotonic() + _PAUSE_LIMIT
        while os.path.exists(marker) and time.monotonic() < until:
            time.sleep(0.02)  # noqa: TID251 - a test hook in the CLI shell


@dataclasses.dataclass(frozen=True)
class PairWritten:
    """Where a pair went: the two paths, its version folder, the previous pair's (if kept)."""

    key_path: Path
    chain_path: Path
    version: Path
    previous: Path | None
    warnings: tuple[str, ...] = ()


def archive_of(key_path: Path) -> Path:
    """The archive folder of the pair whose key lives at ``key_path``."""
    return key_path.parent / f".{key_path.name}.acme"


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _probe(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder``: the only test of writability that also holds
    for root (which ``os.access`` answers yes for) and read-only mounts."""
    probe = folder / f".acme-write-test-{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise CLIError(
            f"cannot write the {what} in {folder}: {error.strerror or error} "
            "(checked before ordering; nothing was asked of the CA)"
        ) from error
    os.close(fd)
    os.unlink(probe)


def check_pair_writable(key_path: Path, chain_path: Path, *, force: bool) -> None:
    """Fail before any CA work if the pair could not be written: existing files without
    ``force``, a missing folder, or a folder (or archive) this process cannot write."""
    for path, what in ((key_path, "private key"), (chain_path, "certificate chain")):
        check_can_write(path, force=force, what=what)
        _probe(_folder(path), what)
    archive = archive_of(key_path)
    if archive.is_dir():
        _probe(archive, "new key and chain")
    elif archive.exists() or archive.is_symlink():
        raise CLIError(f"{archive} is in the way: it must be the folder of earlier pairs")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclasses.dataclass(frozen=True)
class _Owner:
    """Owner, group and permission bits to give a file."""

    uid: int
    gid: int
    mode: int


def _owner_of(path: Path, default_mode: int, private: bool) -> _Owner:
    """What a file replacing ``path`` gets: its owner, group and mode if it exists (minus
    "other" bits for a private key), else ours and ``default_mode``."""
    try:
        found = path.stat()  # through the link: the file a reader gets
    except OSError:
        return _Owner(-1, -1, default_mode)
    mode = stat.S_IMODE(found.st_mode) & 0o777
    return _Owner(found.st_uid, found.st_gid, mode & ~0o007 if private else mode)


def _write(path: Path, data: bytes, owner: _Owner, warnings: list[str]) -> None:
    """Create ``path`` (never existing: ``O_EXCL``) with ``data``, then owner and mode; fsync.

    The file starts at 0600, so it is never more open than its final mode along the way.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        if owner.uid != -1 or owner.gid != -1:
            try:
                os.fchown(handle.fileno(), owner.uid, owner.gid)
            except PermissionError:  # not root: keep at least the group if we are in it
                try:
                    os.fchown(handle.fileno(), -1, owner.gid)
                except PermissionError:
                    warnings.append(f"{path}: could not keep the previous owner and group")
        os.fchmod(handle.fileno(), owner.mode)
        os.fsync(handle.fileno())


def _link(path: Path, target: str) -> None:
    """Make ``path`` a symlink to ``target`` in one rename (replacing whatever was there)."""
    tmp = _folder(path) / f".{path.name}.{secrets.token_hex(6)}.link"
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(_folder(path))


def _is_ours(path: Path, archive: Path, name: str) -> bool:
    """Whether ``path`` already is the link through ``archive/current``."""
    return path.is_symlink() and os.readlink(path) == _link_target(path, archive, name)


def _link_target(path: Path, archive: Path, name: str) -> str:
    """The relative link text from ``path``'s folder to ``archive/current/name``."""
    here = os.path.realpath(_folder(path))
    return os.path.relpath(os.path.join(os.path.realpath(archive), CURRENT, name), here)


class _Archive:
    """The numbered versions of one pair and its ``current`` switch."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def versions(self) -> list[int]:
        return sorted(int(p.name) for p in self.folder.iterdir() if p.name.isdigit())

    def current(self) -> int | None:
        try:
            name = os.readlink(self.folder / CURRENT)
        except OSError:
            return None
        return int(name) if name.isdigit() else None

    def add(
        self, files: dict[str, tuple[bytes, _Owner]], warnings: list[str], *, new: bool = False
    ) -> Path:
        """A version holding ``files``, complete on disk before it gets its number (``new``:
        the new pair, where the test hook's ``after-key`` point is)."""
        number = max(self.versions(), default=0) + 1
        tmp = self.folder / f".new-{number}-{secrets.token_hex(6)}"
        tmp.mkdir(_ARCHIVE_MODE)
        os.chmod(tmp, _ARCHIVE_MODE)
        try:
            for name, (data, owner) in files.items():
                _write(tmp / name, data, owner, warnings)
                if new and name == KEY_NAME:
                    hook_point("after-key")
            _fsync_dir(tmp)
            final = self.folder / str(number)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(self.folder)
        return final

    def switch(self, version: Path) -> None:
        """Point ``current`` at ``version``: one rename, the moment the pair changes."""
        _link(self.folder / CURRENT, version.name)

    def prune(self, keep: int) -> None:
        """Remove all but the newest ``keep`` versions (never the current one)."""
        current = self.current()
        for number in self.versions()[:-keep]:
            if number != current:
                shutil.rmtree(self.folder / str(number), ignore_errors=True)
        for leftover in self.folder.glob(".new-*"):  # a version a crash left half-written
            shutil.rmtree(leftover, ignore_errors=True)


def _adopt(key_path: Path, chain_path: Path, archive: _Archive, warnings: list[str]) -> Path | None:
    """Bring files that are not our links into the archive without changing what they read.

    What the two paths read now is copied into a version of its own and made current; then
    each path becomes a link through ``current``, which reads the very same bytes.
    """
    places = ((key_path, KEY_NAME, True), (chain_path, CHAIN_NAME, False))
    stray = [
        (path, name)
        for path, name, _ in places
        if (path.exists() or path.is_symlink()) and not _is_ours(path, archive.folder, name)
    ]
    if not stray:
        return None
    files: dict[str, tuple[bytes, _Owner]] = {}
    for path, name, private in places:
        with contextlib.suppress(FileNotFoundError):  # missing or dangling: nothing to keep
            default = _KEY_MODE if private else _CHAIN_MODE
            files[name] = (path.read_bytes(), _owner_of(path, default, private))
    version = archive.add(files, warnings)
    archive.switch(version)
    for path, name in sorted(stray, key=lambda item: item[1] != CHAIN_NAME):
        _link(path, _link_target(path, archive.folder, name))
        hook_point(f"adopted-{'chain' if name == CHAIN_NAME else 'key'}")
    return version


def replace_pair_atomically(
    key_path: Path, chain_path: Path, key_pem: bytes, chain_pem: bytes, *, keep: int = 2
) -> PairWritten:
    """Install ``key_pem`` and ``chain_pem`` at the two paths as one (see the module text).

    Existing files there are replaced (the caller decides whether that is allowed) and kept
    as the previous version; their owner, group and mode carry over to the new files.
    Raises ``OSError`` if the folders cannot be written; the pair is then not installed,
    or installed whole.
    """
    if keep < 2:
        raise ValueError("keep at least the current and the previous pair")
    folder = archive_of(key_path)
    if not folder.is_dir():
        folder.mkdir(_ARCHIVE_MODE)
        os.chmod(folder, _ARCHIVE_MODE)  # whatever the umask: readers of the chain pass here
    archive = _Archive(folder)
    warnings: list[str] = []
    key_owner = _owner_of(key_path, _KEY_MODE, private=True)
    chain_owner = _owner_of(chain_path, _CHAIN_MODE, private=False)
    _adopt(key_path, chain_path, archive, warnings)
    previous = archive.current()
    files = {KEY_NAME: (key_pem, key_owner), CHAIN_NAME: (chain_pem, chain_owner)}
    version = archive.add(files, warnings, new=True)
    hook_point("before-switch")
    archive.switch(version)
    hook_point("after-switch")
    for path, name in ((chain_path, CHAIN_NAME), (key_path, KEY_NAME)):
        target = _link_target(path, folder, name)
        if not path.is_symlink() or os.readlink(path) != target:
            _link(path, target)  # a first install: the links come after the switch
    try:
        archive.prune(keep)
    except OSError as error:  # the pair is in place; an old version left over is harmless
        warnings.append(f"could not remove old versions in {folder}: {error}")
    kept = folder / str(previous) if previous is not None else None
    if kept is not None and not kept.is_dir():
        kept = None
    return PairWritten(key_path, chain_path, version, kept, tuple(warnings))
