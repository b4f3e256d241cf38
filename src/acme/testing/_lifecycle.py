"""Status changes shared by the order and certificate handlers (RFC 8555 section 7.1.6).

Orders move lazily, when read: expiry, authorization results, ``ready``; a ``processing``
order is issued once its polls have passed. Every change is one edge of `acme._core.states`.
"""

from __future__ import annotations

from typing import Any, cast

from acme import messages
from acme._core import states
from acme._wire import renewal_id as _ari
from acme.testing._ca import PublicKey
from acme.testing._model import Authorization, IssuedCertificate, Order, move
from acme.testing._problems import Reply
from acme.testing._state import ServerCore

__all__ = [
    "advance_processing",
    "issue",
    "order_reply",
    "problem",
    "refresh_authz",
    "refresh_order",
]


def refresh_authz(core: ServerCore, authz: Authorization) -> None:
    """Expire an authorization whose time is up (RFC 8555 section 7.1.6)."""
    if authz.status in ("pending", "valid") and core.now() >= authz.expires:
        move(states.AUTHORIZATION, authz, "expired")


def refresh_order(core: ServerCore, record: Order) -> None:
    """Bring an order up to date with the clock and its authorizations (section 7.1.6)."""
    if record.status in ("pending", "ready") and core.now() >= record.expires:
        move(states.ORDER, record, "invalid")
        record.error = problem("malformed", "The order expired")
        return
    if record.status not in ("pending", "ready"):
        return
    for authz_id in record.authz_ids:
        authz = core.authorizations[authz_id]
        refresh_authz(core, authz)
        if authz.status not in ("pending", "valid"):
            move(states.ORDER, record, "invalid")
            record.error = problem(
                "unauthorized", f"Authorization for {authz.value} is {authz.status}"
            )
            return
    if record.status == "pending" and all(
        core.authorizations[authz_id].status == "valid" for authz_id in record.authz_ids
    ):
        move(states.ORDER, record, "ready")


def problem(code: str, detail: str) -> dict[str, Any]:
    """An order or challenge ``error`` field: an RFC 7807 problem of an ACME type."""
    return {"type": messages.ERROR_PREFIX + code, "detail": detail}


def order_reply(
    core: ServerCore, record: Order, status: int = 200, location: str | None = None
) -> Reply:
    cert_url = core.certificates[record.cert_id].url if record.cert_id else None
    authz_urls = [core.authorizations[authz_id].url for authz_id in record.authz_ids]
    retry = core.poll_retry_after if record.status == "processing" else None
    return Reply.json(
        record.to_json(authz_urls, cert_url), status, location=location, retry_after=retry
    )


def advance_processing(core: ServerCore, record: Order) -> None:
    """One poll of a ``processing`` order: issue when ``processing_polls`` have passed."""
    if record.status == "processing":
        record.polls_left -= 1
        if record.polls_left <= 0:
            issue(core, record)


def issue(core: ServerCore, record: Order) -> None:
    assert record.csr is not None
    start = record.not_before or core.now()
    end = record.not_after or start + core.profile_lifetime(record.profile)
    leaf = core.ca.issue(
        cast(PublicKey, record.csr.public_key()),
        [value for typ, value in record.identifiers if typ == "dns"],
        [value for typ, value in record.identifiers if typ == "ip"],
        start,
        end,
        core.rng.getrandbits(120) + 1,  # positive, under RFC 5280's 20 octets
    )
    ident = core.new_id()
    core.certificates[ident] = IssuedCertificate(
        id=ident,
        url=core.url(f"/cert/{ident}"),
        account_id=record.account_id,
        order_id=record.id,
        certificate=leaf,
        chains=core.ca.chains(leaf),
        ari_id=_ari.certificate_identifier(leaf),
        identifiers=list(record.identifiers),
    )
    record.cert_id = ident
    record.csr = None
    move(states.ORDER, record, "valid")
