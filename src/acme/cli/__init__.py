"""The ``acme`` command line (``python -m acme``): demo, issue, renew, certificates, delete,
revoke, renewal-info, account, serve-test-ca.

`main` returns the exit status: 0 on success, 1 with one ``acme: error: ...`` line on stderr
when the CA, the network or a file refused, 2 for usage errors, 130 when interrupted (SIGINT),
143 when terminated (SIGTERM: systemd, ``timeout``, ``docker stop``); ``renewal-info``
returns 3 when the certificate is due for renewal. Both signals unwind the same way, so dns-01
records, webroot files and listeners are cleaned up either way.
Progress lines go to stderr, results to stdout; ``-v`` adds the library's debug log on stderr
and ``--log-file PATH`` appends it to a file. See ``acme --help`` and ``acme COMMAND --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

from acme.cli._output import EXPECTED_ERRORS, CLIError, Reporter, describe, emit, library_log

__all__ = ["main"]


def _handler(command: str) -> Callable[[argparse.Namespace, Reporter], int]:
    # Imported on demand so `acme --help` stays fast and a usage error costs no imports.
    if command == "issue":
        from acme.cli._issue import run_issue

        return run_issue
    if command == "demo":
        from acme.cli._demo import run_demo

        return run_demo
    if command == "serve-test-ca":
        from acme.cli._serve import run_serve_test_ca

        return run_serve_test_ca
    if command in ("renew", "certificates", "delete"):
        from acme.cli import _manage

        return {
            "renew": _manage.run_renew,
            "certificates": _manage.run_certificates,
            "delete": _manage.run_delete,
        }[command]
    from acme.cli import _commands

    handlers = {
        "revoke": _commands.run_revoke,
        "renewal-info": _commands.run_renewal_info,
        "account": _commands.run_account,
        "dns-persist-record": _commands.run_dns_persist_record,
    }
    return handlers[command]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds exactly as Ctrl-C does."""


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A repeated SIGTERM while cleaning up: already on the way out (a Python handler, not
    SIG_IGN, so the hook commands run during cleanup do not inherit an ignored SIGTERM)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, _ignore)
    raise Terminated()


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While running a command, SIGTERM raises `Terminated` (main thread only: signals
    are delivered there, and `main` may run in another thread under a test harness)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _prog(args: argparse.Namespace) -> str:
    parts = ["acme", getattr(args, "command", None), getattr(args, "action", None)]
    return " ".join(part for part in parts if part)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from acme.cli._config import apply_config, config_path
    from acme.cli._parser import build_parser

    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    path, required = config_path(arguments)
    if path is not None:
        try:
            apply_config(parser, path, required)
        except CLIError as error:
            emit(f"acme: error: {describe(error)}")
            return error.status
    try:
        args = parser.parse_args(arguments)
    except SystemExit as done:  # --help, or a usage error already printed as one line
        return done.code if isinstance(done.code, int) else 2
    reporter = Reporter(quiet=args.quiet)
    try:
        if hasattr(args, "directory") and not args.directory:
            raise CLIError("--directory is required (or set $ACME_DIRECTORY)", 2)
        with _sigterm_unwinds(), library_log(args.verbose, args.log_file):
            return _handler(args.command)(args, reporter)
    except KeyboardInterrupt as stop:
        failed = stop.__context__  # a failure the signal cut short is still reported
        if isinstance(failed, EXPECTED_ERRORS):
            emit(f"acme: error: {describe(failed)}")
        if isinstance(stop, Terminated):
            emit("acme: terminated by SIGTERM")
            return 143
        emit("acme: interrupted")
        return 130
    except EXPECTED_ERRORS as error:
        status = error.status if isinstance(error, CLIError) else 1
        prog = _prog(args)
        if status == 2:
            emit(f"{prog}: error: {describe(error)}; see {prog} --help")
        else:
            emit(f"acme: error: {describe(error)}")
        return status
