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
from acme.cli._commands import parse_reason
from acme.cli._files import KEY_TYPES
from acme.cli._output import one_line

__all__ = ["build_parser"]

_DESCRIPTION = """\
Get, check and revoke TLS certificates from any ACME (RFC 8555) CA, e.g. Let's Encrypt.
Start with `acme demo`: it runs the whole flow against an in-process test CA on loopback.
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}; see {self.prog} --help\n")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {port}")
    return port


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"seconds must be in (0, 86400]: {value}")
    return seconds


def _common(quiet_only: bool = False) -> _Parser:
    """Options every CA-facing subcommand takes (``parents=`` of each subparser)."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr (errors still)"
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
        "or registers one. Default challenge: http-01 with a built-in server on --http-port.",
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
        help="dns-01: run `CMD present NAME VALUE` to publish each TXT record and "
        "`CMD cleanup NAME VALUE` after",
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
    parser.add_argument("--force", action="store_true", help="replace existing key and chain files")
    parser.add_argument(
        "--key-type", choices=KEY_TYPES, default=KEY_TYPES[0], help="certificate key type"
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
    _account_creation(parser)


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
        description="Print the CA's suggested renewal window for CERT (RFC 9773).",
    )
    parser.add_argument("certificate", type=Path, metavar="CERT", help="PEM certificate file")


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
        "--key-type", choices=KEY_TYPES, default=KEY_TYPES[0], help="account key type"
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
        "--key-type", choices=KEY_TYPES, default=KEY_TYPES[0], help="new account key type"
    )
    deactivate = actions.add_parser(
        "deactivate", parents=[_common()], help="deactivate the account for good"
    )
    deactivate.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")


def build_parser() -> argparse.ArgumentParser:
    """The ``acme`` parser; each subcommand sets ``command`` (and ``account`` ``action``)."""
    parser = _Parser(prog="acme", description=_DESCRIPTION)
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
    _account(sub)
    serve = sub.add_parser(
        "serve-test-ca",
        parents=[_common(quiet_only=True)],
        help="run the in-process test CA in the foreground (tests and demos only)",
        description="Run acme.testing's CA on loopback until Ctrl-C, printing its directory "
        "URL and CA bundle. It validates http-01 on --http-port and tls-alpn-01 on --tls-port "
        "of 127.0.0.1. FOR TESTS AND DEMOS ONLY.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default) or ::1")
    serve.add_argument("--port", type=_port, default=0, help="listen port (default: any free)")
    serve.add_argument(
        "--http-port", type=_port, default=5002, help="where http-01 is checked (default: 5002)"
    )
    serve.add_argument(
        "--tls-port", type=_port, default=5001, help="where tls-alpn-01 is checked (default: 5001)"
    )
    serve.add_argument(
        "--always-valid", action="store_true", help="accept every challenge without checking"
    )
    return parser
