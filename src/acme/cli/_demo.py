"""``acme demo``: the whole ACME flow on one machine, loopback only.

The demo starts `acme.testing.ACMETestServer` in-process (FOR TESTS AND DEMOS ONLY), then does
what ``acme issue`` does against any CA: saves an account, orders a certificate for a few
names, lets the test CA validate http-01 for real (an HTTP GET to our `acme.standalone` server
on 127.0.0.1, whose port the test CA is told), finalizes and downloads the chain. It then
verifies the chain to the test root for every name (RFC 5280 path validation by
``cryptography``), reads the RFC 9773 renewal window, revokes the certificate (RFC 8555 section
7.6) and prints a summary with the time each step took.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.x509 import verification

from acme._wire.order import REVOCATION_REASONS
from acme._wire.timestamps import utcnow
from acme.cli._accounts import AccountStore
from acme.cli._files import (
    describe_key,
    generate_key,
    make_private_dirs,
    private_pem,
    write_file,
)
from acme.cli._issue import Issued, make_csr, obtain, split_names
from acme.cli._output import CLIError, Reporter, result
from acme.cli._session import AccountOptions, open_account
from acme.cli._solvers import StandaloneHTTP01

__all__ = ["DEFAULT_NAMES", "run_demo", "verify_chain"]

T = TypeVar("T")
DEFAULT_NAMES = ("demo.test", "www.demo.test", "api.demo.test")
_REVOKE_REASON = "superseded"


def _test_server(**options: Any) -> Any:
    """An `acme.testing.ACMETestServer` (imported here: the library never imports testing)."""
    try:
        from acme.testing import ACMETestServer
    except ImportError as error:  # pragma: no cover - a broken installation
        raise CLIError(f"acme.testing is not available: {error}") from error
    return ACMETestServer(**options)


def verify_chain(
    fullchain_pem: str, root_pem: str, names: list[str], when: datetime.datetime
) -> list[x509.Certificate]:
    """Verify the leaf for every name through the chain's intermediates to ``root_pem``.

    RFC 5280 path validation and RFC 6125 name checks by ``cryptography.x509.verification``.
    Returns the built path (leaf first, root last); raises `CLIError` on any failure.
    """
    chain = x509.load_pem_x509_certificates(fullchain_pem.encode("ascii"))
    root = x509.load_pem_x509_certificate(root_pem.encode("ascii"))
    builder = verification.PolicyBuilder().store(verification.Store([root])).time(when)
    path: list[x509.Certificate] = []
    for name in names:
        try:
            subject: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            subject = x509.DNSName(name)
        verifier = builder.build_server_verifier(subject)  # type: ignore[arg-type]
        try:
            path = verifier.verify(chain[0], chain[1:])
        except verification.VerificationError as error:
            raise CLIError(f"the chain does not verify for {name}: {error}") from error
    return path


def _timed(timings: dict[str, float], label: str, action: Callable[[], T]) -> T:
    began = time.monotonic()
    try:
        return action()
    finally:
        timings[label] = time.monotonic() - began


def _cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else cert.subject.rfc4514_string()


@contextlib.contextmanager
def _no_proxy_for_loopback() -> Iterator[None]:
    """Keep loopback requests away from any HTTP(S)_PROXY of the environment, for the demo.

    ``requests`` reads ``no_proxy`` (lower case first, then ``NO_PROXY``); both get the
    loopback names added, and are restored afterwards.
    """
    saved = {name: os.environ.get(name) for name in ("no_proxy", "NO_PROXY")}
    current = saved["no_proxy"] or saved["NO_PROXY"] or ""
    value = ",".join(part for part in (current, "127.0.0.1,localhost,::1") if part)
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = value
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@contextlib.contextmanager
def _workdir(out: Path | None) -> Iterator[Path]:
    if out is not None:
        yield make_private_dirs(out)
        return
    with tempfile.TemporaryDirectory(prefix="acme-demo-") as tmp:
        yield Path(tmp)


def run_demo(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme demo``: see the module docstring."""
    started = time.monotonic()
    dns, ips = split_names(args.names or list(DEFAULT_NAMES))
    if ips:
        raise CLIError("the demo certifies DNS names only (the test CA resolves them locally)", 2)
    timings: dict[str, float] = {}
    solver = StandaloneHTTP01("127.0.0.1", 0)
    with _workdir(args.out) as workdir, _no_proxy_for_loopback(), contextlib.ExitStack() as stack:
        solver.start()
        stack.callback(solver.cleanup)
        http_port = solver.port
        reporter.step(f"http-01 responder (acme.standalone) on 127.0.0.1:{http_port}")
        server = _timed(timings, "start CA", lambda: _test_server(http_port=http_port))
        stack.callback(server.close)
        reporter.step(f"test CA (acme.testing, loopback only) at {server.directory_url}")

        store = AccountStore(workdir / "config")
        options = AccountOptions(emails=("admin@demo.test",), agree_tos=True)
        acme, _, regr = _timed(
            timings,
            "account",
            lambda: open_account(
                store,
                server.directory_url,
                reporter,
                ca_bundle=server.ca_bundle_path,
                create=options,
            ),
        )
        stack.enter_context(acme.net)
        cert_key = generate_key("ec256")
        csr_pem = make_csr(cert_key, dns, [])
        issued: Issued = obtain(acme, csr_pem, solver, reporter, timeout=args.timeout)
        timings.update(issued.timings)
        leaf = issued.leaf()

        reporter.step("verifying the chain to the test root")
        now = utcnow()
        path = _timed(
            timings,
            "verify",
            lambda: verify_chain(issued.fullchain_pem, server.ca_cert_pem, dns, now),
        )
        try:  # negative control: a name the certificate does not hold must fail
            verify_chain(issued.fullchain_pem, server.ca_cert_pem, ["not-in-the.test"], now)
        except CLIError:
            pass
        else:
            raise CLIError("the chain verified for a name it does not hold: verification is broken")

        reporter.step("asking the CA when to renew (RFC 9773 ARI)")
        info, _ = _timed(timings, "renewal info", lambda: acme.renewal_info(leaf))
        window = info.suggested_window

        reporter.step(f"revoking the certificate (reason {_REVOKE_REASON})")
        _timed(timings, "revoke", lambda: acme.revoke(leaf, REVOCATION_REASONS[_REVOKE_REASON]))
        if not server.core.is_revoked(leaf):
            raise CLIError("the test CA does not list the certificate as revoked")
        after, _ = acme.renewal_info(leaf)

        if args.out is not None:
            write_file(workdir / "privkey.pem", private_pem(cert_key), private=True, what="key")
            data = issued.fullchain_pem.encode("ascii")
            write_file(workdir / "fullchain.pem", data, private=False, what="chain")
            kept = f"kept in {workdir}"
        else:
            kept = "deleted (use --out DIR to keep them)"

        total = time.monotonic() - started
        steps = " | ".join(f"{label} {seconds:.2f}s" for label, seconds in timings.items())
        path_text = " <- ".join(repr(_cn(cert)) for cert in path[1:])
        lines = [
            f"acme demo: issued, verified, checked and revoked a certificate in {total:.2f}s",
            f"  test CA      {server.directory_url} (in-process, loopback only, NOT A REAL CA)",
            f"  account      {regr.uri}",
            f"  names        {', '.join(dns)}",
            f"  validation   http-01, fetched by the test CA from acme.standalone on "
            f"127.0.0.1:{http_port}",
            f"  certificate  serial {leaf.serial_number:x}, {describe_key(cert_key)}, "
            f"valid {leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}",
            f"  chain        leaf <- {path_text}: verified for every name",
            f"  renewal      suggested {window.start:%Y-%m-%d %H:%M} to "
            f"{window.end:%Y-%m-%d %H:%M} UTC (RFC 9773)",
            f"  revoked      reason {_REVOKE_REASON}; the CA now suggests renewing from "
            f"{after.suggested_window.start:%Y-%m-%d %H:%M} UTC",
            f"  files        account key, certificate key and chain {kept}",
            f"  timings      {steps}",
        ]
    result("\n".join(lines))
    return 0
