"""What the command line prints: progress on stderr, results on stdout, one-line errors.

Rules: a failure the user can act on is a `CLIError` (or an ``acme`` / ``OSError`` exception)
turned into exactly one ``acme: error: ...`` line by `describe`; tracebacks are for bugs only.
Nothing here ever prints key material.

Terminal safety: much of what is printed comes from the CA (problem details, identifiers, URLs,
contacts) or from hook commands, and a hostile CA could send escape sequences that retitle the
window, clear the screen or rewrite earlier lines. So every line leaves through `emit` (or
`result`, `Reporter`), which passes it through the one sanitiser, `terminal_safe`: control
characters become visible escapes (``\x1b``, ``\x9b``, ``\u202e``). Nothing else in
``acme.cli`` writes to stdout or stderr (a test checks).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from josepy import errors as jose_errors

from acme import errors, messages

__all__ = [
    "EXPECTED_ERRORS",
    "CLIError",
    "Reporter",
    "SafeWriter",
    "describe",
    "emit",
    "library_log",
    "one_line",
    "result",
    "terminal_safe",
]

_MAX_LINE = 400

# C0 controls and DEL, C1 controls (0x9b is a one-byte CSI on some terminals), and the Unicode
# controls that reorder or break displayed text (bidi overrides and isolates, line and
# paragraph separators: "Trojan Source", CVE-2021-42574).
_BIDI_AND_SEPARATORS = r"\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(rf"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_UNSAFE_BUT_NEWLINE = re.compile(rf"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, newlines: bool = False) -> str:
    """``text`` with every control character shown as a visible escape, so it cannot drive
    the terminal: C0 (``\\x1b`` ...), DEL, C1 (``\\x9b`` ...) and the bidi and separator
    controls above (``\\u202e``). With ``newlines`` a ``\\n`` stays a line break."""
    return (_UNSAFE_BUT_NEWLINE if newlines else _UNSAFE).sub(_escape, text)


def emit(line: str, stream: TextIO | None = None) -> None:
    """Write one line (``stream``, default stderr) through `terminal_safe`, flushed."""
    print(terminal_safe(line), file=stream if stream is not None else sys.stderr, flush=True)


def result(text: str) -> None:
    """Write a result (one or more lines) to stdout through `terminal_safe`."""
    print(terminal_safe(text, newlines=True), flush=True)


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
            emit(f"[{self.elapsed():6.2f}s] {message}", self.stream)

    def waiting(self, seconds: float) -> None:
        """Called before each poll wait: say what is pending and when the next check is."""
        when = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
        self.step(f"  {self.phase}: still pending, checking again in {when}")

    def warn(self, message: str) -> None:
        """A warning line (printed even when quiet)."""
        emit(f"acme: warning: {one_line(message)}", self.stream)


_LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


class _SafeFormatter(logging.Formatter):
    """Log records pass through `terminal_safe` too: they quote what the CA sent."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().format(record), newlines=True)


class SafeWriter:
    """A text stream (default stderr) whose every write passes through `terminal_safe`, for
    code that wants a stream, e.g. the test CA's request log on ``-``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(terminal_safe(text, newlines=True))
        return len(text)

    def flush(self) -> None:
        (self._stream if self._stream is not None else sys.stderr).flush()


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
    formatter = _SafeFormatter(_LOG_FORMAT)
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
