"""One run at a time per state folder (``--config-dir``), and who holds it.

Two runs sharing a state folder would race on the account files and the rescued pairs, and
the loser used to fail with a misleading hint. Every command that uses the state folder takes
an exclusive ``flock`` on ``<config-dir>/lock`` first (never waiting) and writes into it who it
is: pid, command and since when. The kernel drops the lock when the process ends, crash or
SIGKILL included, so a stale lock file never blocks anyone; its text is only read while a
live process holds the lock. (On Windows, which has no ``flock``, there is no lock.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from acme._wire.timestamps import utcnow
from acme.cli._files import make_private_dirs
from acme.cli._output import CLIError

if sys.platform != "win32":
    import fcntl

__all__ = ["invocation", "state_lock"]

LOCK_NAME = "lock"


def invocation(args: argparse.Namespace) -> str:
    """A short, secret-free description of this run, e.g. ``acme issue a.example``."""
    parts = ["acme", getattr(args, "command", None), getattr(args, "action", None)]
    parts += list(getattr(args, "names", None) or [])
    certificate = getattr(args, "certificate", None)
    if certificate is not None:
        parts.append(str(certificate))
    return " ".join(str(part) for part in parts if part)


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote into the file."""
    try:
        info = json.loads(os.pread(fd, 4096, 0))
        return f"pid {int(info['pid'])} ({info['command']}), since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said who it is yet"


@contextlib.contextmanager
def state_lock(config_dir: Path, command: str) -> Iterator[None]:
    """Hold the state folder's lock for the block, or fail at once saying who holds it."""
    if sys.platform == "win32":  # pragma: no cover - no flock there
        yield
        return
    make_private_dirs(config_dir)
    path = config_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CLIError(
                f"another acme run is using {config_dir}: {_holder(fd)}; wait for it to "
                "finish (or stop it), then try again"
            ) from None
        since = utcnow().strftime("%Y-%m-%d %H:%M:%S UTC")
        record = {"pid": os.getpid(), "command": command, "since": since}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8") + b"\n", 0)
        yield
    finally:
        os.close(fd)  # releases the lock
