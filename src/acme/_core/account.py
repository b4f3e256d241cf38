"""Directory and account flows (RFC 8555 sections 7.1.1, 7.3), on the operation layer.

Rules:
- newAccount (creation and lookup) is signed with the key's ``jwk``, every other request with
  the account URL as ``kid`` (section 6.2): the network object signs, with ``jwk`` for a `Post`
  marked so.
- The account's terms of service come from a ``Link: rel="terms-of-service"`` header when the
  server sends one (as acme 5.x reads them), else from the directory's meta.
- A saved account URL can be stale (an old account file, a CA that moved its URLs): before an
  update or deactivation the account is looked up by key (``onlyReturnExisting``, section
  7.3.1) and the request sent to the URL found (``acme._core.operations``).
"""

from __future__ import annotations

import json
from typing import Any

from josepy import jwa, jwk

from acme import errors, jws, messages
from acme._core.context import Context, account_url, post
from acme._core.http import Get, HTTPResponse, NetFlow
from acme._core.responses import location, parse, resource_url

__all__ = [
    "change_key",
    "deactivate_account",
    "fetch_directory",
    "find_account",
    "new_account",
    "query_account",
    "register_or_adopt",
    "update_account",
]


def fetch_directory(url: str) -> NetFlow[messages.Directory]:
    """GET the directory (section 7.1.1)."""
    response: HTTPResponse = yield Get(url)
    return parse(messages.Directory, response)


def _terms(
    response: HTTPResponse, directory: messages.Directory, fallback: str | None = None
) -> str | None:
    links = response.links.get("terms-of-service")
    if links:
        return links[0]
    if fallback is not None:
        return fallback
    meta = directory.meta
    return meta.terms_of_service if meta is not None else None


def new_account(
    ctx: Context, new_reg: messages.NewRegistration
) -> NetFlow[messages.RegistrationResource]:
    """Create an account (section 7.3); the key's existing account raises `ConflictError`.

    With ``onlyReturnExisting`` set (section 7.3.1), the existing account is returned instead.
    """
    url = resource_url(ctx.directory, "newAccount")
    response = yield from post(ctx, url, new_reg, jwk=True)
    uri = location(response)
    if response.status_code == 200 and not new_reg.only_return_existing:
        raise errors.ConflictError(uri)
    body = parse(messages.Registration, response)
    terms = _terms(response, ctx.directory)
    return messages.RegistrationResource(body=body, uri=uri, terms_of_service=terms)


def query_account(
    ctx: Context, regr: messages.RegistrationResource | None = None
) -> NetFlow[messages.RegistrationResource]:
    """Find the key's account with ``onlyReturnExisting`` (section 7.3.1)."""
    lookup = messages.NewRegistration(only_return_existing=True)
    response = yield from post(ctx, resource_url(ctx.directory, "newAccount"), lookup, jwk=True)
    uri = location(response)
    body = parse(messages.Registration, response)
    known = regr.terms_of_service if regr is not None else None
    terms = _terms(response, ctx.directory, known)
    return messages.RegistrationResource(body=body, uri=uri, terms_of_service=terms)


def find_account(ctx: Context) -> NetFlow[messages.RegistrationResource | None]:
    """The key's account, or None if the CA has none for it (section 7.3.1).

    ``accountDoesNotExist`` is the CA's "no account for this key" (e.g. a test CA restarted
    on the same URL, or an account the CA dropped); any other refusal is raised.
    """
    try:
        return (yield from query_account(ctx))
    except messages.Error as error:
        if error.code != "accountDoesNotExist":
            raise
        return None


def register_or_adopt(
    ctx: Context, new_reg: messages.NewRegistration
) -> NetFlow[tuple[messages.RegistrationResource, bool]]:
    """Register the key (section 7.3), or adopt the account it already has.

    Returns the account and whether it was adopted. A CA answers newAccount for a key that
    has an account with that account's URL (200, or 409 at some CAs): a conflict, not a
    failure, so the existing account is fetched with ``onlyReturnExisting`` and used.
    """
    try:
        return (yield from new_account(ctx, new_reg)), False
    except errors.ConflictError:
        return (yield from query_account(ctx)), True


def update_account(
    ctx: Context,
    regr: messages.RegistrationResource,
    update: messages.Registration | None = None,
) -> NetFlow[messages.RegistrationResource]:
    """Update the account (section 7.3.2): send what ``update`` sets, or, without one, the
    current contacts. Fields only newAccount may carry (key, onlyReturnExisting,
    externalAccountBinding) and the server's own (orders) are never sent."""
    if update is None:
        payload: dict[str, Any] = {"contact": list(regr.body.contact)}
    else:
        payload = update.to_json()
        for name in ("key", "onlyReturnExisting", "externalAccountBinding", "orders"):
            payload.pop(name, None)
    response = yield from post(ctx, regr.uri, payload)
    body = parse(messages.Registration, response)
    return messages.RegistrationResource(
        body=body, uri=regr.uri, terms_of_service=regr.terms_of_service
    )


def deactivate_account(
    ctx: Context, regr: messages.RegistrationResource
) -> NetFlow[messages.RegistrationResource]:
    """Deactivate the account (section 7.3.6); the server refuses it from then on."""
    payload = messages.UpdateRegistration(status=messages.STATUS_DEACTIVATED)
    response = yield from post(ctx, regr.uri, payload)
    body = parse(messages.Registration, response)
    return messages.RegistrationResource(
        body=body, uri=regr.uri, terms_of_service=regr.terms_of_service
    )


def change_key(ctx: Context, new_key: jwk.JWK, new_alg: jwa.JWASignature) -> NetFlow[None]:
    """Roll the account over to ``new_key`` (section 7.3.5); the network signs with it after.

    The inner JWS is signed by the new key with its ``jwk`` and the same ``url``, no nonce;
    its payload names the account and the old key. The outer JWS is an ordinary request.
    """
    key, account = ctx.net.key, account_url(ctx.net.account)
    if key is None or account is None:
        raise errors.ClientError("Key rollover needs an account and its current key")
    url = resource_url(ctx.directory, "keyChange")
    inner_payload = {"account": account, "oldKey": key.public_key().to_json()}
    inner = jws.JWS.sign(
        _json_bytes(inner_payload), key=new_key, alg=new_alg, nonce=None, url=url, kid=None
    )
    yield from post(ctx, url, inner.to_partial_json())
    ctx.net.key = new_key
    ctx.net.alg = new_alg


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode()
