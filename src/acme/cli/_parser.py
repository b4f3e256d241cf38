"""The argument parser of ``acme`` (``python -m acme``): subcommands and their options.

Usage errors exit with status 2 and one line (``acme issue: error: ...; see acme issue
--help``), never the multi-line argparse usage dump.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import NoReturn

from acme._wire.order import REVOCATION_REASONS
from acme.cli._accounts import default_config_dir
from acme.cli._argtypes import port as _port
from acme.cli._argtypes import seconds as _seconds
from acme.cli._argtypes import server_address as _server_address
from acme.cli._argtypes import timestamp as _timestamp
from acme.cli._commands import parse_reason
from acme.cli._files import KEY_TYPES
from acme.cli._output import one_line, terminal_safe
from acme.cli._serve_args import add_serve_test_ca
from acme.cli._version import DISTRIBUTION, version

__all__ = ["CHALLENGE_TYPES", "build_parser"]

#: What ``acme issue --challenge`` offers.
CHALLENGE_TYPES = ("http-01", "tls-alpn-01", "dns-01", "dns-account-01", "dns-persist-01")

_DESCRIPTION = """\
Get, check and revoke TLS certificates from any ACME (RFC 8555) CA, e.g. Let's Encrypt.
Start with `acme demo`: it runs the whole flow against an in-process test CA on loopback.
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        line = terminal_safe(f"{self.prog}: error: {one_line(message)}; see {self.prog} --help")
        self.exit(2, line + "\n")


