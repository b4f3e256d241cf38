"""An in-process ACME CA for tests and demos: `ACMEServerCore` and the HTTPS `ACMETestServer`.

FOR TESTS AND DEMOS ONLY -- NEVER USE IN PRODUCTION. The CA keys are generated in memory,
certificates chain to a throwaway root, and nothing is audited or persisted.

- `ACMEServerCore` is a pure function-like server (``core.handle(HTTPRequest) ->
  HTTPResponse``) with an injected clock, validator and random source: pass ``core.handle`` as
  the transport of client flows in unit tests.
- `ACMETestServer` runs a core behind a loopback HTTPS listener with its own root, real
  http-01 / tls-alpn-01 / dns-01 validation (`ChallengeValidator`) or ``always_valid=True``;
  dns-account-01 and dns-persist-01 (drafts) are checked against the same TXT records.
  With ``management_port`` it also serves a pebble-challtestsrv-like HTTP API (``/set-txt``,
  ``/clear-txt``) so other processes can publish dns-01 records, and with ``dns_port`` a DNS
  server answering them; ``acme serve-test-ca`` runs it from the command line.
- Knobs for renewal tests: ``renewal_window`` (`RenewalWindow`: the default window as
  fractions of each certificate's lifetime, or ``"due"`` for a drill that makes every ARI
  client renew), `ACMEServerCore.move_windows_into_past` (a CA's revocation drill, RFC 9773),
  ``rate_limit`` (`RateLimit`: ``rateLimited`` with ``Retry-After`` after a
  count) and ``reject_replaces`` (refuse every order that carries ``replaces``).
- The pytest plugin (`acme.testing.pytest_plugin`, registered as a ``pytest11`` entry point)
  provides the ``acme_test_server`` and ``acme_test_server_factory`` fixtures.
"""

from __future__ import annotations

from acme.testing._ca import CertificateAuthority
from acme.testing._faults import Faults, RateLimit
from acme.testing._renewal import RenewalWindow
from acme.testing._server_core import (
    DEFAULT_PROFILES,
    RESOURCES,
    ACMEServerCore,
    Validator,
    always_valid,
)
from acme.testing._shell import ACMETestServer
from acme.testing._validation import ChallengeValidator, DNSRecordStore

__all__ = [
    "DEFAULT_PROFILES",
    "RESOURCES",
    "ACMEServerCore",
    "ACMETestServer",
    "CertificateAuthority",
    "ChallengeValidator",
    "DNSRecordStore",
    "Faults",
    "RateLimit",
    "RenewalWindow",
    "Validator",
    "always_valid",
]
