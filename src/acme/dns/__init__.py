"""DNS for the DNS challenges: providers that publish TXT records, and propagation checks.

`PropagationChecker` and `RFC2136Provider` need dnspython
(``pip install 'acme-protocol[dns]'``), the lexicon adapter ``acme-protocol[lexicon]``; the rest
needs neither.

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

from typing import TYPE_CHECKING, Any

from acme.dns._lexicon import LexiconProvider
from acme.dns._providers import DNSChallenges, DNSProvider, HookProvider, split_txt
from acme.dns._records import challenge_record, persist_check
from acme.dns._types import (
    DNSError,
    NameServer,
    Progress,
    PropagationTimeout,
    TXTCheck,
    TXTRecord,
)

if TYPE_CHECKING:  # pragma: no cover
    from acme.dns._propagation import PropagationChecker
    from acme.dns._rfc2136 import RFC2136Provider

# What needs dnspython is imported on first use, so the provider interface and the hook
# provider work (and acme.cli starts) without the "dns" extra.
_NEEDS_DNSPYTHON = {
    "PropagationChecker": "acme.dns._propagation",
    "RFC2136Provider": "acme.dns._rfc2136",
}


def __getattr__(name: str) -> Any:
    module_name = _NEEDS_DNSPYTHON.get(name)
    if module_name is None:
        raise AttributeError(f"module 'acme.dns' has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        from acme import errors

        raise errors.DependencyError(
            f"acme.dns.{name} needs dnspython: pip install 'acme[dns]'"
        ) from error
    return getattr(module, name)


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
