"""DNS for the DNS challenges: providers that publish TXT records, and propagation checks.

Needs dnspython (``pip install 'acme[dns]'``); the lexicon adapter needs ``acme[lexicon]``.

- `DNSProvider` (``publish(name, value)``, ``cleanup(name, value)``) with `HookProvider` (a
  user command, as ``acme issue --dns-hook`` runs it), `RFC2136Provider` (dynamic updates
  signed with TSIG) and `LexiconProvider` (dns-lexicon's provider APIs).
- `PropagationChecker` asks every authoritative server of each record's zone directly until
  it serves the record, within a deadline, reporting `Progress`.
- `DNSChallenges` publishes all records of an order in parallel, waits for all of them in
  parallel, and removes them afterwards. `challenge_record` gives the record of a dns-01 or
  dns-account-01 challenge; `persist_check` the read-only check of a dns-persist-01 record,
  which is published once and never removed per order.

Example::

    checker = PropagationChecker()
    with DNSChallenges(RFC2136Provider("192.0.2.53", key_name=..., key_secret=...),
                       checker, timeout=120) as dns_challenges:
        dns_challenges.publish([challenge_record(challb, name, key) for ...])
        ...  # answer the challenges, poll, finalize
"""

from __future__ import annotations

try:
    import dns.message  # noqa: F401
except ImportError as _error:  # pragma: no cover - exercised without the extra only
    from acme import errors as _errors

    raise _errors.DependencyError("acme.dns needs dnspython: pip install 'acme[dns]'") from _error

from acme.dns._lexicon import LexiconProvider
from acme.dns._propagation import (
    DNSError,
    NameServer,
    Progress,
    PropagationChecker,
    PropagationTimeout,
    TXTCheck,
    TXTRecord,
)
from acme.dns._providers import DNSChallenges, DNSProvider, HookProvider, split_txt
from acme.dns._records import challenge_record, persist_check
from acme.dns._rfc2136 import RFC2136Provider

__all__ = [
    "DNSChallenges",
    "DNSError",
    "DNSProvider",
    "HookProvider",
    "LexiconProvider",
    "NameServer",
    "Progress",
    "PropagationChecker",
    "PropagationTimeout",
    "RFC2136Provider",
    "TXTCheck",
    "TXTRecord",
    "challenge_record",
    "persist_check",
    "split_txt",
]
