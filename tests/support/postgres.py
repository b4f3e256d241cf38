"""A real PostgreSQL server for tests: ``initdb`` + ``postgres`` on a Unix socket in a temp dir.

The binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``, installed
by ``.ci/run``), or ``$PATH``. PostgreSQL refuses to run as root, so as root the data folder is
given to the ``postgres`` user (which the package creates) and the server runs as that user.
It listens on no TCP port at all (``listen_addresses=''``), only on a socket in the temp dir,
and it is stopped (SIGINT: fast shutdown) and removed when the test session ends.

Without the binaries the tests are skipped on a developer machine, but fail under CI (``$CI``
set), where ``.ci/run`` must have installed them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PostgresServer", "find_bin_dir", "postgres_server"]

START_TIMEOUT = 60.0


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb, else initdb's on $PATH."""

    def version(path: str) -> int:
        name = Path(path).parent.parent.name
        return int(name) if name.isdigit() else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@dataclasses.dataclass
class PostgresServer:
    """A running server: ``conninfo(dbname)`` and ``new_database()`` (a fresh empty one)."""

    socket_dir: Path
    process: subprocess.Popen[bytes]
    _counter: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port=5432 user=postgres dbname={dbname}"

    def new_database(self) -> str:
        """Create an empty database; returns its conninfo."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.conninfo(name)


def _demote() -> tuple[dict[str, Any], int, int] | None:
    """subprocess options to run as ``postgres`` when we are root (None when not root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root, and there is no 'postgres' user to run PostgreSQL as")
    options = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    return options, entry.pw_uid, entry.pw_gid


def _wait_ready(server: PostgresServer, log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"postgres exited with {server.process.returncode}: {log.read_text()}")
        try:
            with psycopg.connect(server.conninfo(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.1)
    pytest.fail(f"postgres did not accept connections within {START_TIMEOUT} s")


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL binaries not found (Debian package postgresql; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="acme-pg-"))
    data, sockets, log = root / "data", root / "run", root / "postgres.log"
    demoted = _demote()
    run_as: dict[str, Any] = {}
    if demoted is not None:
        run_as, uid, gid = demoted
        os.chown(root, uid, gid)
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120, cwd=root, **run_as,
        )  # fmt: skip
        sockets.mkdir()
        if demoted is not None:
            os.chown(sockets, demoted[1], demoted[2])
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-k", str(sockets),
                 "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=60"],
                stdout=log_file, stderr=subprocess.STDOUT, cwd=root, **run_as,
            )  # fmt: skip
        server = PostgresServer(sockets, process)
        _wait_ready(server, log)
        yield server
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (see the module docstring)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The conninfo of a fresh, empty database on the session's server."""
    return postgres_server.new_database()


NewDatabase = Callable[[], str]