def _common(quiet_only: bool = False) -> _Parser:
    """Options every CA-facing subcommand takes (``parents=`` of each subparser)."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr (errors still)"
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the library's debug log on stderr: each request (method, URL, "
        "status), nonce retries, polls and waits; never keys or signed bodies",
    )
    common.add_argument(
        "--log-file",
        type=Path,
        metavar="PATH",
        help="append the library's debug log to PATH (with or without --verbose)",
    )
    if quiet_only:
        return common
    common.add_argument(
        "--directory",
        default=os.environ.get("ACME_DIRECTORY"),
        metavar="URL",
        help="the CA's ACME directory URL, or letsencrypt / letsencrypt-staging "
        "(default: $ACME_DIRECTORY)",
    )
    common.add_argument(
        "--ca-bundle",
        metavar="PEM",
        help="trust this CA bundle for the ACME server's HTTPS (a private or test CA)",
    )
    common.add_argument(
        "--config-dir",
        type=Path,
        default=default_config_dir(),
        metavar="DIR",
        help="where accounts are saved (default: %(default)s)",
    )
    return common


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=os.environ.get("ACME_STORE"),
        metavar="DIR|URL",
        help="where lineages are kept: a folder, or postgresql://... for a fleet "
        "(default: $ACME_STORE, else CONFIG-DIR/store)",
    )


def _hook_options(parser: argparse.ArgumentParser, saved: bool) -> None:
    what = "saved with the lineage" if saved else "for this run, instead of the saved ones"
    parser.add_argument("--pre-hook", metavar="CMD", help=f"shell command before an order ({what})")
    parser.add_argument(
        "--post-hook", metavar="CMD", help=f"shell command after an order, even failed ({what})"
    )
    parser.add_argument(
        "--deploy-hook",
        metavar="CMD",
        help=f"shell command after a new certificate is saved ({what}); environment: "
        "ACME_LINEAGE, ACME_NAMES, RENEWED_DOMAINS, ACME_SERIAL, ACME_NOT_AFTER, ACME_KEY_FILE, "
        "ACME_CHAIN_FILE, RENEWED_LINEAGE (folder store)",
    )


def _store_common() -> _Parser:
    """Options of the commands on recorded lineages (renew, certificates, delete)."""
    common = _common(quiet_only=True)
    common.add_argument(
        "--config-dir",
        type=Path,
        default=default_config_dir(),
        metavar="DIR",
        help="where accounts are saved (default: %(default)s)",
    )
    common.add_argument(
        "--ca-bundle",
        metavar="PEM",
        help="trust this CA bundle for the ACME server's HTTPS (a private or test CA)",
    )
    _store_options(common)
    return common


def _lineage_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    renew = sub.add_parser(
        "renew",
        parents=[_store_common()],
        help="renew the recorded certificates that are due",
        description="Renew every recorded certificate (or each --cert-name) that is due: by "
        "the CA's renewal information (RFC 9773, with replaces) or at 2/3 of its lifetime. "
        "The new key and chain go to the files `acme issue` wrote. Exit status: 0 when "
        "nothing failed (nothing due, or renewed), 1 when a certificate failed.",
    )
    renew.add_argument(
        "--cert-name", action="append", metavar="ID", help="only this lineage (repeatable)"
    )
    renew.add_argument("--force", action="store_true", help="renew now, due or not")
    renew.add_argument(
        "--dry-run", action="store_true", help="report what would be renewed; order nothing"
    )
    renew.add_argument(
        "--timeout",
        type=_seconds,
        default=90.0,
        metavar="SECONDS",
        help="give up one renewal after this long (default: 90)",
    )
    _hook_options(renew, saved=False)
    certificates = sub.add_parser(
        "certificates",
        parents=[_store_common()],
        help="list the recorded certificates, their expiry and renewal window",
        description="List every recorded lineage: names, expiry, the CA's renewal window "
        "(RFC 9773) and when it will be renewed.",
    )
    certificates.add_argument("--json", action="store_true", help="one JSON array on stdout")
    delete = sub.add_parser(
        "delete",
        parents=[_store_common()],
        help="forget a recorded certificate",
        description="Remove a lineage and its stored keys from the store, so it is no longer "
        "renewed. The certificate stays valid (see acme revoke); files written by acme issue "
        "are left in place.",
    )
    delete.add_argument("lineage", metavar="ID", help="the lineage id (see acme certificates)")


def _account_creation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--email",
        action="append",
        metavar="ADDRESS",
        help="contact address for a new account (repeatable)",
    )
    parser.add_argument("--agree-tos", action="store_true", help="accept the CA's terms of service")
    parser.add_argument("--eab-kid", metavar="KID", help="external account binding key id")
    parser.add_argument(
        "--eab-hmac-key", metavar="B64URL", help="external account binding HMAC key"
    )


def _issue(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "issue",
        parents=[_common()],
        help="obtain a certificate",
        description="Order a certificate for NAMES, answer the CA's challenges, write the new "
        "private key (mode 0600) and the full chain. Reuses the saved account for the CA, "
        "or registers one. Default challenge: http-01 with a built-in server on --http-port. "
        "The key and chain are replaced as one: both paths become links through one switch "
        "in the archive folder .KEYNAME.acme/ beside the key, which also keeps the previous "
        "pair. The folders are checked for writability before anything is ordered; if the "
        "pair still cannot be installed, it is saved under --config-dir and the error says "
        "where.",
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="DNS names or IP addresses")
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--webroot",
        type=Path,
        metavar="DIR",
        help="http-01: write challenge files under DIR/.well-known/acme-challenge/ for a "
        "web server that already serves DIR",
    )
    how.add_argument(
        "--tls-alpn",
        action="store_true",
        help="tls-alpn-01 (RFC 8737) with a built-in TLS server on --tls-port",
    )
    how.add_argument(
        "--dns-hook",
        metavar="CMD",
        help="dns-01 and dns-account-01: run `CMD present NAME VALUE` to publish each TXT "
        "record and `CMD cleanup NAME VALUE` after",
    )
    parser.add_argument(
        "--challenge",
        choices=CHALLENGE_TYPES,
        help="challenge type to answer (default: dns-01 with --dns-hook, tls-alpn-01 with "
        "--tls-alpn, else http-01); dns-01 and dns-account-01 need --dns-hook to publish "
        "their records; dns-persist-01 uses a record published once (see "
        "`acme dns-persist-record`)",
    )
    parser.add_argument(
        "--http-port", type=_port, default=80, help="http-01 server port (default: 80)"
    )
    parser.add_argument(
        "--tls-port", type=_port, default=443, help="tls-alpn-01 server port (default: 443)"
    )
    parser.add_argument(
        "--bind",
        default="",
        metavar="ADDRESS",
        help="address for the built-in servers (default: every IPv4 and IPv6 address)",
    )
    parser.add_argument(
        "--dns-hook-timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long one hook call may take (default: 300)",
    )
    _dns_check_options(parser)
    parser.add_argument(
        "--key-file",
        type=Path,
        default=Path("privkey.pem"),
        metavar="PATH",
        help="where to write the certificate's private key (default: privkey.pem)",
    )
    parser.add_argument(
        "--chain-file",
        type=Path,
        default=Path("fullchain.pem"),
        metavar="PATH",
        help="where to write the certificate and its chain (default: fullchain.pem)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing key and chain (the new files keep their owner, group and mode)",
    )
    parser.add_argument(
        "--key-type",
        choices=KEY_TYPES,
        default=KEY_TYPES[0],
        help=f"certificate key type (default: {KEY_TYPES[0]})",
    )
    parser.add_argument("--profile", metavar="NAME", help="certificate profile (if offered)")
    parser.add_argument(
        "--replaces",
        type=Path,
        metavar="CERT",
        help="this order renews CERT (RFC 9773 `replaces`)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=90.0,
        metavar="SECONDS",
        help="give up waiting for validation and issuance after this long (default: 90)",
    )
    parser.add_argument(
        "--cert-name",
        metavar="ID",
        help="the lineage id it is recorded under for `acme renew` (default: from the first name)",
    )
    _store_options(parser)
    _hook_options(parser, saved=True)
    _account_creation(parser)


def _dns_check_options(parser: argparse.ArgumentParser) -> None:
    """The propagation check of the DNS challenges (``acme.dns.PropagationChecker``)."""
    parser.add_argument(
        "--dns-check",
        action="store_true",
        help="before answering a DNS challenge, wait until every authoritative name server "
        "of each record's zone serves the record, asking them directly (needs the `dns` "
        "extra: dnspython)",
    )
    parser.add_argument(
        "--dns-check-timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long --dns-check waits for every server (default: 300)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--dns-resolver",
        action="append",
        type=_server_address,
        metavar="ADDRESS[:PORT]",
        help="find the zone's name servers through this resolver, not the system's "
        "(repeatable; implies --dns-check)",
    )
    where.add_argument(
        "--dns-check-server",
        action="append",
        type=_server_address,
        metavar="ADDRESS[:PORT]",
        help="ask this authoritative server instead of the zone's NS records, e.g. a hidden "
        "primary; the record names are asked as they are (no CNAME is followed) "
        "(repeatable; implies --dns-check)",
    )


def _revoke(sub: argparse._SubParsersAction[_Parser]) -> None:
    reasons = ", ".join(f"{name} ({code})" for name, code in REVOCATION_REASONS.items())
    parser = sub.add_parser(
        "revoke",
        parents=[_common()],
        help="revoke a certificate",
        description="Revoke the certificate in CERT (the first one of a chain file), signed by "
        "the saved account or, with --cert-key, by the certificate's own key.",
    )
    parser.add_argument("certificate", type=Path, metavar="CERT", help="PEM certificate file")
    parser.add_argument(
        "--reason",
        type=parse_reason,
        default=0,
        help=f"RFC 5280 reason: {reasons}; default unspecified",
    )
    parser.add_argument(
        "--cert-key", type=Path, metavar="KEY", help="sign with the certificate's private key"
    )


def _renewal_info(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "renewal-info",
        parents=[_common()],
        help="ask the CA when to renew a certificate (RFC 9773 ARI)",
        description="Print the CA's suggested renewal window for CERT (RFC 9773). Exit "
        "status 0: not due yet; 3: the window has begun (renew now); 1: error.",
    )
    parser.add_argument("certificate", type=Path, metavar="CERT", help="PEM certificate file")


def _dns_persist_record(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "dns-persist-record",
        parents=[_common()],
        help="print the dns-persist-01 TXT record to publish once for NAMES",
        description="Print, for each NAME, the TXT record that lets the CA at --directory "
        "validate NAME for the saved account with dns-persist-01 "
        "(draft-ietf-acme-dns-persist), as a zone file line. Publish it once and leave it: "
        "every later `acme issue --challenge dns-persist-01` and `acme renew` only read it. "
        "After `acme account rollover`, run this again and replace the records (the CA may "
        "stop accepting values made with the old key).",
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="DNS names (no IP addresses)")
    parser.add_argument(
        "--wildcard",
        action="store_true",
        help="add policy=wildcard, needed for the wildcard of NAME (implied by a NAME "
        "given as `*.NAME`)",
    )
    parser.add_argument(
        "--persist-until",
        type=_timestamp,
        metavar="WHEN",
        help="CAs stop relying on the record after this ISO 8601 date or time (UTC unless "
        "it names a zone)",
    )
    parser.add_argument(
        "--issuer",
        metavar="NAME",
        help="which of the CA's issuer domain names to name (default: its first)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print a JSON list of {"name", "value"} objects instead of zone file lines',
    )


def _account(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "account",
        help="register, show, update, roll over or deactivate the saved account",
        description="Manage the account saved for --directory under --config-dir.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    register = actions.add_parser(
        "register", parents=[_common()], help="register an account (or find the saved one)"
    )
    _account_creation(register)
    register.add_argument(
        "--key-type",
        choices=KEY_TYPES,
        default=KEY_TYPES[0],
        help=f"account key type (default: {KEY_TYPES[0]})",
    )
    actions.add_parser("show", parents=[_common()], help="show the saved account")
    update = actions.add_parser("update", parents=[_common()], help="replace contact addresses")
    contact = update.add_mutually_exclusive_group(required=True)
    contact.add_argument("--email", action="append", metavar="ADDRESS", help="(repeatable)")
    contact.add_argument("--no-email", action="store_true", help="remove every contact")
    rollover = actions.add_parser(
        "rollover", parents=[_common()], help="replace the account key (RFC 8555 7.3.5)"
    )
    rollover.add_argument(
        "--key-type",
        choices=KEY_TYPES,
        default=KEY_TYPES[0],
        help=f"new account key type (default: {KEY_TYPES[0]})",
    )
    deactivate = actions.add_parser(
        "deactivate", parents=[_common()], help="deactivate the account for good"
    )
    deactivate.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")


def build_parser() -> argparse.ArgumentParser:
    """The ``acme`` parser; each subcommand sets ``command`` (and ``account`` ``action``)."""
    parser = _Parser(prog="acme", description=_DESCRIPTION)
    parser.add_argument(
        "--version",
        action="version",
        version=f"acme {version()} ({DISTRIBUTION})",
        help="print the version and exit",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="defaults for any long option, INI [defaults] section (default: $ACME_CONFIG, "
        "else CONFIG-DIR/config.ini if it exists)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = sub.add_parser(
        "demo",
        parents=[_common(quiet_only=True)],
        help="issue, verify, check and revoke a certificate with an in-process test CA",
        description="Start the acme.testing CA on loopback and run the whole flow against it "
        "with real http-01 validation. Needs no network and nothing but this package.",
    )
    demo.add_argument("names", nargs="*", metavar="NAME", help="names to certify")
    demo.add_argument("--out", type=Path, metavar="DIR", help="keep the keys and chain in DIR")
    demo.add_argument("--timeout", type=_seconds, default=60.0, help=argparse.SUPPRESS)
    _issue(sub)
    _revoke(sub)
    _renewal_info(sub)
    _dns_persist_record(sub)
    _lineage_commands(sub)
    _account(sub)
    add_serve_test_ca(sub, _common(quiet_only=True))
    return parser
