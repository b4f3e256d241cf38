"""``acme renew``, ``acme certificates``, ``acme delete``: the command line on `acme.manager`.

``acme issue`` records each certificate as a lineage in the store (``--store``: the folder
``<config-dir>/store`` by default, or a ``postgresql://`` URL), with how it was validated
(standalone, webroot, tls-alpn or dns hook, and their ports and paths), the key and chain
file paths, and its hooks. ``acme renew`` renews what is due with the same settings: by the
CA's renewal information (RFC 9773) or at 2/3 of the lifetime, with ``replaces``; it writes
the new key and chain to the recorded files, then runs the deploy hook.

Exit status of ``acme renew``: 0 when nothing failed (nothing due, or everything due renewed),
1 when any lineage failed (one ``acme: error: <id>: ...`` line each), 2 for usage errors.

Hooks (``--pre-hook``, ``--post-hook``, ``--deploy-hook`` on ``issue`` are saved with the
lineage; on ``renew`` they replace the saved ones for that run) run through the shell with:
``ACME_HOOK`` (pre, post or deploy), ``ACME_LINEAGE`` (the lineage id), ``ACME_NAMES`` (its
names, space-separated); deploy also gets ``RENEWED_DOMAINS`` (= ACME_NAMES, as certbot),
``ACME_SERIAL`` (hex), ``ACME_NOT_AFTER`` (ISO 8601), ``ACME_KEY_FILE`` and
``ACME_CHAIN_FILE`` (the files written for you, else the store's) and, with the folder store,
``RENEWED_LINEAGE`` (the lineage's folder in the store).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from josepy import b64

from acme import challenges, client, standalone
from acme.cli import _argtypes
from acme.cli._accounts import AccountStore
from acme.cli._dns_solvers import dns_check_requested, make_checker, progress_reporter
from acme.cli._files import write_file
from acme.cli._lock import invocation, state_lock
from acme.cli._output import CLIError, Reporter, emit, result
from acme.cli._pair import replace_pair_atomically
from acme.cli._session import open_account
from acme.cli._solvers import StandaloneHTTP01, StandaloneTLSALPN01, Webroot
from acme.dns import DNSProvider
from acme.manager import (
    Certificate,
    CertificatePair,
    ChallengeAnswer,
    FileStore,
    Hooks,
    Manager,
    Solver,
    Storage,
    StorageError,
)

__all__ = [
    "CLISolver",
    "open_store",
    "record_lineage",
    "run_certificates",
    "run_delete",
    "run_renew",
    "solver_options",
]


def open_store(spec: str | None, config_dir: Path) -> Storage:
    """``--store``: a ``postgresql://`` URL, a folder, or ``<config-dir>/store``."""
    if spec and spec.startswith(("postgresql://", "postgres://")):
        from acme.manager.postgresql import PostgresStore

        return PostgresStore(spec)
    return FileStore(Path(spec) if spec else config_dir / "store")


def _lineage_id(name: str) -> str:
    """A lineage id from a certificate's first name (``*.`` becomes ``wildcard.``)."""
    lowered = name.lower().replace("*.", "wildcard.").replace(":", "-")
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in lowered).strip(".-_")
    return cleaned[:128] or "certificate"


def _dns_check_options(args: argparse.Namespace) -> dict[str, str]:
    """``--dns-check`` and its options, as saved strings (empty without a check)."""
    if not dns_check_requested(args):
        return {}

    def joined(addresses: list[tuple[str, int]] | None) -> str:
        return " ".join(f"[{host}]:{port}" for host, port in addresses or ())

    return {
        "dns_check": "1",
        "dns_check_timeout": str(args.dns_check_timeout),
        "dns_resolvers": joined(args.dns_resolver),
        "dns_check_servers": joined(args.dns_check_server),
    }


