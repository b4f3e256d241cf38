"""The options of ``acme serve-test-ca``: everything `acme.testing.ACMETestServer` offers.

Kept apart from `acme.cli._parser` for size; like it, imports nothing heavy (``acme --help``
stays fast): option values are checked here, their meaning by `acme.cli._serve`.
"""

from __future__ import annotations

import argparse
from typing import Any

from acme.cli._argtypes import (
    count,
    days,
    delay,
    eab_key,
    loopback,
    name_value,
    optional_count,
    port,
    rate,
    renewal_window,
)

__all__ = ["add_serve_test_ca"]


def add_serve_test_ca(
    sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser
) -> None:
    """Add the ``serve-test-ca`` subcommand to ``sub`` (``common``: the ``--quiet`` parent)."""
    serve = sub.add_parser(
        "serve-test-ca",
        parents=[common],
        help="run the in-process test CA in the foreground (tests and demos only)",
        description="Run acme.testing's CA on loopback until Ctrl-C or SIGTERM. The first "
        "lines on stdout are `KEY VALUE`: directory (ACME directory URL), ca-bundle (its root, "
        "PEM), management (an HTTP API on loopback, no authentication: POST /set-txt "
        '{"host","value"} and /clear-txt {"host"} publish and remove dns-01 TXT records as '
        "with pebble-challtestsrv; /set-renewal-window "
        '{"certificate","start","end"} sets what renewalInfo suggests; /renewal-drill {} or '
        '{"certificate"} moves the renewal window of every unexpired certificate, or of that '
        "one, into the past, so ARI clients renew at once) and dns (HOST:PORT "
        "of a DNS server answering those records). It validates http-01 on --http-port and "
        "tls-alpn-01 on --tls-port of 127.0.0.1, dns-01 from the published records. "
        "FOR TESTS AND DEMOS ONLY.",
    )
    serve.add_argument(
        "--host",
        type=loopback,
        default="127.0.0.1",
        help="listen address: 127.0.0.1 (default) or ::1 (loopback only)",
    )
    serve.add_argument("--port", type=port, default=0, help="listen port (default: any free)")
    serve.add_argument(
        "--http-port", type=port, default=5002, help="where http-01 is checked (default: 5002)"
    )
    serve.add_argument(
        "--tls-port", type=port, default=5001, help="where tls-alpn-01 is checked (default: 5001)"
    )
    serve.add_argument(
        "--always-valid",
        action="store_true",
        help="accept every challenge without checking (default: real validation)",
    )
    serve.add_argument(
        "--resolve",
        action="append",
        type=name_value("ADDRESS"),
        default=[],
        metavar="NAME=ADDRESS",
        help="validate NAME at this loopback address (default: 127.0.0.1; repeatable)",
    )
    serve.add_argument(
        "--management-port",
        type=port,
        default=0,
        metavar="PORT",
        help="port of the management API (default: any free)",
    )
    serve.add_argument(
        "--dns-port",
        type=port,
        default=0,
        metavar="PORT",
        help="UDP and TCP port of the DNS server (default: any free)",
    )
    serve.add_argument(
        "--request-log",
        metavar="PATH",
        help="append one `METHOD PATH STATUS` line per request to PATH (- for stderr)",
    )
    ca = serve.add_argument_group("CA policy")
    ca.add_argument(
        "--eab",
        action="append",
        type=eab_key,
        default=[],
        metavar="KID:HMAC",
        help="require external account binding, accepting this key id and base64url MAC key "
        "(repeatable)",
    )
    ca.add_argument(
        "--authz-reuse",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse an account's valid authorizations in new orders (default: on)",
    )
    ca.add_argument(
        "--pre-authorization",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="offer newAuthz (RFC 8555 section 7.4.1; default: on)",
    )
    ca.add_argument(
        "--terms-of-service",
        metavar="URL",
        help="terms of service URL to agree to (default: DIRECTORY_BASE/terms; 'none': none)",
    )
    ca.add_argument(
        "--profile",
        action="append",
        type=name_value("DESCRIPTION"),
        metavar="NAME[=DESCRIPTION]",
        help="offer this certificate profile instead of classic and shortlived (repeatable)",
    )
    ca.add_argument("--no-profiles", action="store_true", help="offer no profiles (directory meta)")
    ca.add_argument("--default-profile", metavar="NAME", help="profile of orders that ask for none")
    ca.add_argument(
        "--certificate-lifetime",
        type=days,
        metavar="DAYS",
        help="lifetime of certificates outside the classic/shortlived profiles (default: 90)",
    )
    ca.add_argument(
        "--challenge-types",
        metavar="TYPE,...",
        help="challenge types offered (default: http-01,dns-01,tls-alpn-01,dns-account-01,"
        "dns-persist-01)",
    )
    ca.add_argument(
        "--issuer-domain-name",
        action="append",
        metavar="NAME",
        help="a dns-persist-01 issuer domain name the CA accepts in records (repeatable, up to "
        "10; default: acme-testing.invalid)",
    )
    ca.add_argument(
        "--alternate-chains",
        type=count,
        default=0,
        metavar="N",
        help="also offer N alternate chains to cross-signing roots",
    )
    ca.add_argument(
        "--validation-delay-polls",
        type=count,
        metavar="N",
        help="keep answered challenges processing for N polls",
    )
    ca.add_argument(
        "--processing-polls", type=count, metavar="N", help="keep orders processing for N polls"
    )
    ca.add_argument(
        "--poll-retry-after",
        type=count,
        metavar="SECONDS",
        help="Retry-After on pending authorizations and processing orders",
    )
    ca.add_argument(
        "--renewal-retry-after",
        type=count,
        metavar="SECONDS",
        help="Retry-After of renewalInfo answers (default: 21600)",
    )
    ca.add_argument(
        "--renewal-window",
        type=renewal_window,
        metavar="START,END|due",
        help="renewalInfo suggests renewing from START to END of each certificate's lifetime, "
        "as fractions (0.5,0.75) or percentages (50%%,75%%; default: 2/3 to 5/6); 'due': "
        "every window lies in the past when asked for, so every ARI client renews at once "
        "(a renewal drill). A window set for one certificate (/set-renewal-window, "
        "/renewal-drill) takes precedence",
    )
    ca.add_argument(
        "--orders-page-size", type=count, metavar="N", help="orders per page of an orders list"
    )
    faults = serve.add_argument_group(
        "fault injection", "Break a share of requests, reproducibly (seeded random draws)."
    )
    faults.add_argument("--fault-seed", type=count, default=0, metavar="N", help="the seed")
    faults.add_argument(
        "--bad-nonce-rate",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="refuse this share of good requests with badNonce",
    )
    faults.add_argument(
        "--error-rate",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="answer this share of requests with --error-status, without acting on them",
    )
    faults.add_argument(
        "--error-status",
        type=int,
        default=503,
        metavar="STATUS",
        help="429 (rateLimited) or a 5xx (serverInternal); default 503",
    )
    faults.add_argument(
        "--retry-after",
        type=optional_count,
        default=1,
        metavar="SECONDS",
        help="Retry-After of those errors, or 'none' (default: 1)",
    )
    faults.add_argument(
        "--delay",
        type=delay,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before every response",
    )
    faults.add_argument(
        "--drop-rate",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="act on this share of requests but close the connection without an answer",
    )
    faults.add_argument(
        "--fault-resource",
        action="append",
        default=[],
        metavar="NAME",
        help="only break requests to this resource, e.g. newOrder, finalize (repeatable)",
    )
