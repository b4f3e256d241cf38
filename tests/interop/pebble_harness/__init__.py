"""Run Pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv on loopback for tests.

What one instance is (`start_pebble`, or the `pebble` / `pebble_factory` fixtures):

- Pebble's ACME and management listeners and challtestsrv's management API, DNS server and
  http-01 / https-01 / tls-alpn-01 responders all listen on 127.0.0.1, on ports picked at run
  time (a collision at start-up is retried with fresh ports).
- Pebble serves HTTPS with a leaf for 127.0.0.1, ::1 and localhost from a throwaway CA made here;
  ``ca_bundle`` is that CA's PEM file, for ``requests``' ``verify=``.
- Pebble runs with ``-dnsserver 127.0.0.1:<challtestsrv DNS port>``, so every name resolves
  through challtestsrv: A queries get 127.0.0.1 and AAAA none, unless mocked otherwise (Pebble's
  VA dials an AAAA answer without falling back to IPv4; ``default_ipv6="::1"`` opts in).
- Pebble's VA connects to ``http_port`` (http-01) and ``tls_port`` (tls-alpn-01): free ports
  where nothing listens, for the client's own standalone servers, unless chosen by the caller or
  ``challenge_responder="challtestsrv"`` points them at challtestsrv's responders.
- Logs go to files in the instance's directory; `PebbleInstance.stop` terminates, waits, kills.

challtestsrv 2.4's management endpoints (found by trying them; newer docs name some differently):
add-http01, del-http01, add-tlsalpn01, del-tlsalpn01, set-txt (adds a value), clear-txt, add-a,
clear-a, add-aaaa, clear-aaaa, set-cname, clear-cname, set-servfail, clear-servfail,
set-default-ipv4, set-default-ipv6, {http,dns,tlsalpn01}-request-history, clear-request-history
(also add-caa, add-redirect: not wrapped). DNS names must end with a dot; the client adds it.
"""

from __future__ import annotations

from interop.pebble_harness.challtestsrv import ChallTestSrvClient, dns_query
from interop.pebble_harness.errors import ChallTestSrvError, PebbleStartError
from interop.pebble_harness.fixtures import pebble, pebble_factory, pytest_collection_modifyitems
from interop.pebble_harness.instance import (
    SKIP_REASON,
    STARTUP_TIMEOUT,
    PebbleInstance,
    require_binaries,
    start_pebble,
)
from interop.pebble_harness.ports import LOOPBACK, free_ports
from interop.pebble_harness.tls_files import make_tls_files

__all__ = [
    "LOOPBACK",
    "SKIP_REASON",
    "STARTUP_TIMEOUT",
    "ChallTestSrvClient",
    "ChallTestSrvError",
    "PebbleInstance",
    "PebbleStartError",
    "dns_query",
    "free_ports",
    "make_tls_files",
    "pebble",
    "pebble_factory",
    "pytest_collection_modifyitems",
    "require_binaries",
    "start_pebble",
]
