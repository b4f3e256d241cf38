"""``acme revoke``, ``acme renewal-info``, ``acme dns-persist-record`` and ``acme account ...``.

Revocation (RFC 8555 section 7.6) is signed by the saved account, or with ``--cert-key`` by the
certificate's own key (embedded ``jwk``, no account needed). Renewal information (RFC 9773) is
an unsigned GET. A dns-persist-01 record (draft-ietf-acme-dns-persist section 4.1) is computed
from the saved account and the directory's ``meta``: only the account is looked up. Account
actions follow RFC 8555 section 7.3 (register, find with ``onlyReturnExisting``, update
contacts, key rollover 7.3.5, deactivation 7.3.6).
"""

from __future__ import annotations

import argparse
import datetime
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from josepy import b64
from josepy import errors as jose_errors

from acme import challenges, messages
from acme._wire.coercion import coerce_jwk
from acme._wire.order import REVOCATION_REASONS
from acme._wire.timestamps import utcnow
from acme.cli._accounts import AccountStore
from acme.cli._dns_solvers import persist_record, zone_line
from acme.cli._files import (
    PrivateKey,
    describe_key,
    generate_key,
    load_certificate,
    load_private_key,
)
from acme.cli._issue import split_names
from acme.cli._lock import invocation, state_lock
from acme.cli._output import CLIError, Reporter, result
from acme.cli._session import AccountOptions, connect, open_account, resolve_directory
from acme.cli._solvers import Answering

__all__ = [
    "RENEWAL_DUE",
    "parse_reason",
    "run_account",
    "run_dns_persist_record",
    "run_renewal_info",
    "run_revoke",
]

#: ``acme renewal-info``'s exit status when the renewal window has begun (scripts test it).
RENEWAL_DUE = 3


def parse_reason(value: str) -> int:
    """A reason name (any case) or code from `REVOCATION_REASONS` (argparse type)."""
    for name, code in REVOCATION_REASONS.items():
        if value.lower() == name.lower() or value == str(code):
            return code
    choices = ", ".join(f"{name} ({code})" for name, code in REVOCATION_REASONS.items())
    raise argparse.ArgumentTypeError(f"unknown reason {value!r}; choose from {choices}")


