"""Orders, authorizations and challenges of the test server (RFC 8555 sections 7.4, 7.5).

Status changes happen lazily, when a resource is read: expiry, authorization results and an
order's move to ``ready`` or ``invalid``. Every change is one edge of the RFC 8555 section
7.1.6 table (`acme._core.states`), checked by `move`.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from josepy import b64
from josepy import errors as jose_errors

from acme import fields, messages
from acme._core import states
from acme.testing import _dns_checks, _lifecycle
from acme.testing._model import (
    Authorization,
    Challenge,
    Order,
    SignedRequest,
    check_identifier,
    move,
)
from acme.testing._problems import Problem, Reply
from acme.testing._state import ServerCore

__all__ = [
    "authorization",
    "challenge",
    "find_valid_authz",
    "new_authz",
    "new_order",
    "order",
]

_ORDER_LIFETIME = datetime.timedelta(days=7)
_PENDING_AUTHZ_LIFETIME = datetime.timedelta(days=7)
_VALID_AUTHZ_LIFETIME = datetime.timedelta(days=30)
_MAX_IDENTIFIERS = 100


def _timestamp(payload: dict[str, Any], name: str) -> datetime.datetime | None:
    if name not in payload:
        return None
    try:
        value: datetime.datetime = fields.RFC3339Field.default_decoder(payload[name])
    except jose_errors.DeserializationError as error:
        raise Problem("malformed", f'"{name}": {error}') from None
    return value


def _challenges(core: ServerCore, typ: str, value: str, wildcard: bool) -> list[Challenge]:
    if wildcard:  # RFC 8555 section 7.1.3: wildcard names are validated through DNS only
        offered = [t for t in core.challenge_types if t in _dns_checks.DNS_TYPES]
    elif typ == "ip":  # RFC 8738 section 7: DNS challenges MUST NOT be used for IP addresses
        offered = [t for t in core.challenge_types if t not in _dns_checks.DNS_TYPES]
    else:
        offered = list(core.challenge_types)
    if not offered:
        raise Problem(
            "rejectedIdentifier", f"No challenge type can validate {typ} identifier {value!r}"
        )
    made = []
    for chall_type in offered:
        ident = core.new_id()
        url = core.url(f"/chall/{ident}")
        if chall_type == "dns-persist-01":  # no token; the CA's names (draft section 3.1)
            names = list(core.issuer_domain_names)
            made.append(Challenge(ident, url, chall_type, "", issuer_domain_names=names))
        else:
            made.append(Challenge(ident, url, chall_type, core.new_token()))
    return made


def _new_authz(core: ServerCore, account_id: str, typ: str, value: str) -> Authorization:
    wildcard = value.startswith("*.")
    base = value[2:] if wildcard else value
    ident = core.new_id()
    authz = Authorization(
        id=ident,
        url=core.url(f"/authz/{ident}"),
        account_id=account_id,
        type=typ,
        value=base,
        wildcard=wildcard,
        expires=core.now() + _PENDING_AUTHZ_LIFETIME,
        challenges=_challenges(core, typ, base, wildcard),
    )
    core.authorizations[ident] = authz
    return authz


def find_valid_authz(
    core: ServerCore, account_id: str, typ: str, value: str
) -> Authorization | None:
    wildcard = value.startswith("*.")
    base = value[2:] if wildcard else value
    for authz in core.authorizations.values():
        if (authz.account_id, authz.type, authz.value, authz.wildcard) == (
            account_id,
            typ,
            base,
            wildcard,
        ):
            _lifecycle.refresh_authz(core, authz)
            if authz.status == "valid":
                return authz
    return None


def _check_replaces(core: ServerCore, account_id: str, replaces: Any, idents: Any) -> None:
    """RFC 9773 section 5: same account, a shared identifier, not already replaced."""
    if not isinstance(replaces, str):
        raise Problem("malformed", '"replaces" must be a certificate identifier string')
    record = next((c for c in core.certificates.values() if c.ari_id == replaces), None)
    if record is None:
        raise Problem("malformed", f'"replaces": no certificate {replaces[:100]!r} was issued')
    if record.account_id != account_id:
        raise Problem("unauthorized", "The replaced certificate belongs to another account", 403)
    if not set(record.identifiers) & set(idents):
        raise Problem("malformed", "The order shares no identifier with the replaced certificate")
    successor = core.orders.get(record.replaced_by or "")
    if successor is not None and successor.status != "invalid":
        raise Problem(
            "alreadyReplaced",
            f"Certificate {replaces} is already replaced by order {successor.url}",
            409,
        )


def new_order(core: ServerCore, signed: SignedRequest) -> Reply:
    """newOrder (RFC 8555 section 7.4, RFC 8738, RFC 9773 section 5, profiles section 4)."""
    account = signed.account_required
    payload = signed.json_object()
    raw = payload.get("identifiers")
    if not isinstance(raw, list) or not raw:
        raise Problem("malformed", '"identifiers" must be a non-empty array')
    if len(raw) > _MAX_IDENTIFIERS:
        raise Problem("rejectedIdentifier", f"At most {_MAX_IDENTIFIERS} identifiers per order")
    idents = list(dict.fromkeys(check_identifier(obj, allow_wildcard=True) for obj in raw))
    not_before, not_after = _timestamp(payload, "notBefore"), _timestamp(payload, "notAfter")
    profile = payload.get("profile", core.default_profile)
    if profile is not None and (not isinstance(profile, str) or profile not in core.profiles):
        raise Problem(
            "invalidProfile",
            f"Profile {str(profile)[:60]!r} is not offered; see the directory's meta.profiles",
        )
    start = not_before or core.now()
    end = not_after or start + core.profile_lifetime(profile)
    if end <= start or end - start > core.profile_lifetime(profile) or end <= core.now():
        raise Problem("malformed", "notBefore/notAfter do not fit this profile's lifetime")
    replaces = payload.get("replaces")
    if replaces is not None and core.reject_replaces == "alreadyReplaced":
        raise Problem("alreadyReplaced", "This test CA refuses every replaces (knob)", 409)
    if replaces is not None and core.reject_replaces is not None:
        raise Problem("malformed", '"replaces" is refused by this test CA (knob)')
    if replaces is not None:
        _check_replaces(core, account.id, replaces, idents)
    authzs = []
    for typ, value in idents:
        found = (
            find_valid_authz(core, account.id, typ, value) if core.reuse_authorizations else None
        )
        authzs.append(found or _new_authz(core, account.id, typ, value))
    ident = core.new_id()
    record = Order(
        id=ident,
        url=core.url(f"/order/{ident}"),
        account_id=account.id,
        identifiers=idents,
        authz_ids=[authz.id for authz in authzs],
        expires=core.now() + _ORDER_LIFETIME,
        profile=profile,
        replaces=replaces,
        not_before=not_before,
        not_after=not_after,
    )
    core.orders[ident] = record
    account.order_ids.append(ident)
    if replaces is not None:
        next(c for c in core.certificates.values() if c.ari_id == replaces).replaced_by = ident
    _lifecycle.refresh_order(core, record)
    return _lifecycle.order_reply(core, record, 201, location=record.url)


def new_authz(core: ServerCore, signed: SignedRequest) -> Reply:
    """newAuthz pre-authorization (RFC 8555 section 7.4.1)."""
    account = signed.account_required
    payload = signed.json_object()
    typ, value = check_identifier(payload.get("identifier"), allow_wildcard=False)
    authz = _new_authz(core, account.id, typ, value)
    return Reply.json(authz.to_json(), 201, location=authz.url)


def order(core: ServerCore, signed: SignedRequest) -> Reply:
    """POST-as-GET an order: also a poll that advances deferred work."""
    record: Order = core.owned(core.orders, signed.params[0], signed.account_required, "order")
    signed.require_empty()
    for authz_id in record.authz_ids:
        _advance(core, core.authorizations[authz_id])
    _lifecycle.refresh_order(core, record)
    _lifecycle.advance_processing(core, record)
    return _lifecycle.order_reply(core, record)


def _advance(core: ServerCore, authz: Authorization) -> None:
    """One poll: run validations deferred by ``validation_delay_polls`` when their turn comes."""
    for chall in authz.challenges:
        if chall.status == "processing" and chall.polls_left > 0:
            chall.polls_left -= 1
            if chall.polls_left == 0:
                _validate(core, authz, chall)


def _validate(core: ServerCore, authz: Authorization, chall: Challenge) -> None:
    account = core.accounts[authz.account_id]
    assert chall.key_authorization is not None
    identifier = messages.Identifier(typ=messages.IdentifierType(authz.type), value=authz.value)
    until = None  # dns-persist-01's persistUntil caps the authorization (draft section 4.1)
    try:
        if chall.type in _dns_checks.DRAFT_TYPES and core.dns_lookup is not None:
            problem, until = _dns_checks.validate(core, authz, chall, account)
        else:
            problem = core.validator(
                chall.type, identifier, chall.token, chall.key_authorization, account.key
            )
    except Exception as error:  # a broken validator is a test bug: record it, fail the chall
        core.internal_errors.append(error)
        problem = messages.Error.with_code("serverInternal", detail=f"Validator failed: {error}")
    now = core.now()
    if authz.status != "pending":  # e.g. deactivated or expired while we waited
        move(states.CHALLENGE, chall, "invalid")
        chall.error = _lifecycle.problem("malformed", f"The authorization is {authz.status}")
        return
    if problem is None:
        move(states.CHALLENGE, chall, "valid")
        chall.validated = now
        move(states.AUTHORIZATION, authz, "valid")
        authz.expires = min(now + _VALID_AUTHZ_LIFETIME, until or now + _VALID_AUTHZ_LIFETIME)
        authz.challenges = [chall]  # section 7.5.1: MAY remove the other challenges
    else:
        move(states.CHALLENGE, chall, "invalid")
        chall.error = json.loads(problem.json_dumps())
        move(states.AUTHORIZATION, authz, "invalid")


def authorization(core: ServerCore, signed: SignedRequest) -> Reply:
    """Fetch (a poll) or deactivate an authorization (RFC 8555 sections 7.5, 7.5.2)."""
    authz: Authorization = core.owned(
        core.authorizations, signed.params[0], signed.account_required, "authorization"
    )
    if signed.payload == b"":
        _advance(core, authz)
        _lifecycle.refresh_authz(core, authz)
    else:
        payload = signed.json_object()
        if payload.get("status") != "deactivated":
            raise Problem("malformed", 'Only {"status": "deactivated"} may be posted here')
        _lifecycle.refresh_authz(core, authz)
        if not states.is_allowed(states.AUTHORIZATION, authz.status, "deactivated"):
            raise Problem(
                "malformed", f"An authorization that is {authz.status} cannot be deactivated"
            )
        move(states.AUTHORIZATION, authz, "deactivated")
    processing = any(chall.status == "processing" for chall in authz.challenges)
    return Reply.json(authz.to_json(), retry_after=core.poll_retry_after if processing else None)


def challenge(core: ServerCore, signed: SignedRequest) -> Reply:
    """Fetch a challenge, or answer it with ``{}`` (RFC 8555 section 7.5.1)."""
    account = signed.account_required
    found = [
        (authz, chall)
        for authz in core.authorizations.values()
        for chall in authz.challenges
        if chall.id == signed.params[0]
    ]
    if not found:
        raise Problem("malformed", "No such challenge", 404)
    authz, chall = found[0]
    core.owned(core.authorizations, authz.id, account, "challenge")
    _lifecycle.refresh_authz(core, authz)
    if signed.payload == b"":
        _advance(core, authz)
    else:
        signed.json_object()  # section 7.5.1: unknown response fields are ignored
        if chall.status == "pending":
            if authz.status != "pending":
                raise Problem("malformed", f"The authorization is {authz.status}", 403)
            move(states.CHALLENGE, chall, "processing")
            thumbprint = b64.b64encode(account.key.thumbprint()).decode("ascii")
            # Section 8.1; dns-persist-01 has no token and no key authorization.
            chall.key_authorization = f"{chall.token}.{thumbprint}" if chall.token else ""
            chall.polls_left = core.validation_delay_polls
            if chall.polls_left <= 0:
                _validate(core, authz, chall)
        elif chall.status == "invalid":
            raise Problem("malformed", "This challenge already failed; create a new order", 400)
    retry = core.poll_retry_after if chall.status == "processing" else None
    return Reply.json(chall.to_json(), links=((authz.url, "up"),), retry_after=retry)
