"""Account resources of the test server (RFC 8555 section 7.3, 7.1.2.1).

Each handler takes the core and a verified `SignedRequest` and returns a `Reply` or raises
`Problem`.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from acme._core import states
from acme.testing import _jose, _lifecycle
from acme.testing._model import Account, SignedRequest, move
from acme.testing._problems import Problem, Reply
from acme.testing._state import ServerCore

__all__ = ["account", "check_contacts", "key_change", "new_account", "orders_list"]

_MAX_CONTACTS = 10


def check_contacts(contact: Any) -> list[str]:
    """Validate contact URLs (RFC 8555 section 7.3): ``mailto:`` with one plain address."""
    if not isinstance(contact, list) or not all(isinstance(url, str) for url in contact):
        raise Problem("malformed", '"contact" must be an array of URL strings')
    if len(contact) > _MAX_CONTACTS:
        raise Problem("invalidContact", f"At most {_MAX_CONTACTS} contacts are allowed")
    for url in contact:
        scheme, _, address = url.partition(":")
        if scheme.lower() != "mailto":
            raise Problem(
                "unsupportedContact",
                f"Contact {url[:100]!r}: only mailto: URLs are supported",
            )
        local, at, domain = address.partition("@")
        bad = not (local and at and domain) or any(c in address for c in "?,;<> \t\r\n")
        if bad or "@" in domain:
            raise Problem(
                "invalidContact",
                f"Contact {url[:100]!r} must be one address without hfields (RFC 8555 7.3)",
            )
    return list(contact)


def new_account(core: ServerCore, signed: SignedRequest) -> Reply:
    """newAccount (RFC 8555 sections 7.3, 7.3.1, 7.3.4)."""
    payload = signed.json_object()
    existing = core.account_by_key(signed.key)
    if existing is not None:  # section 7.3.1: 200 and the account as it was
        if existing.status != "valid":
            raise Problem("unauthorized", f"The account for this key is {existing.status}", 401)
        return Reply.json(existing.to_json(), location=existing.url)
    only_existing = payload.get("onlyReturnExisting", False)
    if not isinstance(only_existing, bool):
        raise Problem("malformed", '"onlyReturnExisting" must be a boolean')
    if only_existing:
        raise Problem("accountDoesNotExist", "No account exists for this key", 400)
    agreed = payload.get("termsOfServiceAgreed", False)
    if not isinstance(agreed, bool):
        raise Problem("malformed", '"termsOfServiceAgreed" must be a boolean')
    if core.terms_of_service and not agreed:
        raise Problem(
            "malformed",
            f"You must agree to the terms of service at {core.terms_of_service}",
        )
    contact = check_contacts(payload.get("contact", []))
    eab = payload.get("externalAccountBinding")
    if eab is None and core.external_account_required:
        raise Problem("externalAccountRequired", "This server requires externalAccountBinding")
    if eab is not None and core.eab_keys:
        _jose.verify_eab(eab, signed.url, signed.key, core.eab_keys)
    else:
        eab = None  # section 7.3.4: a binding we did not verify is not reflected
    ident = core.new_id()
    record = Account(
        id=ident,
        url=core.url(f"/acct/{ident}"),
        key=signed.key,
        contact=contact,
        terms_agreed=agreed,
        eab=eab,
    )
    core.accounts[ident] = record
    return Reply.json(record.to_json(), 201, location=record.url)


def _own_account(core: ServerCore, signed: SignedRequest) -> Account:
    record = signed.account_required
    if signed.params[0] != record.id:
        raise Problem("unauthorized", "Requests for an account must be signed by it", 403)
    return record


def account(core: ServerCore, signed: SignedRequest) -> Reply:
    """Fetch (POST-as-GET), update contacts, or deactivate (sections 7.3.2, 7.3.6)."""
    record = _own_account(core, signed)
    if signed.payload == b"":
        return Reply.json(record.to_json())
    payload = signed.json_object()
    status = payload.get("status")
    if status is not None and status != "deactivated":
        raise Problem("malformed", 'Only "status": "deactivated" may be requested')
    contact = check_contacts(payload["contact"]) if "contact" in payload else None
    if contact is not None:
        record.contact = contact
    if status == "deactivated":
        move(states.ACCOUNT, record, "deactivated")
        _cancel_pending_work(core, record)
    return Reply.json(record.to_json())


def _cancel_pending_work(core: ServerCore, record: Account) -> None:
    """Section 7.3.6: a deactivated account's pending orders and authorizations end."""
    for order in core.orders.values():
        if order.account_id == record.id and order.status in ("pending", "ready"):
            move(states.ORDER, order, "invalid")
            order.error = {
                "type": "urn:ietf:params:acme:error:unauthorized",
                "detail": "The account was deactivated",
            }
    for authz in core.authorizations.values():
        if authz.account_id == record.id and authz.status in ("pending", "valid"):
            move(states.AUTHORIZATION, authz, "deactivated")


def key_change(core: ServerCore, signed: SignedRequest) -> Reply:
    """Account key rollover: every check of RFC 8555 section 7.3.5."""
    record = signed.account_required  # step 1: an active account signed the outer JWS
    if signed.payload == b"":
        raise Problem("malformed", "keyChange needs an inner JWS as its payload")
    new_key, account_url, old_key = _jose.verify_key_change(signed.payload, signed.url)
    if account_url != record.url:  # step 7
        raise Problem("malformed", 'The keyChange "account" is not the signing account')
    if not _jose.same_key(old_key, record.key):  # step 8
        raise Problem("malformed", 'The keyChange "oldKey" is not the account key')
    holder = core.account_by_key(new_key)  # step 9
    if holder is not None:
        raise Problem(
            "malformed",
            "An account already uses the new key",
            409,
            headers=(("Location", holder.url),),
        )
    record.prior_keys.insert(0, record.key)  # kept for dns-persist-01 (section 4.2)
    record.key = new_key
    return Reply.json(record.to_json())


def orders_list(core: ServerCore, signed: SignedRequest) -> Reply:
    """The account's orders, paginated with ``Link: rel="next"`` (section 7.1.2.1)."""
    record = _own_account(core, signed)
    signed.require_empty()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(signed.url).query)
    cursor_text = query.get("cursor", ["0"])[0]
    if not cursor_text.isdigit():
        raise Problem("malformed", f"Bad cursor {cursor_text[:20]!r}")
    cursor = int(cursor_text)
    visible = []
    for order_id in record.order_ids:
        order = core.orders[order_id]
        _lifecycle.refresh_order(core, order)
        if order.status != "invalid":  # section 7.1.2.1: SHOULD NOT list invalid orders
            visible.append(order.url)
    size = max(1, core.orders_page_size)
    page = visible[cursor : cursor + size]
    links: tuple[tuple[str, str], ...] = ()
    if cursor + size < len(visible):
        links = ((f"{record.url}/orders?cursor={cursor + size}", "next"),)
    return Reply.json({"orders": page}, links=links)