def _names(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "(no subjectAltName)"
    names = [*san.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return ", ".join(names)


def run_revoke(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme revoke CERT``."""
    cert = load_certificate(args.certificate)
    directory_url = resolve_directory(args.directory)
    if args.cert_key is not None:
        cert_key = load_private_key(args.cert_key, "certificate key")
        if cert_key.public_key() != cert.public_key():
            raise CLIError(f"{args.cert_key} is not the key of {args.certificate}")
        reporter.step("revoking with the certificate's own key")
        acme = connect(directory_url, reporter, key=cert_key, ca_bundle=args.ca_bundle)
        with acme.net:
            acme.revoke(cert, args.reason)
    else:
        with state_lock(args.config_dir, invocation(args)):
            acme, _, _ = open_account(
                AccountStore(args.config_dir), directory_url, reporter, ca_bundle=args.ca_bundle
            )
            with acme.net:
                acme.revoke(cert, args.reason)
    reason = next(name for name, code in REVOCATION_REASONS.items() if code == args.reason)
    result(f"revoked certificate {cert.serial_number:x} ({_names(cert)}), reason {reason}")
    return 0


def _utc(when: datetime.datetime) -> str:
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_renewal_info(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme renewal-info CERT``: the CA's suggested renewal window (RFC 9773 section 4.2);
    exit status `RENEWAL_DUE` (3) when it has begun, 0 when not yet."""
    cert = load_certificate(args.certificate)
    acme = connect(resolve_directory(args.directory), reporter, ca_bundle=args.ca_bundle)
    with acme.net:
        info, ask_again = acme.renewal_info(cert)
    window = info.suggested_window
    now = utcnow()
    due = window.start <= now
    if due:
        advice = "yes: the suggested window has begun"
    else:
        days = (window.start - now).total_seconds() / 86400
        advice = f"not yet: the window starts in {days:.1f} days"
    lines = [
        f"renewal information for {_names(cert)} (serial {cert.serial_number:x})",
        f"  suggested window  {_utc(window.start)} to {_utc(window.end)}",
        f"  renew now?        {advice}",
    ]
    if info.explanation_url:
        lines.append(f"  explanation       {info.explanation_url}")
    lines.append(f"  ask again after   {_utc(ask_again)}")
    result("\n".join(lines))
    return RENEWAL_DUE if due else 0


def _print_account(regr: messages.RegistrationResource, key_text: str, folder: str) -> None:
    contact = ", ".join(regr.body.contact) or "(none)"
    result(
        "\n".join(
            [
                f"account   {regr.uri}",
                f"  status  {regr.body.status}",
                f"  contact {contact}",
                f"  key     {key_text}",
                f"  saved   {folder}",
            ]
        )
    )


def _thumbprint(key: PrivateKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): identifies the key without showing it."""
    return b64.b64encode(coerce_jwk(key).thumbprint(hashes.SHA256)).decode("ascii")


def run_account(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme account register|show|update|rollover|deactivate``."""
    store = AccountStore(args.config_dir)
    directory_url = resolve_directory(args.directory)
    create = None
    if args.action == "register":
        create = AccountOptions(
            emails=tuple(args.email or ()),
            agree_tos=args.agree_tos,
            eab_kid=args.eab_kid,
            eab_hmac_key=args.eab_hmac_key,
            key_type=args.key_type,
        )
    if args.action == "deactivate" and not args.yes:
        raise CLIError("deactivation cannot be undone: add --yes to confirm", 2)
    with state_lock(store.config_dir, invocation(args)):
        return _account_action(args, reporter, store, directory_url, create)


def _account_action(
    args: argparse.Namespace,
    reporter: Reporter,
    store: AccountStore,
    directory_url: str,
    create: AccountOptions | None,
) -> int:
    acme, stored, regr = open_account(
        store, directory_url, reporter, ca_bundle=args.ca_bundle, create=create
    )
    with acme.net:
        if args.action == "update":
            emails = [] if args.no_email else list(args.email or ())
            regr = acme.update_registration(regr, messages.Registration.from_data(email=emails))
            store.save_registration(stored, regr.uri, regr.body.contact)
            reporter.step("contacts updated")
        elif args.action == "rollover":
            new_key = generate_key(args.key_type)
            staged = store.stage_key(stored, new_key)
            try:
                acme.change_key(coerce_jwk(new_key))
            except BaseException:
                staged.unlink(missing_ok=True)
                raise
            store.commit_key(stored, staged, new_key)
            reporter.step(f"account key rolled over to a new {describe_key(new_key)} key")
        elif args.action == "deactivate":
            regr = acme.deactivate_registration(regr)
            moved = store.retire(stored)
            result(f"account {regr.uri} is {regr.body.status}; its files moved to {moved}")
            return 0
    key_text = f"{describe_key(stored.key)}, SHA-256 thumbprint {_thumbprint(stored.key)}"
    _print_account(regr, key_text, str(stored.folder))
    return 0


def run_dns_persist_record(args: argparse.Namespace, reporter: Reporter) -> int:
    """``acme dns-persist-record NAME...``: the records to publish once (see its --help)."""
    dns, ips = split_names(args.names)
    if ips:
        raise CLIError(f"{ips[0]}: dns-persist-01 validates DNS names only", 2)
    if args.persist_until is not None and args.persist_until <= utcnow():
        when = args.persist_until.astimezone(datetime.timezone.utc)
        raise CLIError(f"--persist-until {when:%Y-%m-%dT%H:%M:%SZ} has passed", 2)
    directory_url = resolve_directory(args.directory)
    with state_lock(args.config_dir, invocation(args)):
        acme, _, regr = open_account(
            AccountStore(args.config_dir), directory_url, reporter, ca_bundle=args.ca_bundle
        )
    with acme.net:
        key = acme.net.key
        assert key is not None
        meta = acme.directory.meta.to_partial_json()
    issuers = meta.get("issuerDomainNames")
    if not issuers:
        raise CLIError(
            "the CA's directory lists no meta.issuerDomainNames: it does not offer "
            "dns-persist-01 (draft-ietf-acme-dns-persist section 3.2)"
        )
    try:  # the same checks as the issuerDomainNames of a challenge (section 3.1)
        template = challenges.DNSPersist01.from_json(
            {"type": challenges.DNSPersist01.typ, "issuerDomainNames": issuers}
        )
    except jose_errors.DeserializationError as error:
        raise CLIError(f"the CA's meta.issuerDomainNames is not usable: {error}") from error
    account = Answering(key, regr.uri, meta)
    records = []
    for name in dns:
        wildcard = args.wildcard or name.startswith("*.")
        record_name, record = persist_record(
            template,
            name.removeprefix("*."),
            account,
            issuer_domain_name=args.issuer,
            wildcard=wildcard,
            persist_until=args.persist_until,
        )
        records.append({"name": record_name, "value": record.to_text()})
    if args.json:
        result(json.dumps(records, indent=2))
    else:
        result("\n".join(zone_line(item["name"], item["value"]) for item in records))
    return 0