def solver_options(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    """The challenge type and solver settings of ``acme issue`` (saved for ``acme renew``);
    ``args.challenge`` is the type ``acme issue`` chose."""
    if args.webroot is not None:
        return "http-01", {"solver": "webroot", "webroot": str(Path(args.webroot).resolve())}
    if args.challenge == "dns-persist-01":
        # Nothing to publish, hence nothing to wait for: the record was checked (with
        # --dns-check) when the lineage was issued, and stays.
        return "dns-persist-01", {"solver": "dns-persist"}
    if args.dns_hook is not None:
        return args.challenge or "dns-01", {
            "solver": "dns-hook",
            "dns_hook": args.dns_hook,
            "dns_hook_timeout": str(args.dns_hook_timeout),
            **_dns_check_options(args),
        }
    if args.tls_alpn or args.challenge == "tls-alpn-01":
        return "tls-alpn-01", {"solver": "tls-alpn", "bind": args.bind, "port": str(args.tls_port)}
    return "http-01", {"solver": "standalone", "bind": args.bind, "port": str(args.http_port)}


def record_lineage(
    args: argparse.Namespace,
    directory_url: str,
    names: list[str],
    pair: CertificatePair,
    account_url: str | None,
) -> str:
    """Save what ``acme issue`` just got as a lineage (a new pair for an existing one)."""
    challenge, options = solver_options(args)
    # Absolute, but not resolved: the two paths are links into the pair's archive
    # (acme.cli._pair), and renewals must replace the links, not an archived version.
    options["key_file"] = os.path.abspath(args.key_file)
    options["chain_file"] = os.path.abspath(args.chain_file)
    lineage_id = args.cert_name or _lineage_id(names[0])
    hooks = Hooks(pre=args.pre_hook, post=args.post_hook, deploy=args.deploy_hook)
    with open_store(args.store, args.config_dir) as store:
        manager = Manager(store, {})
        lease = store.lock(f"lineages/{lineage_id}", owner=manager.owner, ttl=60)
        try:
            old = manager.load(lineage_id)
            record = Certificate(
                lineage_id,
                tuple(names),
                directory_url,
                key_type=args.key_type,
                account=account_url,
                profile=args.profile,
                challenge=challenge,
                hooks=hooks,
                current=pair,
                previous=old.current if old is not None else None,
                options=options,
            )
            manager.save(record, lease)
        finally:
            store.unlock(lease)
    return lineage_id


class CLISolver(Solver):
    """Answers each lineage's challenges the way it was issued (saved ``options``)."""

    def __init__(self, lineages: dict[str, Certificate], reporter: Reporter) -> None:
        self.lineages = lineages
        self.reporter = reporter
        self._solvers: dict[tuple[str, ...], Any] = {}
        self._files: dict[tuple[str, str], Path] = {}

    def _solver(self, answer: ChallengeAnswer) -> Any:
        options = self.lineages[answer.lineage].options
        kind = options.get("solver", "standalone")
        if kind == "webroot":
            key: tuple[str, ...] = (kind, options["webroot"])
            make: Any = lambda: Webroot(Path(options["webroot"]))  # noqa: E731
        elif kind == "dns-hook":
            key = (kind, options["dns_hook"])
            timeout = float(options.get("dns_hook_timeout", "300"))
            make = lambda: _hook_provider(options["dns_hook"], timeout)  # noqa: E731
        elif kind == "dns-persist":
            raise CLIError(f"{answer.lineage}: dns-persist-01 publishes nothing per order")
        elif kind == "tls-alpn":
            key = (kind, options.get("bind", ""), options.get("port", "443"))
            make = lambda: StandaloneTLSALPN01(key[1], int(key[2]))  # noqa: E731
        else:
            key = ("standalone", options.get("bind", ""), options.get("port", "80"))
            make = lambda: StandaloneHTTP01(key[1], int(key[2]))  # noqa: E731
        if key not in self._solvers:
            solver = make()
            if not isinstance(solver, DNSProvider):  # a listener to start
                solver.start()
            self._solvers[key] = solver
        return self._solvers[key]

    def present(self, answer: ChallengeAnswer) -> None:
        solver = self._solver(answer)
        if isinstance(solver, StandaloneHTTP01):
            chall = challenges.HTTP01(token=b64.b64decode(answer.token))
            solver.resources.add(
                standalone.HTTP01RequestHandler.HTTP01Resource(chall, None, answer.value)
            )
        elif isinstance(solver, StandaloneTLSALPN01):
            data = answer.value.encode("ascii")
            key = serialization.load_pem_private_key(data, password=None)
            solver.certs[answer.identifier] = (key, x509.load_pem_x509_certificate(data))
        elif isinstance(solver, Webroot):
            folder = solver.root / ".well-known" / "acme-challenge"
            folder.mkdir(mode=0o755, parents=True, exist_ok=True)
            path = folder / answer.token
            path.write_text(answer.value, encoding="ascii")
            path.chmod(0o644)  # the web server's user must be able to read it
            self._files[(answer.lineage, answer.token)] = path
        else:
            self.reporter.step(f"dns hook: present {answer.record_name}")
            solver.publish(answer.record_name, answer.value)

    def ready(self, answers: Sequence[ChallengeAnswer]) -> None:
        """With the lineage's saved ``--dns-check``: wait until every authoritative server
        serves the order's TXT records, all at once."""
        records = [answer for answer in answers if answer.record_name]
        if not records:
            return
        options = self.lineages[records[0].lineage].options
        checker = _saved_checker(options)
        if checker is None:
            return
        from acme.dns import DNSError, TXTRecord

        expected = [TXTRecord(answer.record_name, answer.value) for answer in records]
        try:
            timeout = float(options.get("dns_check_timeout", "300"))
            checker.wait(expected, timeout, progress_reporter(self.reporter))
        except DNSError as error:
            raise CLIError(str(error)) from error

    def cleanup(self, answer: ChallengeAnswer) -> None:
        solver = self._solver(answer)
        if isinstance(solver, StandaloneHTTP01):
            solver.resources.difference_update(
                r for r in list(solver.resources) if r.validation == answer.value
            )
        elif isinstance(solver, StandaloneTLSALPN01):
            solver.certs.pop(answer.identifier, None)
        elif isinstance(solver, Webroot):
            path = self._files.pop((answer.lineage, answer.token), None)
            if path is not None:
                path.unlink(missing_ok=True)
        else:
            solver.cleanup(answer.record_name, answer.value)

    def close(self) -> None:
        """Stop every listener (and hook) started for this run."""
        for solver in self._solvers.values():
            if isinstance(solver, DNSProvider):
                solver.stop()
            else:
                solver.cleanup()
        self._solvers.clear()


def _saved_checker(options: dict[str, str]) -> Any:
    """The `acme.dns.PropagationChecker` a lineage's saved ``--dns-check`` options describe."""
    if options.get("dns_check") != "1":
        return None
    parse = _argtypes.server_address
    resolvers = [parse(text) for text in options.get("dns_resolvers", "").split()]
    servers = [parse(text) for text in options.get("dns_check_servers", "").split()]
    return make_checker(resolvers, servers)


def _hook_provider(command: str, timeout: float) -> DNSProvider:
    """The lineage's ``--dns-hook`` command as the `acme.dns` provider ``acme issue`` used."""
    from acme import dns as acme_dns

    try:
        return acme_dns.HookProvider(command, timeout=timeout)
    except acme_dns.DNSError as error:
        raise CLIError(f"--dns-hook: {error}", 2) from error


def _write_files(record: Certificate) -> None:
    """After a renewal: the new key and chain to the files ``acme issue`` wrote, replaced as
    one pair (`replace_pair_atomically`: a crash never leaves a new key beside the old
    chain; owner, group and mode carry over; the previous pair is kept)."""
    pair = record.current
    assert pair is not None
    key_file, chain_file = record.options.get("key_file"), record.options.get("chain_file")
    chain = pair.chain_pem.encode("ascii")
    if key_file and chain_file:
        replace_pair_atomically(Path(key_file), Path(chain_file), pair.key_pem, chain)
    elif key_file:
        write_file(Path(key_file), pair.key_pem, private=True, force=True, what="private key")
    elif chain_file:
        write_file(Path(chain_file), chain, private=False, force=True, what="certificate chain")


def _clients(
    args: argparse.Namespace, lineages: list[Certificate], reporter: Reporter
) -> tuple[dict[str, client.ClientV2], dict[str, str]]:
    """A client per CA of ``lineages`` (the saved accounts), and the CAs that failed."""
    clients: dict[str, client.ClientV2] = {}
    broken: dict[str, str] = {}
    accounts = AccountStore(args.config_dir)
    for directory_url in sorted({record.directory_url for record in lineages}):
        try:
            acme, _, _ = open_account(accounts, directory_url, reporter, ca_bundle=args.ca_bundle)
        except CLIError as error:
            broken[directory_url] = error.reason
            continue
        clients[directory_url] = acme
    return clients, broken


def _when(value: datetime.datetime | None) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def run_renew(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme renew``: see the module docstring."""
    with (
        state_lock(args.config_dir, invocation(args)),
        open_store(args.store, args.config_dir) as store,
    ):
        everything = Manager(store, {}).lineages()
        wanted = set(args.cert_name or [])
        unknown = wanted - {record.id for record in everything}
        if unknown:
            raise CLIError(f"no lineage named {', '.join(sorted(unknown))} (see acme certificates)")
        lineages = [r for r in everything if not wanted or r.id in wanted]
        if not lineages:
            result("no certificates to renew")
            return 0
        clients, broken = _clients(args, lineages, reporter)
        solver = CLISolver({record.id: record for record in lineages}, reporter)
        hooks = Hooks(pre=args.pre_hook, post=args.post_hook, deploy=args.deploy_hook)
        manager = Manager(
            store,
            clients,
            solver=solver,
            hooks=hooks,
            on_saved=_write_files,
            timeout=args.timeout,
        )
        try:
            report = manager.renew_due(
                [r.id for r in lineages if r.directory_url in clients],
                force=args.force,
                dry_run=args.dry_run,
            )
        finally:
            solver.close()
            for acme in clients.values():
                acme.net.close()
    for lineage_id in report.issued + report.renewed:
        result(f"renewed {lineage_id}")
    for lineage_id in report.would_renew:
        result(f"would renew {lineage_id} (dry run)")
    for lineage_id, until in sorted(report.waiting.items()):
        result(f"not due {lineage_id} (next check or renewal {_when(until)})")
    for lineage_id, reason in sorted(report.skipped.items()):
        result(f"skipped {lineage_id}: {reason}")
    failures = {lid: str(error) for lid, error in report.failed.items()}
    for record in lineages:
        if record.directory_url in broken:
            failures[record.id] = f"{record.id}: {broken[record.directory_url]}"
    for lineage_id in sorted(failures):
        emit(f"acme: error: {failures[lineage_id]}")
    return 1 if failures else 0


def _describe(record: Certificate) -> dict[str, Any]:
    pair = record.current
    return {
        "id": record.id,
        "names": list(record.names),
        "directory": record.directory_url,
        "serial": f"{pair.serial:x}" if pair else None,
        "not_before": pair.not_before.isoformat() if pair else None,
        "not_after": pair.not_after.isoformat() if pair else None,
        "window": [when.isoformat() for when in record.window] if record.window else None,
        "renew_at": record.renew_at.isoformat() if record.renew_at else None,
        "next_ari_check": record.next_ari_check.isoformat() if record.next_ari_check else None,
        "failures": record.failures,
        "last_error": record.last_error,
        "key_file": record.options.get("key_file"),
        "chain_file": record.options.get("chain_file"),
    }


def run_certificates(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme certificates [--json]``: every lineage with expiry and renewal window."""
    with open_store(args.store, args.config_dir) as store:
        lineages = Manager(store, {}).lineages()
    if args.json:
        result(json.dumps([_describe(record) for record in lineages], indent=2))
        return 0
    if not lineages:
        result("no certificates")
    for record in lineages:
        pair = record.current
        window = f"{_when(record.window[0])} to {_when(record.window[1])}" if record.window else "-"
        lines = [
            f"{record.id}",
            f"  names       {', '.join(record.names)}",
            f"  expires     {_when(pair.not_after if pair else None)}",
            f"  ARI window  {window}",
            f"  renew at    {_when(record.renew_at)}",
        ]
        if record.failures:
            lines.append(f"  failures    {record.failures}: {record.last_error}")
        result("\n".join(lines))
    return 0


def run_delete(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme delete ID``: forget a lineage (its certificate stays valid at the CA)."""
    with (
        state_lock(args.config_dir, invocation(args)),
        open_store(args.store, args.config_dir) as store,
    ):
        manager = Manager(store, {})
        if manager.load(args.lineage) is None:
            raise CLIError(f"no lineage named {args.lineage} (see acme certificates)")
        try:
            manager.delete(args.lineage)
        except StorageError as error:
            raise CLIError(str(error)) from error
    result(f"deleted {args.lineage} (its key and chain files, if any, are left in place)")
    return 0
