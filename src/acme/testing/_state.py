"""What the request handlers may use of the test server: the `ServerCore` protocol.

The handler modules (`_accounts`, `_orders`, `_certs`, `_lifecycle`) are written against this
protocol, not against `ACMEServerCore`, so the server imports its handlers and no handler
imports the server.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from josepy import jwk

from acme import messages
from acme.testing._ca import CertificateAuthority
from acme.testing._model import Account, Authorization, IssuedCertificate, Order
from acme.testing._renewal import RenewalWindow

__all__ = ["ServerCore", "Validator"]

#: Decides a challenge: ``(type, identifier, token, key authorization, account key)`` -> the
#: problem that failed it, or ``None`` when the challenge is fulfilled.
Validator = Callable[[str, messages.Identifier, str, str, jwk.JWK], messages.Error | None]


class ServerCore(Protocol):
    """The server state and settings a handler reads and changes."""

    # Settings (see `ACMEServerCore` for their meaning).
    terms_of_service: str | None
    profiles: dict[str, str]
    default_profile: str | None
    eab_keys: dict[str, bytes]
    external_account_required: bool
    reuse_authorizations: bool
    reject_replaces: str | None
    challenge_types: tuple[str, ...]
    validation_delay_polls: int
    processing_polls: int
    orders_page_size: int
    poll_retry_after: int | None
    renewal_retry_after: int
    renewal_window: RenewalWindow
    validator: Validator
    dns_lookup: Callable[[str], Sequence[str]] | None
    issuer_domain_names: tuple[str, ...]
    rng: random.Random
    ca: CertificateAuthority
    # State.
    accounts: dict[str, Account]
    orders: dict[str, Order]
    authorizations: dict[str, Authorization]
    certificates: dict[str, IssuedCertificate]
    internal_errors: list[BaseException]

    @property
    def account_hash_prefix(self) -> str: ...

    def now(self) -> datetime.datetime: ...

    def url(self, path: str) -> str: ...

    def new_id(self) -> str: ...

    def new_token(self) -> str: ...

    def profile_lifetime(self, profile: str | None) -> datetime.timedelta: ...

    def account_by_key(self, key: jwk.JWK) -> Account | None: ...

    def owned(self, store: Mapping[str, Any], ident: str, account: Account, what: str) -> Any: ...
