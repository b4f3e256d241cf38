"""DNS providers: what publishes and removes the TXT records of DNS challenges.

A provider has two operations, ``publish(name, value)`` and ``cleanup(name, value)``, where
``name`` is the record's owner name without a final dot (``_acme-challenge.example.org``)
and ``value`` the TXT value (providers split values longer than 255 octets into several
strings, RFC 1035 section 3.3.14). Both must be safe to call from several threads at once
(records of one order are published in parallel) and must return within their own deadline.

`DNSChallenges` drives a provider for one order: it publishes every record in parallel,
waits for them on every authoritative server (`PropagationChecker`), and removes them when
the ``with`` block ends, also when issuance failed.
"""

from __future__ import annotations

import abc
import concurrent.futures
import contextlib
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from acme.dns._types import DNSError, Expectation, Progress, TXTRecord

if TYPE_CHECKING:  # pragma: no cover
    from acme.dns._propagation import PropagationChecker

__all__ = ["DNSChallenges", "DNSProvider", "HookProvider", "split_txt"]

logger = logging.getLogger(__name__)
_TXT_STRING = 255  # RFC 1035 section 3.3.14: one character-string holds at most 255 octets
HOOK_GRACE = 2.0  # seconds a stopped hook command gets between SIGTERM and SIGKILL


def split_txt(value: str) -> list[bytes]:
    """``value`` as the character-strings of one TXT record (255 octets each at most)."""
    data = value.encode("utf-8")
    return [data[i : i + _TXT_STRING] for i in range(0, len(data), _TXT_STRING)] or [b""]


class DNSProvider(abc.ABC):
    """Publishes and removes TXT records; see the module docstring for the contract."""

    @abc.abstractmethod
    def publish(self, name: str, value: str) -> None:
        """Add ``value`` to the TXT records at ``name`` (keeping other values there)."""

    @abc.abstractmethod
    def cleanup(self, name: str, value: str) -> None:
        """Remove ``value`` from the TXT records at ``name`` (nothing if it is absent)."""

    def stop(self) -> None:  # noqa: B027 - optional: most providers have nothing to stop
        """Cut short the calls in progress (called from another thread, e.g. on Ctrl-C or
        SIGTERM); they raise `DNSError` soon after, and later calls work as usual. The
        default does nothing: calls end within their own deadline anyway."""


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _end_group(proc: subprocess.Popen[str]) -> None:
    """Stop a hook's process group (SIGTERM, SIGKILL after `HOOK_GRACE` s) and reap it."""
    for sig, grace in ((signal.SIGTERM, HOOK_GRACE), (signal.SIGKILL, None)):
        _signal_group(proc, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


class HookProvider(DNSProvider):
    """Runs a user command: ``CMD present NAME VALUE`` and ``CMD cleanup NAME VALUE``.

    The command must exit with status 0 once the record is published (or removed), within
    ``timeout`` seconds; its last output line explains a failure. ``command`` is split as a
    shell would (`shlex.split`) but run without a shell, in a process group of its own, which
    is ended (with whatever it started) on a timeout, an interrupt or `stop`.
    """

    def __init__(self, command: str | Sequence[str], timeout: float = 300.0) -> None:
        if isinstance(command, str):
            try:
                argv = shlex.split(command)
            except ValueError as error:
                raise DNSError(f"cannot parse the hook command {command!r}: {error}") from error
        else:
            argv = list(command)
        if not argv or not all(isinstance(arg, str) for arg in argv):
            raise DNSError("the DNS hook needs a command")
        self.argv = argv
        self.timeout = timeout
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def _run(self, action: str, name: str, value: str) -> None:
        argv = [*self.argv, action, name, value]
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group: what it starts stops with it
            )
        except OSError as error:
            reason = error.strerror or str(error)
            raise DNSError(f"cannot run dns hook {self.argv[0]}: {reason}") from error
        with self._lock:
            self._running.add(proc)
        try:
            with proc:
                try:
                    out, err = proc.communicate(timeout=self.timeout)
                except subprocess.TimeoutExpired:
                    _end_group(proc)
                    raise DNSError(
                        f"dns hook {action} {name} did not finish in {self.timeout:g}s"
                    ) from None
                except BaseException:  # interrupted here (Ctrl-C): the hook ends with us
                    _end_group(proc)
                    raise
        finally:
            with self._lock:
                self._running.discard(proc)
        if proc.returncode < 0:
            raise DNSError(f"dns hook {action} {name} was stopped (signal {-proc.returncode})")
        if proc.returncode != 0:
            said = (err or out).strip().splitlines()
            reason = f": {' '.join(said[-1].split())[:200]}" if said else ""
            raise DNSError(f"dns hook {action} {name} exited with status {proc.returncode}{reason}")

    def stop(self) -> None:
        """End every hook command running now (and what it started): SIGTERM, then SIGKILL
        for those still running after `HOOK_GRACE` seconds."""
        with self._lock:
            running = list(self._running)
        for proc in running:
            _signal_group(proc, signal.SIGTERM)
        until = time.monotonic() + HOOK_GRACE
        while time.monotonic() < until:
            with self._lock:
                if not self._running & set(running):
                    return
            time.sleep(0.02)  # noqa: TID251 - a shell waiting on child processes
        with self._lock:
            left = self._running & set(running)
        for proc in left:
            _signal_group(proc, signal.SIGKILL)

    def publish(self, name: str, value: str) -> None:
        """Run ``COMMAND present NAME VALUE``."""
        self._run("present", name, value)

    def cleanup(self, name: str, value: str) -> None:
        """Run ``COMMAND cleanup NAME VALUE``."""
        self._run("cleanup", name, value)


