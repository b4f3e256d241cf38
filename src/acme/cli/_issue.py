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
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509

from acme import client, crypto_util, errors, messages
from acme._core.challenges import offered_types
from acme._core.issuance import Issuance
from acme._wire import identifiers
from acme.cli._accounts import AccountStore
from acme.cli._dns_solvers import (
    DNS_CHALLENGES,
    DNSHook,
    PersistCheck,
    dns_check_requested,
    propagation_checker,
)
from acme.cli._files import (
    PrivateKey,
    describe_key,
    generate_key,
    load_certificate,
    private_pem,
    rescue_pair,
)
from acme.cli._lock import invocation, state_lock
from acme.cli._manage import record_lineage
from acme.cli._output import CLIError, Reporter, describe, result
from acme.cli._pair import (
    PairWritten,
    check_pair_writable,
    hook_point,
    replace_pair_atomically,
)
from acme.cli._session import AccountOptions, open_account, resolve_directory
from acme.cli._solvers import Answering, Solver, StandaloneHTTP01, StandaloneTLSALPN01, Webroot
from acme.manager import CertificatePair

__all__ = [
    "Issued",
    "challenge_type",
    "make_csr",
    "obtain",
    "run_issue",
    "split_names",
]


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


def _dns_hook_hint(issuance: Issuance, solver: Solver) -> str:
    """What to add when the CA offers only dns-01 for a name and we cannot answer it."""
    if solver.label in DNS_CHALLENGES or issuance.plan_or_none is not None:
        return ""
    try:
        orderr = issuance.order_resource
    except errors.ClientError:
        return ""
    for authzr in orderr.authorizations or ():
        if authzr.body.status == messages.STATUS_PENDING and offered_types(authzr) == ["dns-01"]:
            return "; dns-01 needs --dns-hook CMD to publish its TXT records"
    return ""


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
    account_key, account = acme.net.key, acme.net.account
    if account_key is None or account is None or not account.uri:
        raise CLIError("an account is needed to answer challenges")
    answering = Answering(account_key, account.uri, acme.directory.meta.to_partial_json())
    issuance = Issuance(
        acme._flows,  # the client's operations; acme._run drives them with its sleep
        csr_pem,
        [solver.challenge_type],
        timeout,  # seconds from now, for all the steps together
        profile=profile,
        replaces=replaces,
    )

    began = time.monotonic()
    reporter.phase = "order"
    try:
        plan = acme._run(issuance.order())
    except errors.ClientError as error:
        hint = _dns_hook_hint(issuance, solver)
        if not hint:
            raise
        raise CLIError(f"{error}{hint}") from error
    names = ", ".join(a.body.identifier.value for a in issuance.order_resource.authorizations or ())
    reporter.step(f"order created for {names}")
    timings["order"] = time.monotonic() - began

    began = time.monotonic()
    with solver:
        for authzr in plan.valid:
            reporter.step(f"  {authzr.body.identifier.value}: already authorized")
        for authzr, challb in plan.answer:
            solver.add(authzr, challb, answering)
        solver.ready()
        acme._run(issuance.answer())
        for authzr, _ in plan.answer:
            reporter.step(f"  {authzr.body.identifier.value}: {solver.label} challenge answered")
        reporter.phase = "validation"
        reporter.step(f"waiting for the CA to validate {len(plan.answer)} authorization(s)")
        try:
            orderr = acme._run(issuance.validate())
        except errors.ValidationError as error:
            hint = solver.hint()
            if not hint:
                raise
            raise CLIError(f"{describe(error)}{hint}") from error
    timings["validation"] = time.monotonic() - began
    for authzr in orderr.authorizations or ():
        reporter.step(f"  {authzr.body.identifier.value}: {authzr.body.status}")

    began = time.monotonic()
    reporter.phase = "finalization"
    reporter.step("finalizing the order")
    orderr = acme._run(issuance.finalize())
    timings["finalization"] = time.monotonic() - began
    reporter.step("certificate downloaded")
    return Issued(orderr, timings)


_NO_DNS_HOOK = (
    "{kind} needs a way to publish TXT records: add --dns-hook CMD (run as `CMD present NAME "
    "VALUE` and `CMD cleanup NAME VALUE`)"
)


def challenge_type(args: argparse.Namespace, dns: list[str]) -> str:
    """The challenge type ``acme issue`` answers, or a usage error (status 2).

    dns-01 and dns-account-01 are only ever chosen with a hook that can publish their records
    (``--dns-hook`` alone means dns-01); dns-persist-01 publishes nothing per order, so it
    takes no hook. Wildcard names can only be validated through DNS (RFC 8555 section 7.1.3;
    the drafts' sections on wildcards), and ``--dns-check`` only applies there.
    """
    implied = {
        "--webroot": ("http-01", args.webroot is not None),
        "--tls-alpn": ("tls-alpn-01", bool(args.tls_alpn)),
        "--dns-hook": ("dns-01", args.dns_hook is not None),
    }
    chosen = args.challenge
    for flag, (kind, given) in implied.items():
        if flag == "--dns-hook" and chosen == "dns-account-01":
            continue  # the hook publishes dns-account-01 records as well
        if given and chosen is not None and chosen != kind:
            raise CLIError(f"--challenge {chosen} contradicts {flag}, which answers {kind}", 2)
        if given:
            chosen = kind
    chosen = str(chosen or "http-01")
    if chosen in ("dns-01", "dns-account-01") and args.dns_hook is None:
        raise CLIError(_NO_DNS_HOOK.format(kind=chosen), 2)
    wildcards = [name for name in dns if name.startswith("*.")]
    if wildcards and chosen not in DNS_CHALLENGES:
        raise CLIError(
            f"{wildcards[0]}: wildcard names are validated through DNS only (RFC 8555 section "
            "7.1.3); add --dns-hook CMD to publish the TXT records, or use --challenge "
            "dns-persist-01",
            2,
        )
    if chosen not in DNS_CHALLENGES and dns_check_requested(args):
        raise CLIError(f"--dns-check and its options apply to DNS challenges, not {chosen}", 2)
    return chosen


