"""The TXT records (or read-only checks) that answer DNS challenges, for `DNSChallenges`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from josepy import jwk

from acme import challenges, errors
from acme._wire.timestamps import utcnow
from acme.dns._types import TXTCheck, TXTRecord

__all__ = ["challenge_record", "persist_check"]


def challenge_record(
    chall: challenges.Challenge, domain: str, account_key: jwk.JWK, account_url: str | None = None
) -> TXTRecord:
    """The record to publish for a dns-01 (RFC 8555 section 8.4) or dns-account-01
    (draft-ietf-acme-dns-account-label section 3.2, needs ``account_url``) challenge."""
    chall = getattr(chall, "chall", chall)  # a ChallengeBody works too
    if isinstance(chall, challenges.DNSAccount01):
        if account_url is None:
            raise errors.Error("dns-account-01 needs the account URL")
        name = chall.validation_domain_name(domain, account_url)
        return TXTRecord(name, chall.validation(account_key))
    if isinstance(chall, challenges.DNS01):
        return TXTRecord(chall.validation_domain_name(domain), chall.validation(account_key))
    raise errors.Error(f"not a challenge answered by publishing a record: {chall!r:.100}")


def persist_check(
    chall: Any,
    domain: str,
    *,
    account_url: str,
    account_keys: Sequence[jwk.JWK | str],
    account_hash_prefix: str,
    wildcard: bool = False,
) -> TXTCheck:
    """A read-only expectation for dns-persist-01: the record published once at
    ``_validation-persist.<domain>`` lets this CA validate the account (draft section 4.2).
    The record is never published nor removed per order."""
    chall = getattr(chall, "chall", chall)
    if not isinstance(chall, challenges.DNSPersist01):
        raise errors.Error(f"not a dns-persist-01 challenge: {chall!r:.100}")

    def acceptable(values: Sequence[str]) -> bool:
        try:
            chall.find_record(
                values,
                account_url=account_url,
                account_keys=account_keys,
                account_hash_prefix=account_hash_prefix,
                domain=domain,
                wildcard=wildcard,
                now=utcnow(),
            )
        except errors.Error:
            return False
        return True

    where = ", ".join(chall.issuer_domain_names)
    return TXTCheck(chall.validation_domain_name(domain), acceptable, f"a record for {where}")
