"""The DNS solvers of ``acme issue``: records published by a hook, or checked read-only.

- dns-01 (RFC 8555 section 8.4) and dns-account-01 (draft-ietf-acme-dns-account-label
  section 3.2): `DNSHook` runs ``CMD present NAME VALUE`` for every record of the order at
  once, in parallel, and ``CMD cleanup NAME VALUE`` afterwards. NAME is the TXT record's name
  without the final dot: ``_acme-challenge.<domain>``, or for dns-account-01
  ``_<label>._acme-challenge.<domain>`` with the label derived from the account URL. The hook
  returns once the record is published (exit status 0), within its timeout.
- dns-persist-01 (draft-ietf-acme-dns-persist section 4): `PersistCheck` publishes nothing.
  The record at ``_validation-persist.<domain>`` is published once, by the user (``acme
  dns-persist-record`` prints it), and only read here; it is never removed.

With ``--dns-check`` (`propagation_checker`) every record is then awaited on the zone's
authoritative name servers, asked directly, before any challenge is answered: a CA that
validates at once must not see a server that has not caught up yet.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from acme import challenges, errors, messages
from acme.cli._output import CLIError, Reporter
from acme.cli._solvers import Answering, Solver, typed_challenge

__all__ = [
    "DNS_CHALLENGES",
    "DNSHook",
    "PersistCheck",
    "dns_check_requested",
    "make_checker",
    "persist_record",
    "progress_reporter",
    "propagation_checker",
    "zone_line",
]

#: The challenge types answered through DNS; wildcards can use only these (RFC 8555 7.1.3).
DNS_CHALLENGES = ("dns-01", "dns-account-01", "dns-persist-01")


def dns_check_requested(args: argparse.Namespace) -> bool:
    """Whether ``--dns-check`` or an option that implies it was given."""
    return bool(args.dns_check or args.dns_resolver or args.dns_check_server)


def propagation_checker(args: argparse.Namespace) -> Any:
    """The `acme.dns.PropagationChecker` ``--dns-check`` asks for, or None without it."""
    if not dns_check_requested(args):
        return None
    return make_checker(args.dns_resolver or [], args.dns_check_server or [], status=2)


def make_checker(
    resolvers: Sequence[tuple[str, int]], servers: Sequence[tuple[str, int]], *, status: int = 1
) -> Any:
    """A `acme.dns.PropagationChecker`; without dnspython a `CLIError` (exit ``status``)."""
    from acme import dns as acme_dns

    try:
        return acme_dns.PropagationChecker(resolver=resolvers or None, servers=servers or None)
    except errors.DependencyError as error:
        raise CLIError(f"--dns-check: {error}", status) from error


class DNSHook(Solver):
    """dns-01 or dns-account-01 TXT records published by a user command (module docstring).

    The command is an `acme.dns.HookProvider`; `ready` publishes the order's records in
    parallel and, given a ``checker`` (`acme.dns.PropagationChecker`), waits until every
    authoritative server has them (within ``propagation_timeout`` seconds).
    """

    def __init__(
        self,
        command: str,
        reporter: Reporter,
        *,
        kind: str = "dns-01",
        timeout: float = 300.0,
        checker: Any = None,
        propagation_timeout: float = 300.0,
    ) -> None:
        from acme import dns as acme_dns

        account_label = kind == "dns-account-01"
        self.challenge_type = challenges.DNSAccount01 if account_label else challenges.DNS01
        self.label = kind
        try:
            provider = acme_dns.HookProvider(command, timeout=timeout)
        except acme_dns.DNSError as error:
            raise CLIError(f"--dns-hook: {error}", 2) from error
        self.reporter = reporter
        self._records: list[Any] = []
        self._session = acme_dns.DNSChallenges(
            provider,
            checker,
            timeout=propagation_timeout,
            progress=progress_reporter(reporter),
            on_publish=lambda record: reporter.step(f"dns hook: present {record.name}"),
        )

    def add(
        self,
        authzr: messages.AuthorizationResource,
        challb: messages.ChallengeBody,
        account: Answering,
    ) -> None:
        from acme.dns import challenge_record

        chall = typed_challenge(challb, self.challenge_type)
        domain = authzr.body.identifier.value
        self._records.append(challenge_record(chall, domain, account.key, account.url))

    def ready(self) -> None:
        from acme.dns import DNSError

        records, self._records = self._records, []
        try:
            self._session.publish(records)
        except DNSError as error:
            raise CLIError(str(error)) from error

    def cleanup(self) -> None:
        self._records = []
        self._session.cleanup()
        errors_seen, self._session.cleanup_errors = self._session.cleanup_errors, []
        for error in errors_seen:
            self.reporter.warn(f"{error} (remove the TXT record yourself)")


def persist_record(
    chall: challenges.DNSPersist01,
    domain: str,
    account: Answering,
    **options: Any,
) -> tuple[str, challenges.DNSPersist01Record]:
    """The name and record that let this CA validate ``domain`` for the account (draft
    section 4.1), after the client-side checks of the challenge (section 3.2).

    :raises CLIError: the CA's directory lacks what dns-persist-01 needs.
    """
    prefix = account.directory_meta.get("accountHashPrefix")
    if not isinstance(prefix, str) or not prefix:
        raise CLIError(
            "the CA's directory has no meta.accountHashPrefix: it does not support "
            "dns-persist-01 (draft-ietf-acme-dns-persist section 3.2)"
        )
    try:
        chall.check_directory(account.directory_meta)
        record = chall.record(
            account.key, account_url=account.url, account_hash_prefix=prefix, domain=domain,
            **options,
        )  # fmt: skip
    except errors.Error as error:
        raise CLIError(f"dns-persist-01 for {domain}: {error}") from error
    return chall.validation_domain_name(domain), record


def zone_line(name: str, value: str) -> str:
    """``NAME. IN TXT "VALUE"`` as a zone file (RFC 1035 section 5.1) holds it; a value over
    255 octets is split into several strings, which readers join (section 3.3.14)."""
    from acme.dns import split_txt

    strings = []
    for chunk in split_txt(value):
        text = chunk.decode("utf-8", "replace")
        strings.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return f"{name}. IN TXT {' '.join(strings)}"


class PersistCheck(Solver):
    """dns-persist-01: nothing to publish per order; the record published once is checked
    read-only on the authoritative servers when a ``checker`` is given (module docstring)."""

    challenge_type = challenges.DNSPersist01
    label = "dns-persist-01"

    def __init__(
        self, reporter: Reporter, *, checker: Any = None, propagation_timeout: float = 300.0
    ) -> None:
        self.reporter = reporter
        self.checker = checker
        self.propagation_timeout = propagation_timeout
        self._checks: list[Any] = []
        self._expected: dict[str, str] = {}  # record name -> the value we would publish

    def add(
        self,
        authzr: messages.AuthorizationResource,
        challb: messages.ChallengeBody,
        account: Answering,
    ) -> None:
        from acme.dns import persist_check

        chall = typed_challenge(challb, challenges.DNSPersist01)
        domain = authzr.body.identifier.value
        wildcard = bool(authzr.body.wildcard)
        name, record = persist_record(chall, domain, account, wildcard=wildcard)
        if wildcard or name not in self._expected:  # policy=wildcard covers both
            self._expected[name] = record.to_text()
        prefix = str(account.directory_meta["accountHashPrefix"])
        self._checks.append(
            persist_check(
                chall,
                domain,
                account_url=account.url,
                account_keys=[account.key],
                account_hash_prefix=prefix,
                wildcard=wildcard,
            )
        )
        what = "*." + domain if wildcard else domain
        self.reporter.step(f"dns-persist-01: {what} is validated by the record at {name}")

    def hint(self) -> str:
        """What to publish, for an error message: one zone-file line per record name."""
        if not self._expected:
            return ""
        lines = "; ".join(zone_line(name, value) for name, value in self._expected.items())
        return f"; publish once (it stays; `acme dns-persist-record` prints it): {lines}"

    def ready(self) -> None:
        checks, self._checks = self._checks, []
        if self.checker is None or not checks:
            return
        from acme.dns import DNSError

        try:
            self.checker.wait(checks, self.propagation_timeout, progress_reporter(self.reporter))
        except DNSError as error:
            raise CLIError(f"{error}{self.hint()}") from error

    def cleanup(self) -> None:
        self._checks = []  # the record stays: it serves every later order (draft section 4)


def progress_reporter(reporter: Reporter) -> Any:
    """A `Progress` callback that reports each server once it serves a record."""

    def report(progress: Any) -> None:
        if progress.seen:
            reporter.step(f"dns: {progress.record.name} visible on {progress.server}")

    return report
