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
import logging
import shlex
import subprocess
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from acme.dns._types import DNSError, Expectation, Progress, TXTRecord

if TYPE_CHECKING:  # pragma: no cover
    from acme.dns._propagation import PropagationChecker

__all__ = ["DNSChallenges", "DNSProvider", "HookProvider", "split_txt"]

logger = logging.getLogger(__name__)
_TXT_STRING = 255  # RFC 1035 section 3.3.14: one character-string holds at most 255 octets


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


class HookProvider(DNSProvider):
    """Runs a user command: ``CMD present NAME VALUE`` and ``CMD cleanup NAME VALUE``.

    The command must exit with status 0 once the record is published (or removed), within
    ``timeout`` seconds; its last output line explains a failure. ``command`` is split as a
    shell would (`shlex.split`) but run without a shell.
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

    def _run(self, action: str, name: str, value: str) -> None:
        argv = [*self.argv, action, name, value]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DNSError(
                f"dns hook {action} {name} did not finish in {self.timeout:g}s"
            ) from None
        except OSError as error:
            reason = error.strerror or str(error)
            raise DNSError(f"cannot run dns hook {self.argv[0]}: {reason}") from error
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            reason = f": {' '.join(said[-1].split())[:200]}" if said else ""
            raise DNSError(f"dns hook {action} {name} exited with status {done.returncode}{reason}")

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
                for record in records:
                    if self.on_publish is not None:
                        self.on_publish(record)
                    self.published.append(record)  # cleaned up even if publish half-worked
                    futures.append(pool.submit(self.provider.publish, record.name, record.value))
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