class DNSChallenges:
    """Publish one order's TXT records in parallel, wait for them, remove them on exit.

    :param provider: where records go.
    :param checker: waits on the authoritative servers; None skips the wait (the provider
        then promises the records are visible when ``publish`` returns).
    :param timeout: seconds for the wait (propagation), after publishing.
    :param progress: called with every answer seen while waiting.
    :param on_publish: called with each record before it is published (reporting).
    """

    def __init__(
        self,
        provider: DNSProvider,
        checker: PropagationChecker | None = None,
        *,
        timeout: float = 300.0,
        progress: Callable[[Progress], None] | None = None,
        on_publish: Callable[[TXTRecord], None] | None = None,
        max_workers: int = 8,
    ) -> None:
        self.provider = provider
        self.checker = checker
        self.timeout = timeout
        self.progress = progress
        self.on_publish = on_publish
        self.max_workers = max_workers
        self.published: list[TXTRecord] = []
        self.cleanup_errors: list[Exception] = []

    def publish(
        self, records: Sequence[TXTRecord], also_wait_for: Sequence[Expectation] = ()
    ) -> None:
        """Publish ``records`` (in parallel), then wait for them and ``also_wait_for``
        (read-only expectations, e.g. dns-persist-01 records) on every server."""
        records = list(dict.fromkeys(records))
        if records:
            workers = max(1, min(self.max_workers, len(records)))
            with concurrent.futures.ThreadPoolExecutor(workers, "acme-dns-publish") as pool:
                futures = []
                try:
                    for record in records:
                        if self.on_publish is not None:
                            self.on_publish(record)
                        self.published.append(record)  # cleaned up even if publish half-worked
                        futures.append(
                            pool.submit(self.provider.publish, record.name, record.value)
                        )
                    concurrent.futures.wait(futures)
                except BaseException:  # Ctrl-C or SIGTERM: stop the calls the pool waits for
                    self.provider.stop()
                    raise
                failures = [f.exception() for f in futures if f.exception() is not None]
            if failures:
                raise (
                    failures[0]
                    if isinstance(failures[0], DNSError)
                    else DNSError(f"publishing a TXT record failed: {failures[0]}")
                ) from failures[0]
        expected: list[Expectation] = [*records, *also_wait_for]
        if self.checker is not None and expected:
            self.checker.wait(expected, self.timeout, self.progress)

    def cleanup(self) -> None:
        """Remove every published record (in parallel); failures are kept in
        ``cleanup_errors`` and logged, never raised (the certificate may be issued)."""
        records, self.published = self.published, []
        if not records:
            return
        workers = max(1, min(self.max_workers, len(records)))
        with concurrent.futures.ThreadPoolExecutor(workers, "acme-dns-cleanup") as pool:
            futures = {
                pool.submit(self.provider.cleanup, record.name, record.value): record
                for record in records
            }
            for future, record in futures.items():
                error = future.exception()
                if isinstance(error, Exception):
                    logger.warning("could not remove %s: %s", record, error)
                    self.cleanup_errors.append(error)

    def __enter__(self) -> DNSChallenges:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
