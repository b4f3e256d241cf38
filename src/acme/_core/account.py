"""Directory and account flows (RFC 8555 sections 7.1.1, 7.3)."""

from __future__ import annotations

import json
from typing import Any

from josepy import jwa, jwk

from acme import errors, jws, messages
from acme._core.http import Flow
from acme._core.responses import location, parse, resource_url
from acme._core.session import Session, get, post

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


def fetch_directory(session: Session, url: str) -> Flow[messages.Directory]:
    """GET the directory (section 7.1.1) and remember its ``newNonce`` URL."""
    response = yield from get(session, url)
    directory = parse(messages.Directory, response)
    session.new_nonce_url = resource_url(directory, "newNonce")
    return directory


def _regr(
    response: Any, uri: str, directory: messages.Directory | None
) -> messages.RegistrationResource:
    terms = None
    if directory is not None and directory.meta is not None:
        terms = directory.meta.terms_of_service
    body = parse(messages.Registration, response)
    return messages.RegistrationResource(body=body, uri=uri, terms_of_service=terms)


def new_account(
    session: Session, directory: messages.Directory, new_reg: messages.NewRegistration
) -> Flow[messages.RegistrationResource]:
    """Create an account (section 7.3); the key's existing account raises `ConflictError`.

    With ``onlyReturnExisting`` set (section 7.3.1), the existing account is returned instead.
    """
    response = yield from post(
        session, resource_url(directory, "newAccount"), new_reg, embed_jwk=True
    )
    uri = location(response)
    if response.status_code == 200 and not new_reg.only_return_existing:
        raise errors.ConflictError(uri)
    regr = _regr(response, uri, directory)
    session.account_url = uri
    return regr


def query_account(
    session: Session,
    directory: messages.Directory,
    regr: messages.RegistrationResource | None = None,
) -> Flow[messages.RegistrationResource]:
    """Find the key's account with ``onlyReturnExisting`` (section 7.3.1)."""
    lookup = messages.NewRegistration(only_return_existing=True)
    response = yield from post(
        session, resource_url(directory, "newAccount"), lookup, embed_jwk=True
    )
    uri = location(response)
    body = parse(messages.Registration, response)
    session.account_url = uri
    terms = regr.terms_of_service if regr is not None else None
    if terms is None and directory.meta is not None:
        terms = directory.meta.terms_of_service
    return messages.RegistrationResource(body=body, uri=uri, terms_of_service=terms)


def find_account(
    session: Session, directory: messages.Directory
) -> Flow[messages.RegistrationResource | None]:
    """The session key's account, or None if the CA has none for it (section 7.3.1).

    ``accountDoesNotExist`` is the CA's "no account for this key" (e.g. a test CA restarted
    on the same URL, or an account the CA dropped); any other refusal is raised.
    """
    try:
        return (yield from query_account(session, directory))
    except messages.Error as error:
        if error.code != "accountDoesNotExist":
            raise
        return None


def register_or_adopt(
    session: Session, directory: messages.Directory, new_reg: messages.NewRegistration
) -> Flow[tuple[messages.RegistrationResource, bool]]:
    """Register the session key (section 7.3), or adopt the account it already has.

    Returns the account and whether it was adopted. A CA answers newAccount for a key that
    has an account with that account's URL (200, or 409 at some CAs): a conflict, not a
    failure, so the existing account is fetched with ``onlyReturnExisting`` and used.
    """
    try:
        return (yield from new_account(session, directory, new_reg)), False
    except errors.ConflictError:
        return (yield from query_account(session, directory)), True


def update_account(
    session: Session,
    regr: messages.RegistrationResource,
    update: messages.Registration | None = None,
) -> Flow[messages.RegistrationResource]:
    """Update the account (section 7.3.2): send what ``update`` sets, or, without one, the
    current contacts. Fields only newAccount may carry (key, onlyReturnExisting,
    externalAccountBinding) and the server's own (orders) are never sent."""
    if update is None:
        payload: dict[str, Any] = {"contact": list(regr.body.contact)}
    else:
        payload = update.to_json()
        for name in ("key", "onlyReturnExisting", "externalAccountBinding", "orders"):
            payload.pop(name, None)
    response = yield from post(session, regr.uri, payload)
    body = parse(messages.Registration, response)
    return messages.RegistrationResource(
        body=body, uri=regr.uri, terms_of_service=regr.terms_of_service
    )


def deactivate_account(
    session: Session, regr: messages.RegistrationResource
) -> Flow[messages.RegistrationResource]:
    """Deactivate the account (section 7.3.6); the server refuses it from then on."""
    payload = messages.UpdateRegistration(status=messages.STATUS_DEACTIVATED)
    response = yield from post(session, regr.uri, payload)
    body = parse(messages.Registration, response)
    return messages.RegistrationResource(
        body=body, uri=regr.uri, terms_of_service=regr.terms_of_service
    )


def change_key(
    session: Session,
    directory: messages.Directory,
    new_key: jwk.JWK,
    new_alg: jwa.JWASignature,
) -> Flow[None]:
    """Roll the account over to ``new_key`` (section 7.3.5); the session signs with it after.

    The inner JWS is signed by the new key with its ``jwk`` and the same ``url``, no nonce;
    its payload names the account and the old key. The outer JWS is an ordinary request.
    """
    if session.key is None or session.account_url is None:
        raise errors.ClientError("Key rollover needs an account and its current key")
    url = resource_url(directory, "keyChange")
    inner_payload = {"account": session.account_url, "oldKey": session.key.public_key().to_json()}
    inner = jws.JWS.sign(
        _json_bytes(inner_payload), key=new_key, alg=new_alg, nonce=None, url=url, kid=None
    )
    yield from post(session, url, inner.to_partial_json())
    session.key = new_key
    session.alg = new_alg


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode()
