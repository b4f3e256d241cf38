"""The test CA's checks of the draft DNS challenges, over its TXT records.

- dns-account-01 (draft-ietf-acme-dns-account-label-03 section 3.3): the TXT record at
  ``_<label>._acme-challenge.<name>``, the label computed from the account URL (the ``kid``),
  must hold base64url(SHA-256(key authorization)).
- dns-persist-01 (draft-ietf-acme-dns-persist-02 section 4.2): a record at
  ``_validation-persist.<name>`` naming one of our issuer domain names and a hashed URI of
  the account over its current or a prior key; its persistUntil caps the authorization.

The records come from the core's ``dns_lookup`` (the test server's in-memory store).
"""

from __future__ import annotations

import datetime
import hashlib
from typing import TYPE_CHECKING

from josepy import b64

from acme import challenges, messages
from acme._wire.dns_challenges import evaluate_persist_records
from acme.testing._model import Account, Authorization, Challenge

if TYPE_CHECKING:  # pragma: no cover
    from acme.testing._state import ServerCore

__all__ = ["DNS_TYPES", "DRAFT_TYPES", "validate"]

#: Challenge types proved through DNS: never for IP identifiers, the only ones for wildcards.
DNS_TYPES = frozenset({"dns-01", "dns-account-01", "dns-persist-01"})
#: The types this module validates.
DRAFT_TYPES = frozenset({"dns-account-01", "dns-persist-01"})


def _problem(code: str, detail: str, value: str) -> messages.Error:
    return messages.Error.with_code(code, detail=f"{value}: {detail}")


def validate(
    core: ServerCore, authz: Authorization, chall: Challenge, account: Account
) -> tuple[messages.Error | None, datetime.datetime | None]:
    """The problem to record (None when valid) and, for dns-persist-01, the persistUntil
    that the authorization must not outlive."""
    assert core.dns_lookup is not None
    if chall.type == "dns-account-01":
        label = challenges.DNSAccount01.account_label(account.url)
        name = f"{label}.{challenges.DNSAccount01.LABEL}.{authz.value}"
        assert chall.key_authorization is not None
        digest = hashlib.sha256(chall.key_authorization.encode("ascii")).digest()
        records = list(core.dns_lookup(name))
        if not records:  # section 3.4: say which account URL made the name
            detail = f"no TXT record at {name} (account {account.url})"
            return _problem("dns", detail, authz.value), None
        if b64.b64encode(digest).decode("ascii") not in records:
            return _problem(
                "incorrectResponse", f"no TXT record at {name} matches", authz.value
            ), None
        return None, None
    name = f"{challenges.DNSPersist01.LABEL}.{authz.value}"
    verdict = evaluate_persist_records(
        core.dns_lookup(name),
        issuer_domain_names=chall.issuer_domain_names or core.issuer_domain_names,
        account_url=account.url,
        account_keys=[account.key, *account.prior_keys],
        account_hash_prefix=core.account_hash_prefix,
        domain=authz.value,
        wildcard=authz.wildcard,
        now=core.now(),
    )
    if verdict.record is None:
        assert verdict.problem is not None
        return _problem(verdict.problem, f"{name}: {verdict.detail}", authz.value), None
    return None, verdict.record.persist_until
