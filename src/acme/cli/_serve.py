"""``acme serve-test-ca``: the `acme.testing` CA in the foreground, for other programs to use.

FOR TESTS AND DEMOS ONLY. Every option maps to an `acme.testing.ACMETestServer` (or
`acme.testing.Faults`) argument; see ``acme serve-test-ca --help``. The first stdout lines are
``KEY VALUE`` pairs a script can read before it starts its client::

    directory  https://127.0.0.1:PORT/directory
    ca-bundle  /tmp/acme-testing-.../ca-bundle.pem
    management http://127.0.0.1:PORT
    dns        127.0.0.1:PORT

then a ``try`` line and a line starting ``FOR TESTS AND DEMOS ONLY``. The CA runs until
Ctrl-C or SIGTERM and removes its files on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import signal
import threading
from typing import Any, TextIO

from acme._wire import identifiers
from acme.cli._output import CLIError, Reporter, SafeWriter, result

__all__ = ["run_serve_test_ca", "server_options"]


def _loopback(name: str, address: str) -> str:
    if not identifiers.is_loopback(address):
        raise CLIError(f"--resolve {name}={address}: the test CA only validates on loopback", 2)
    return address


def _profiles(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.no_profiles:
        if args.profile:
            raise CLIError("--profile and --no-profiles contradict each other", 2)
        options["profiles"] = {}
    elif args.profile:
        options["profiles"] = {name: text or f"the {name} profile" for name, text in args.profile}
    if args.default_profile is not None:
        options["default_profile"] = args.default_profile
    return options


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `acme.testing.ACMETestServer` keyword arguments the parsed options ask for."""
    from acme.testing import RESOURCES, Faults

    unknown = sorted(set(args.fault_resource) - set(RESOURCES))
    if unknown:
        raise CLIError(
            f"--fault-resource: unknown {', '.join(unknown)}; choose from {', '.join(RESOURCES)}",
            2,
        )
    try:
        faults = Faults(
            seed=args.fault_seed,
            bad_nonce_rate=args.bad_nonce_rate,
            error_rate=args.error_rate,
            error_status=args.error_status,
            retry_after=args.retry_after,
            delay_seconds=args.delay,
            drop_response_rate=args.drop_rate,
            resources=frozenset(args.fault_resource),
        )
    except ValueError as error:
        raise CLIError(str(error), 2) from error
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "http_port": args.http_port,
        "tls_port": args.tls_port,
        "always_valid": args.always_valid,
        "hosts": {name.rstrip(".").lower(): _loopback(name, addr) for name, addr in args.resolve},
        "management_port": args.management_port,
        "dns_port": args.dns_port,
        "alternate_chains": args.alternate_chains,
        "faults": faults,
        "eab_keys": dict(args.eab),
        "reuse_authorizations": args.authz_reuse,
        "pre_authorization": args.pre_authorization,
        **_profiles(args),
    }
    if args.terms_of_service is not None:
        tos = args.terms_of_service
        options["terms_of_service"] = None if tos.lower() == "none" else tos
    if args.issuer_domain_name:
        options["issuer_domain_names"] = tuple(args.issuer_domain_name)
    if args.certificate_lifetime is not None:
        options["certificate_lifetime"] = datetime.timedelta(days=args.certificate_lifetime)
    if args.challenge_types is not None:
        types = tuple(part.strip() for part in args.challenge_types.split(",") if part.strip())
        if not types:
            raise CLIError("--challenge-types needs at least one type", 2)
        options["challenge_types"] = types
    for name in (
        "validation_delay_polls",
        "processing_polls",
        "poll_retry_after",
        "renewal_retry_after",
        "renewal_window",
        "orders_page_size",
    ):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return options


@contextlib.contextmanager
def _request_log(path: str | None) -> Any:
    if path is None:
        yield None
    elif path == "-":
        yield SafeWriter()  # stderr, through the sanitiser: the paths are the clients' text
    else:
        try:
            handle: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as error:
            raise CLIError(f"--request-log {path}: {error.strerror or error}") from error
        with handle:
            yield handle


def _start(options: dict[str, Any]) -> Any:
    try:
        from acme.testing import ACMETestServer
    except ImportError as error:  # pragma: no cover - a broken installation
        raise CLIError(f"acme.testing is not available: {error}") from error
    try:
        return ACMETestServer(**options)
    except ValueError as error:  # a policy the CA refuses, e.g. an unknown default profile
        raise CLIError(str(error), 2) from error


def run_serve_test_ca(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme serve-test-ca``: see the module docstring."""
    options = server_options(args)
    stop = threading.Event()

    def _terminate(signum: int, frame: object) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with _request_log(args.request_log) as log, _start({**options, "request_log": log}) as ca:
            host, dns_port = ca.dns_address
            authority = f"[{host}]" if ":" in host else host
            lines = [
                f"directory  {ca.directory_url}",
                f"ca-bundle  {ca.ca_bundle_path}",
                f"management {ca.management_url}",
                f"dns        {authority}:{dns_port}",
                "try        python -m acme issue --directory "
                f"{ca.directory_url} --ca-bundle {ca.ca_bundle_path} --agree-tos "
                f"--bind 127.0.0.1 --http-port {args.http_port} --config-dir ./acme-test-config "
                "example.test",
                "FOR TESTS AND DEMOS ONLY; press Ctrl-C to stop",
            ]
            result("\n".join(lines))
            if options["eab_keys"]:
                reporter.step(
                    f"external account binding required: {len(options['eab_keys'])} key(s)"
                )
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            reporter.step("stopping the test CA")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