def _solver(args: argparse.Namespace, kind: str, reporter: Reporter) -> Solver:
    if kind in DNS_CHALLENGES:
        checker = propagation_checker(args)
        if kind == "dns-persist-01":
            return PersistCheck(
                reporter, checker=checker, propagation_timeout=args.dns_check_timeout
            )
        return DNSHook(
            args.dns_hook,
            reporter,
            kind=kind,
            timeout=args.dns_hook_timeout,
            checker=checker,
            propagation_timeout=args.dns_check_timeout,
        )
    if kind == "tls-alpn-01":
        return StandaloneTLSALPN01(args.bind, args.tls_port)
    if args.webroot is not None:
        return Webroot(args.webroot)
    return StandaloneHTTP01(args.bind, args.http_port)


def _summary(issued: Issued, key: PrivateKey, key_file: Path, written: PairWritten) -> str:
    leaf = issued.leaf()
    chain = x509.load_pem_x509_certificates(issued.fullchain_pem.encode("ascii"))
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [*san.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    mode = stat.S_IMODE((written.version / "privkey.pem").stat().st_mode)
    lines = [
        f"certificate issued for {', '.join(names)}",
        f"  serial    {leaf.serial_number:x}",
        f"  valid     {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} to "
        f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        f"  chain     {written.chain_path} ({len(chain)} certificates)",
        f"  key       {key_file} ({describe_key(key)}, mode {mode:04o})",
        f"  stored in {written.version} (switched as one)",
    ]
    if written.previous is not None:
        lines.append(f"  previous  {written.previous}")
    return "\n".join(lines)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block (they are delivered right after it), so
    an interrupt can never stop the program between getting a certificate and keeping it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _rescued(
    args: argparse.Namespace, issued: Issued, key_pem: bytes, chain_pem: bytes, reason: str
) -> CLIError:
    """Save a pair that could not be installed; the error that says where it went."""
    try:
        saved = rescue_pair(args.config_dir, args.names[0], key_pem, chain_pem)
    except OSError as second:
        return CLIError(
            f"could not install the new certificate ({reason}) nor save it ({describe(second)})"
            f"; the CA still serves the certificate at {issued.order.body.certificate}"
        )
    return CLIError(
        f"could not install the new certificate ({reason}); it and its key are saved in "
        f"{saved}: copy them into place yourself"
    )


def _install(
    args: argparse.Namespace, issued: Issued, cert_key: PrivateKey, reporter: Reporter
) -> PairWritten:
    """Put the pair in place, or keep it in the state folder and say where: an issued
    certificate is never dropped."""
    key_pem, chain_pem = private_pem(cert_key), issued.fullchain_pem.encode("ascii")
    hook_point("before-write")
    with _signals_deferred():  # Ctrl-C or SIGTERM now would drop the certificate
        try:
            check_pair_writable(args.key_file, args.chain_file, force=args.force)  # again
            written = replace_pair_atomically(args.key_file, args.chain_file, key_pem, chain_pem)
        except (OSError, CLIError) as error:
            raise _rescued(args, issued, key_pem, chain_pem, describe(error)) from error
    for warning in written.warnings:
        reporter.warn(warning)
    return written


def run_issue(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme issue``: see the module docstring and ``acme issue --help``."""
    dns, ips = split_names(args.names)
    key_file: Path = args.key_file
    chain_file: Path = args.chain_file
    if key_file.resolve() == chain_file.resolve():
        raise CLIError("--key-file and --chain-file must differ", 2)
    check_pair_writable(key_file, chain_file, force=args.force)  # before anything is ordered
    replaces = load_certificate(args.replaces) if args.replaces is not None else None
    args.challenge = challenge_type(args, dns)  # also what the lineage records for renewals
    solver = _solver(args, args.challenge, reporter)
    cert_key = generate_key(args.key_type)
    csr_pem = make_csr(cert_key, dns, ips)

    directory_url = resolve_directory(args.directory)
    options = AccountOptions(
        emails=tuple(args.email or ()),
        agree_tos=args.agree_tos,
        eab_kid=args.eab_kid,
        eab_hmac_key=args.eab_hmac_key,
    )
    with contextlib.ExitStack() as held:
        solver.start()  # a busy port fails here, before anything is asked of the CA
        held.callback(solver.cleanup)  # obtain() cleans up as soon as validation is over
        held.enter_context(state_lock(args.config_dir, invocation(args)))  # also for _install
        with contextlib.ExitStack() as session:
            acme, _, regr = open_account(
                AccountStore(args.config_dir),
                directory_url,
                reporter,
                ca_bundle=args.ca_bundle,
                create=options,
            )
            session.enter_context(acme.net)
            issued = obtain(
                acme,
                csr_pem,
                solver,
                reporter,
                timeout=args.timeout,
                profile=args.profile,
                replaces=replaces,
            )
        written = _install(args, issued, cert_key, reporter)
        lineage = record_lineage(
            args,
            directory_url,
            dns + ips,
            CertificatePair(private_pem(cert_key), issued.fullchain_pem),
            regr.uri,
        )
    result(_summary(issued, cert_key, key_file, written))
    result(f"  renewal   recorded as {lineage}: `acme renew` keeps it alive")
    return 0
