"""What the command line prints: progress on stderr, results on stdout, one-line errors.

Rules: a failure the user can act on is a `CLIError` (or an ``acme`` / ``OSError`` exception)
turned into exactly one ``acme: error: ...`` line by `describe`; tracebacks are for bugs only.
Nothing here ever prints key material.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from josepy import errors as jose_errors

from acme import errors, messages

__all__ = ["EXPECTED_ERRORS", "CLIError", "Reporter", "describe", "library_log", "one_line"]

_MAX_LINE = 400


class CLIError(Exception):
    """A failure with a one-line reason for the user (exit status ``status``)."""

    def __init__(self, reason: str, status: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


#: Failures that are expected in normal use and reported without a traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    CLIError,
    errors.Error,
    messages.Error,
    jose_errors.Error,
    OSError,
)


def one_line(text: str, limit: int = _MAX_LINE) -> str:
    """``text`` with every run of whitespace (newlines included) made one space, bounded."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe(error: BaseException) -> str:
    """A one-line, human-readable reason for an expected failure."""
    if isinstance(error, CLIError):
        return one_line(error.reason)
    problem = getattr(error, "error", None)  # the 409 problem kept on ConflictError
    if isinstance(error, errors.ConflictError) and isinstance(problem, messages.Error):
        return describe(problem)
    if isinstance(error, errors.ValidationError):
        parts = []
        for authzr in error.failed_authzrs:
            problems = [
                f"{chall.chall.typ}: {chall.error.detail or chall.error.typ}"
                for chall in authzr.body.challenges
                if chall.error is not None
            ]
            status = authzr.body.status.name if authzr.body.status is not None else "invalid"
            parts.append(f"{authzr.body.identifier.value} ({'; '.join(problems) or status})")
        return one_line("validation failed for " + ", ".join(parts))
    if isinstance(error, messages.Error):
        code = error.code or error.typ
        detail = error.detail or error.title or error.description or ""
        return one_line(f"the server refused: {code}: {detail}")
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        return one_line(f"{error.filename}: {error.strerror}")
    text = str(error) or type(error).__name__
    return one_line(text)


class Reporter:
    """Progress lines (``stream``, stderr by default) with the time since start, unless quiet."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.started = time.monotonic()
        self.phase = "request"

    def elapsed(self) -> float:
        """Seconds since this reporter was made."""
        return time.monotonic() - self.started

    def step(self, message: str) -> None:
        """One progress line, e.g. ``[0.12s] finalizing the order``."""
        if not self.quiet:
            print(f"[{self.elapsed():6.2f}s] {message}", file=self.stream, flush=True)

    def waiting(self, seconds: float) -> None:
        """Called before each poll wait: say what is pending and when the next check is."""
        when = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
        self.step(f"  {self.phase}: still pending, checking again in {when}")

    def warn(self, message: str) -> None:
        """A warning line (printed even when quiet)."""
        print(f"acme: warning: {one_line(message)}", file=self.stream, flush=True)


_LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


@contextlib.contextmanager
def library_log(verbose: bool, log_file: Path | None) -> Iterator[None]:
    """Show the ``acme`` loggers' DEBUG records on stderr (``verbose``) and/or append them to
    ``log_file`` while the block runs; afterwards the handlers are closed and removed, and
    the logger's level restored. The library never logs keys or signed request bodies.
    """
    if not verbose and log_file is None:
        yield
        return
    root = logging.getLogger("acme")
    handlers: list[logging.Handler] = []
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as error:
            raise CLIError(f"cannot open log file {log_file}: {error.strerror or error}") from None
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    formatter = logging.Formatter(_LOG_FORMAT)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.setLevel(logging.DEBUG)
        root.addHandler(handler)
    saved_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.setLevel(saved_level)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
