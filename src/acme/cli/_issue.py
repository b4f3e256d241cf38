"""``acme issue``: order a certificate, answer its challenges, finalize, write key and chain.

`obtain` is the part shared with ``acme demo``: it runs the core's issuance steps
(`acme._core.issuance.Issuance`: new order, the challenge of each pending authorization,
validation, finalize and download; RFC 8555 sections 7.4, 7.5.1, 7.4.2), publishes the answers
through a `Solver`, and prints a progress line per step and the time each phase took.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

from cryptography import x509

from acme import client, crypto_util, messages
from acme._core.issuance import Issuance
from acme._core.operations import ClientFlows
from acme._wire import identifiers
from acme.cli._accounts import AccountStore
from acme.cli._files import (
    PrivateKey,
    check_can_write,
    describe_key,
    generate_key,
    load_certificate,
    private_pem,
    write_file,
)
from acme.cli._output import CLIError, Reporter
from acme.cli._session import AccountOptions, open_account, resolve_directory
from acme.cli._solvers import DNSHook, Solver, StandaloneHTTP01, StandaloneTLSALPN01, Webroot

__all__ = ["Issued", "make_csr", "obtain", "run_issue", "split_names"]


@dataclasses.dataclass
class Issued:
    """An issued order and how long each phase took (seconds)."""

    order: messages.OrderResource
    timings: dict[str, float]

    @property
    def fullchain_pem(self) -> str:
        assert self.order.fullchain_pem is not None
        return self.order.fullchain_pem

    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.fullchain_pem.encode("ascii"))[0]


def split_names(names: list[str]) -> tuple[list[str], list[str]]:
    """``names`` as (DNS names, IP addresses), lower-cased and without duplicates."""
    dns: list[str] = []
    ips: list[str] = []
    for raw in names:
        name = raw.strip().rstrip(".").lower()
        if not name:
            raise CLIError(f"empty name {raw!r}", 2)
        address = identifiers.parse_ip(name)
        if address is not None:
            ips.append(str(address))
        else:
            dns.append(name)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def make_csr(key: PrivateKey, dns: list[str], ips: list[str]) -> bytes:
    """A CSR for the names (every one in subjectAltName, RFC 8555 section 7.4)."""
    return crypto_util.make_csr(private_pem(key), dns or None, ipaddrs=ips or None)


def obtain(
    acme: client.ClientV2,
    csr_pem: bytes,
    solver: Solver,
    reporter: Reporter,
    *,
    timeout: float = 90.0,
    profile: str | None = None,
    replaces: Any = None,
) -> Issued:
    """Run one order to a downloaded certificate; the solver is started and cleaned up here.

    The steps and every protocol decision in them (which challenge, which authorizations need
    one) are the core's `Issuance`; this function publishes the answers and reports progress.
    """
    timings: dict[str, float] = {}
    account_key = acme.net.key
    assert account_key is not None
    issuance = Issuance(
        ClientFlows(acme.directory, acme.net.session),
        csr_pem,
        [solver.challenge_type],
        timeout,  # seconds from now, for all the steps together
        profile=profile,
        replaces=replaces,
    )

    began = time.monotonic()
    reporter.phase = "order"
    plan = acme.net.run(issuance.order())
    names = ", ".join(a.body.identifier.value for a in issuance.order_resource.authorizations)
    reporter.step(f"order created for {names}")
    timings["order"] = time.monotonic() - began

    began = time.monotonic()
    with solver:
        for authzr in plan.valid:
            reporter.step(f"  {authzr.body.identifier.value}: already authorized")
        for authzr, challb in plan.answer:
            solver.add(authzr.body.identifier, challb, account_key)
        acme.net.run(issuance.answer())
        for authzr, _ in plan.answer:
            reporter.step(f"  {authzr.body.identifier.value}: {solver.label} challenge answered")
        reporter.phase = "validation"
        reporter.step(f"waiting for the CA to validate {len(plan.answer)} authorization(s)")
        orderr = acme.net.run(issuance.validate())
    timings["validation"] = time.monotonic() - began
    for authzr in orderr.authorizations:
        reporter.step(f"  {authzr.body.identifier.value}: {authzr.body.status}")

    began = time.monotonic()
    reporter.phase = "finalization"
    reporter.step("finalizing the order")
    orderr = acme.net.run(issuance.finalize())
    timings["finalization"] = time.monotonic() - began
    reporter.step("certificate downloaded")
    return Issued(orderr, timings)


def _solver(args: argparse.Namespace, reporter: Reporter) -> Solver:
    if args.webroot is not None:
        return Webroot(args.webroot)
    if args.dns_hook is not None:
        return DNSHook(args.dns_hook, reporter, timeout=args.dns_hook_timeout)
    if args.tls_alpn:
        return StandaloneTLSALPN01(args.bind, args.tls_port)
    return StandaloneHTTP01(args.bind, args.http_port)


def _summary(issued: Issued, key: PrivateKey, key_file: Path, chain_file: Path) -> str:
    leaf = issued.leaf()
    chain = x509.load_pem_x509_certificates(issued.fullchain_pem.encode("ascii"))
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [*san.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return "\n".join(
        [
            f"certificate issued for {', '.join(names)}",
            f"  serial    {leaf.serial_number:x}",
            f"  valid     {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            f"  chain     {chain_file} ({len(chain)} certificates)",
            f"  key       {key_file} ({describe_key(key)}, mode 0600)",
        ]
    )


def run_issue(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme issue``: see the module docstring and ``acme issue --help``."""
    dns, ips = split_names(args.names)
    key_file: Path = args.key_file
    chain_file: Path = args.chain_file
    if key_file.resolve() == chain_file.resolve():
        raise CLIError("--key-file and --chain-file must differ", 2)
    check_can_write(key_file, force=args.force, what="private key")
    check_can_write(chain_file, force=args.force, what="certificate chain")
    replaces = load_certificate(args.replaces) if args.replaces is not None else None
    solver = _solver(args, reporter)
    cert_key = generate_key(args.key_type)
    csr_pem = make_csr(cert_key, dns, ips)

    directory_url = resolve_directory(args.directory)
    options = AccountOptions(
        emails=tuple(args.email or ()),
        agree_tos=args.agree_tos,
        eab_kid=args.eab_kid,
        eab_hmac_key=args.eab_hmac_key,
    )
    with contextlib.ExitStack() as stack:
        solver.start()  # a busy port fails here, before anything is asked of the CA
        stack.callback(solver.cleanup)
        acme, _, _ = open_account(
            AccountStore(args.config_dir),
            directory_url,
            reporter,
            ca_bundle=args.ca_bundle,
            create=options,
        )
        stack.enter_context(acme.net)
        issued = obtain(
            acme,
            csr_pem,
            solver,
            reporter,
            timeout=args.timeout,
            profile=args.profile,
            replaces=replaces,
        )
    write_file(key_file, private_pem(cert_key), private=True, force=args.force, what="private key")
    write_file(
        chain_file,
        issued.fullchain_pem.encode("ascii"),
        private=False,
        force=args.force,
        what="certificate chain",
    )
    print(_summary(issued, cert_key, key_file, chain_file))
    return 0
