"""Wire format of acme.messages against the JSON examples of the RFCs themselves.

Each example is copied from the texts of RFC 8555, RFC 9773 and draft-ietf-acme-profiles
as a JSON literal, parsed with ``from_json``, re-serialized, and compared with the original as
parsed JSON. Timestamps are compared as instants: RFC 3339 allows several spellings of one
instant (``07.99Z``, ``07.990000Z``, ``+04:00`` offsets) and acme.fields writes UTC ``Z``.
Where an example holds ``...`` placeholders or truncated values, a comment says what replaced
them.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from josepy import errors as jose_errors
from josepy import jwk

from acme import jws, messages

TIMESTAMP_KEYS = {"expires", "validated", "notBefore", "notAfter", "start", "end"}
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})\Z")


def _instant(text: str) -> datetime.datetime:
    """An independent RFC 3339 parser for the comparisons (not acme.fields)."""
    match = _RFC3339.match(text)
    assert match is not None, f"not an RFC 3339 timestamp: {text!r}"
    fraction = (match.group(2) or "").ljust(6, "0")[:6]
    offset = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.datetime.fromisoformat(f"{match.group(1)}.{fraction}{offset}")


def _normalize(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(item) for item in value]
    if key in TIMESTAMP_KEYS and isinstance(value, str):
        return _instant(value)
    return value


def assert_round_trip(cls: Any, example: dict[str, Any]) -> Any:
    """Parse ``example`` as ``cls``; its JSON must equal the example's; return the object."""
    original = copy.deepcopy(example)
    obj = cls.from_json(example)
    assert example == original, "from_json must not modify its input"
    assert isinstance(obj, cls)
    partial = json.loads(json.dumps(obj.to_partial_json(), default=obj.json_dump_default))
    dumped = json.loads(obj.json_dumps())
    assert partial == dumped
    assert _normalize(dumped) == _normalize(example)
    assert cls.from_json(dumped) == obj  # and the output parses back to the same object
    return obj


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_normalize_compares_instants_not_spellings() -> None:
    # Control for the helper: equal instants compare equal, different ones do not.
    assert _normalize({"expires": "2016-01-01T00:04:00+04:00"}) == _normalize(
        {"expires": "2015-12-31T20:04:00Z"}
    )
    assert _normalize({"expires": "2016-01-20T14:09:07.99Z"}) == _normalize(
        {"expires": "2016-01-20T14:09:07.990000Z"}
    )
    assert _normalize({"expires": "2016-01-20T14:09:07.99Z"}) != _normalize(
        {"expires": "2016-01-20T14:09:07.9Z"}
    )
    assert _normalize({"title": "2016-01-20T14:09:07Z"}) != _normalize(
        {"title": "2016-01-20T14:09:07.000Z"}
    )


# RFC 8555 section 7.1.1
DIRECTORY = {
    "newNonce": "https://example.com/acme/new-nonce",
    "newAccount": "https://example.com/acme/new-account",
    "newOrder": "https://example.com/acme/new-order",
    "newAuthz": "https://example.com/acme/new-authz",
    "revokeCert": "https://example.com/acme/revoke-cert",
    "keyChange": "https://example.com/acme/key-change",
    "meta": {
        "termsOfService": "https://example.com/acme/terms/2017-5-30",
        "website": "https://www.example.com/",
        "caaIdentities": ["example.com"],
        "externalAccountRequired": False,
    },
}


def test_directory() -> None:
    directory = assert_round_trip(messages.Directory, DIRECTORY)
    assert directory["newOrder"] == "https://example.com/acme/new-order"
    assert directory.newAccount == "https://example.com/acme/new-account"
    assert directory.key_change == "https://example.com/acme/key-change"
    meta = directory.meta
    assert meta.terms_of_service == "https://example.com/acme/terms/2017-5-30"
    assert meta.website == "https://www.example.com/"
    assert meta.caa_identities == ("example.com",)
    assert meta.external_account_required is False


def test_directory_with_renewal_info() -> None:
    # RFC 9773 section 3
    example = {
        "newNonce": "https://acme.example.com/new-nonce",
        "newAccount": "https://acme.example.com/new-account",
        "newOrder": "https://acme.example.com/new-order",
        "newAuthz": "https://acme.example.com/new-authz",
        "revokeCert": "https://acme.example.com/revoke-cert",
        "keyChange": "https://acme.example.com/key-change",
        "renewalInfo": "https://acme.example.com/renewal-info",
        "meta": {
            "termsOfService": "https://example.com/acme/terms",
            "website": "https://example.com/acme/docs",
            "caaIdentities": ["example.com"],
            "externalAccountRequired": False,
        },
    }
    directory = assert_round_trip(messages.Directory, example)
    assert directory.renewalInfo == directory.renewal_info == example["renewalInfo"]


def test_directory_with_profiles() -> None:
    # draft-ietf-acme-profiles section 3. The draft's example has a trailing comma after
    # "profile2" (not valid JSON); it is dropped here.
    example = {
        "newNonce": "https://acme.example.com/new-nonce",
        "newAccount": "https://acme.example.com/new-account",
        "newOrder": "https://acme.example.com/new-order",
        "newAuthz": "https://acme.example.com/new-authz",
        "revokeCert": "https://acme.example.com/revoke-cert",
        "keyChange": "https://acme.example.com/key-change",
        "meta": {
            "termsOfService": "https://example.com/acme/terms",
            "website": "https://example.com/acme/docs",
            "caaIdentities": ["example.com"],
            "externalAccountRequired": False,
            "profiles": {
                "profile1": "https://example.com/acme/docs/profiles#profile1",
                "profile2": "https://example.com/acme/docs/profiles#profile2",
            },
        },
    }
    directory = assert_round_trip(messages.Directory, example)
    assert dict(directory.meta.profiles) == example["meta"]["profiles"]  # type: ignore[index]


# RFC 8555 section 7.1.2
ACCOUNT = {
    "status": "valid",
    "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
    "termsOfServiceAgreed": True,
    "orders": "https://example.com/acme/orders/rzGoeA",
}


def test_account() -> None:
    account = assert_round_trip(messages.Registration, ACCOUNT)
    assert account.status is messages.STATUS_VALID
    assert account.emails == ("cert-admin@example.org", "admin@example.org")
    assert account.terms_of_service_agreed is True
    assert account.orders == "https://example.com/acme/orders/rzGoeA"


def test_new_account_request_and_response() -> None:
    # RFC 8555 section 7.3: the newAccount payload and the 201 response body.
    payload = {
        "termsOfServiceAgreed": True,
        "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
    }
    request = assert_round_trip(messages.NewRegistration, payload)
    assert request.contact == tuple(payload["contact"])  # type: ignore[arg-type]
    response = {
        "status": "valid",
        "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
        "orders": "https://example.com/acme/acct/evOfKhNU60wg/orders",
    }
    assert_round_trip(messages.Registration, response)


def test_account_update_and_deactivation_payloads() -> None:
    # RFC 8555 sections 7.3.2 and 7.3.6
    update = assert_round_trip(
        messages.UpdateRegistration,
        {"contact": ["mailto:certificates@example.org", "mailto:admin@example.org"]},
    )
    assert update.emails == ("certificates@example.org", "admin@example.org")
    deactivate = assert_round_trip(messages.UpdateRegistration, {"status": "deactivated"})
    assert deactivate.status is messages.STATUS_DEACTIVATED
    assert deactivate.to_json() == {"status": "deactivated"}


# RFC 8555 section 7.1.3
ORDER = {
    "status": "valid",
    "expires": "2016-01-20T14:09:07.99Z",
    "identifiers": [
        {"type": "dns", "value": "www.example.org"},
        {"type": "dns", "value": "example.org"},
    ],
    "notBefore": "2016-01-01T00:00:00Z",
    "notAfter": "2016-01-08T00:00:00Z",
    "authorizations": [
        "https://example.com/acme/authz/PAniVnsZcis",
        "https://example.com/acme/authz/r4HqLzrSrpI",
    ],
    "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize",
    "certificate": "https://example.com/acme/cert/mAt3xBGaobw",
}


def test_order() -> None:
    order = assert_round_trip(messages.Order, ORDER)
    assert order.status is messages.STATUS_VALID
    utc = datetime.timezone.utc
    assert order.expires == datetime.datetime(2016, 1, 20, 14, 9, 7, 990000, tzinfo=utc)
    assert order.not_before == datetime.datetime(2016, 1, 1, tzinfo=utc)
    assert order.not_after == datetime.datetime(2016, 1, 8, tzinfo=utc)
    assert order.identifiers == (
        messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="www.example.org"),
        messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="example.org"),
    )
    assert order.authorizations == tuple(ORDER["authorizations"])
    assert order.finalize == ORDER["finalize"]
    assert order.certificate == ORDER["certificate"]


def test_new_order_payload() -> None:
    # RFC 8555 section 7.4: offsets other than Z are accepted; they are the same instants.
    payload = {
        "identifiers": [
            {"type": "dns", "value": "www.example.org"},
            {"type": "dns", "value": "example.org"},
        ],
        "notBefore": "2016-01-01T00:04:00+04:00",
        "notAfter": "2016-01-08T00:04:00+04:00",
    }
    order = assert_round_trip(messages.NewOrder, payload)
    utc = datetime.timezone.utc
    assert order.not_before == datetime.datetime(2015, 12, 31, 20, 4, tzinfo=utc)
    assert order.status is None  # not sent by the client, not invented on output


def test_pending_order_response() -> None:
    # RFC 8555 section 7.4: the 201 response to newOrder.
    example = {
        "status": "pending",
        "expires": "2016-01-05T14:09:07.99Z",
        "notBefore": "2016-01-01T00:00:00Z",
        "notAfter": "2016-01-08T00:00:00Z",
        "identifiers": [
            {"type": "dns", "value": "www.example.org"},
            {"type": "dns", "value": "example.org"},
        ],
        "authorizations": [
            "https://example.com/acme/authz/PAniVnsZcis",
            "https://example.com/acme/authz/r4HqLzrSrpI",
        ],
        "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize",
    }
    order = assert_round_trip(messages.Order, example)
    assert order.status is messages.STATUS_PENDING
    assert order.certificate is None


def test_new_order_with_replaces() -> None:
    # RFC 9773 section 5
    payload = {
        "identifiers": [{"type": "dns", "value": "acme.example.com"}],
        "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
    }
    order = assert_round_trip(messages.NewOrder, payload)
    assert order.replaces == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_order_with_profile() -> None:
    # draft-ietf-acme-profiles section 4: the newOrder payload and the response. The draft's
    # response has a trailing comma after "finalize" (not valid JSON); it is dropped here.
    request = assert_round_trip(
        messages.NewOrder,
        {"identifiers": [{"type": "dns", "value": "example.org"}], "profile": "profile1"},
    )
    assert request.profile == "profile1"
    response = {
        "status": "valid",
        "expires": "2025-01-01T12:00:00Z",
        "identifiers": [{"type": "dns", "value": "example.org"}],
        "profile": "profile1",
        "authorizations": ["https://acme.example.com/authz/PAniVnsZcis"],
        "finalize": "https://acme.example.com/order/TOlocE8rfgo/finalize",
    }
    assert assert_round_trip(messages.Order, response).profile == "profile1"


# RFC 8555 section 7.1.4
AUTHORIZATION = {
    "status": "valid",
    "expires": "2015-03-01T14:09:07.99Z",
    "identifier": {"type": "dns", "value": "www.example.org"},
    "challenges": [
        {
            "url": "https://example.com/acme/chall/prV_B7yEyA4",
            "type": "http-01",
            "status": "valid",
            "token": "DGyRejmCefe7v4NfDGDKfA",
            "validated": "2014-12-01T12:05:58.16Z",
        }
    ],
    "wildcard": False,
}


def test_authorization() -> None:
    authz = assert_round_trip(messages.Authorization, AUTHORIZATION)
    assert authz.status is messages.STATUS_VALID
    assert authz.identifier == messages.Identifier(
        typ=messages.IDENTIFIER_FQDN, value="www.example.org"
    )
    assert authz.wildcard is False  # present and false: kept, unlike an absent field
    (challb,) = authz.challenges
    assert isinstance(challb, messages.ChallengeBody)
    assert challb.typ == "http-01"
    assert challb.url == challb.uri == "https://example.com/acme/chall/prV_B7yEyA4"
    assert challb.status is messages.STATUS_VALID
    assert challb.validated == datetime.datetime(
        2014, 12, 1, 12, 5, 58, 160000, tzinfo=datetime.timezone.utc
    )
    assert challb.token == b64url_decode("DGyRejmCefe7v4NfDGDKfA")


def test_pending_authorization_with_two_challenges() -> None:
    # RFC 8555 section 7.5: its challenges carry no "status"; none is added on output.
    example = {
        "status": "pending",
        "expires": "2016-01-02T14:09:30Z",
        "identifier": {"type": "dns", "value": "www.example.org"},
        "challenges": [
            {
                "type": "http-01",
                "url": "https://example.com/acme/chall/prV_B7yEyA4",
                "token": "DGyRejmCefe7v4NfDGDKfA",
            },
            {
                "type": "dns-01",
                "url": "https://example.com/acme/chall/Rg5dV14Gh1Q",
                "token": "DGyRejmCefe7v4NfDGDKfA",
            },
        ],
    }
    authz = assert_round_trip(messages.Authorization, example)
    assert [c.typ for c in authz.challenges] == ["http-01", "dns-01"]
    assert authz.wildcard is None


def test_http01_challenge() -> None:
    # RFC 8555 section 8.3, as it appears inside an authorization's "challenges".
    example = {
        "type": "http-01",
        "url": "https://example.com/acme/chall/prV_B7yEyA4",
        "status": "pending",
        "token": "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
    }
    challb = assert_round_trip(messages.ChallengeBody, example)
    assert challb.typ == "http-01"
    assert challb.status is messages.STATUS_PENDING
    assert challb.path == "/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


def test_dns01_challenge() -> None:
    # RFC 8555 section 8.4, as it appears inside an authorization's "challenges".
    example = {
        "type": "dns-01",
        "url": "https://example.com/acme/chall/Rg5dV14Gh1Q",
        "status": "pending",
        "token": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
    }
    challb = assert_round_trip(messages.ChallengeBody, example)
    assert challb.typ == "dns-01"
    assert challb.validation_domain_name("www.example.org") == "_acme-challenge.www.example.org"


def test_new_authz_and_deactivation_payloads() -> None:
    # RFC 8555 sections 7.4.1 and 7.5.2
    new = assert_round_trip(
        messages.NewAuthorization, {"identifier": {"type": "dns", "value": "example.org"}}
    )
    assert new.identifier.value == "example.org"
    deactivate = messages.UpdateAuthorization(status=messages.STATUS_DEACTIVATED)
    assert deactivate.to_json() == {"status": "deactivated"}
    assert_round_trip(messages.UpdateAuthorization, {"status": "deactivated"})


# RFC 8555 section 6.7.1
PROBLEM_WITH_SUBPROBLEMS = {
    "type": "urn:ietf:params:acme:error:malformed",
    "detail": "Some of the identifiers requested were rejected",
    "subproblems": [
        {
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": 'Invalid underscore in DNS name "_example.org"',
            "identifier": {"type": "dns", "value": "_example.org"},
        },
        {
            "type": "urn:ietf:params:acme:error:rejectedIdentifier",
            "detail": 'This CA will not issue for "example.net"',
            "identifier": {"type": "dns", "value": "example.net"},
        },
    ],
}


def test_problem_with_subproblems() -> None:
    error = assert_round_trip(messages.Error, PROBLEM_WITH_SUBPROBLEMS)
    assert error.code == "malformed"
    assert [sub.code for sub in error.subproblems] == ["malformed", "rejectedIdentifier"]
    assert [sub.identifier.value for sub in error.subproblems] == ["_example.org", "example.net"]
    assert error.identifier is None
    # One line for the problem, then one per subproblem in acme 5.x's words.
    lines = str(error).split("\n")
    assert len(lines) == 3
    assert "Some of the identifiers requested were rejected" in lines[0]
    assert lines[1] == (
        "Problem for _example.org: urn:ietf:params:acme:error:malformed :: "
        f"{messages.ERROR_CODES['malformed']} :: Invalid underscore in DNS name "
        '"_example.org"'
    )
    assert lines[2].startswith("Problem for example.net: urn:ietf:params:acme:error:")


def test_user_action_required_problem() -> None:
    # RFC 8555 section 7.3.3
    example = {
        "type": "urn:ietf:params:acme:error:userActionRequired",
        "detail": "Terms of service have changed",
        "instance": "https://example.com/acme/agreement/?token=W8Ih3PswD-8",
    }
    error = assert_round_trip(messages.Error, example)
    assert error.code == "userActionRequired"
    assert error.instance == example["instance"]
    assert example["instance"] in str(error)


def test_unauthorized_problem() -> None:
    # RFC 8555 section 7.6
    example = {
        "type": "urn:ietf:params:acme:error:unauthorized",
        "detail": "No authorization provided for name example.org",
    }
    error = assert_round_trip(messages.Error, example)
    assert messages.is_acme_error(error)
    assert error.description == "The client lacks sufficient authorization"


# RFC 8555 section 7.3.4 -------------------------------------------------------------------

NEW_ACCOUNT_URL = "https://example.com/acme/new-account"


@pytest.fixture(scope="module")
def account_key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def _mac(alg: str, key: bytes, protected: str, payload: str) -> bytes:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    return hmac.new(key, f"{protected}.{payload}".encode(), digest).digest()


def test_new_account_with_external_account_binding(account_key: jwk.JWKEC) -> None:
    # The RFC's payload has placeholders: /* key identifier from CA */ becomes "kid-from-ca",
    # /* same as in "jwk" above */ an EC P-256 account key generated here, and
    # /* MAC using MAC key from CA */ the HMAC-SHA256 of the JWS signing input, computed here
    # with hashlib/hmac (not with the code under test).
    mac_key = b"a MAC key the CA provided out of band"
    public_jwk = account_key.public_key().to_partial_json()
    protected = b64url(
        json.dumps({"alg": "HS256", "kid": "kid-from-ca", "url": NEW_ACCOUNT_URL}).encode()
    )
    payload = b64url(json.dumps(public_jwk).encode())
    outer_payload = {
        "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
        "termsOfServiceAgreed": True,
        "externalAccountBinding": {
            "protected": protected,
            "payload": payload,
            "signature": b64url(_mac("HS256", mac_key, protected, payload)),
        },
    }
    registration = assert_round_trip(messages.NewRegistration, outer_payload)
    eab = registration.external_account_binding
    assert set(eab) == {"protected", "payload", "signature"}
    header = json.loads(b64url_decode(eab["protected"]))
    assert header == {"alg": "HS256", "kid": "kid-from-ca", "url": NEW_ACCOUNT_URL}
    assert json.loads(b64url_decode(eab["payload"])) == public_jwk
    signature = b64url_decode(eab["signature"])
    assert hmac.compare_digest(signature, _mac("HS256", mac_key, protected, payload))
    assert not hmac.compare_digest(signature, _mac("HS256", b"other key", protected, payload))


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_external_account_binding_from_data(account_key: jwk.JWKEC, alg: str) -> None:
    mac_key = bytes(range(32))
    directory = messages.Directory.from_json(DIRECTORY)
    eab = messages.ExternalAccountBinding.from_data(
        account_public_key=account_key.public_key(),
        kid="kid-from-ca",
        hmac_key=b64url(mac_key),
        directory=directory,
        hmac_alg=alg,
    )
    assert set(eab) == {"protected", "payload", "signature"}  # flattened, no unprotected header
    header = json.loads(b64url_decode(eab["protected"]))
    # RFC 8555 section 7.3.4: a MAC alg, the CA's kid, the newAccount URL; no nonce, no jwk.
    assert header == {"alg": alg, "kid": "kid-from-ca", "url": DIRECTORY["newAccount"]}
    assert json.loads(b64url_decode(eab["payload"])) == account_key.public_key().to_partial_json()
    expected = _mac(alg, mac_key, eab["protected"], eab["payload"])
    assert hmac.compare_digest(b64url_decode(eab["signature"]), expected)
    wrong = _mac(alg, bytes(32), eab["protected"], eab["payload"])
    assert not hmac.compare_digest(b64url_decode(eab["signature"]), wrong)
    # The JWS also verifies with josepy against the same key, and not against another.
    parsed = jws.JWS.from_json(eab)
    assert parsed.verify(jwk.JWKOct(key=mac_key))
    assert not parsed.verify(jwk.JWKOct(key=bytes(32)))
    # It fits in a newAccount payload and survives the round trip.
    registration = messages.NewRegistration.from_data(
        email="admin@example.org", terms_of_service_agreed=True, external_account_binding=eab
    )
    assert_round_trip(messages.NewRegistration, registration.to_json())
    assert registration.to_json()["externalAccountBinding"] == eab


def test_external_account_binding_never_sends_the_private_key(account_key: jwk.JWKEC) -> None:
    eab = messages.ExternalAccountBinding.from_data(
        account_key, "kid", b64url(b"k" * 32), {"newAccount": NEW_ACCOUNT_URL}
    )
    payload = json.loads(b64url_decode(eab["payload"]))
    assert "d" not in payload
    assert payload == account_key.public_key().to_partial_json()


@pytest.mark.parametrize(
    "hmac_key", ["not base64url!", "abc/def+", "", "  ", "a=b", "YWJj===="], ids=repr
)
def test_external_account_binding_rejects_bad_hmac_key(
    account_key: jwk.JWKEC, hmac_key: str
) -> None:
    with pytest.raises(ValueError, match="base64url") as info:
        messages.ExternalAccountBinding.from_data(
            account_key.public_key(), "kid", hmac_key, {"newAccount": NEW_ACCOUNT_URL}
        )
    from acme import errors

    assert isinstance(info.value, errors.Error)


def test_external_account_binding_rejects_bad_alg_and_directory(account_key: jwk.JWKEC) -> None:
    good_key = b64url(b"k" * 32)
    with pytest.raises(ValueError) as bad_alg:
        messages.ExternalAccountBinding.from_data(
            account_key, "kid", good_key, {"newAccount": NEW_ACCOUNT_URL}, hmac_alg="RS256"
        )
    assert str(bad_alg.value) == (  # starts as acme 5.x's message does
        "Invalid value for hmac_alg: 'RS256' is not an EAB MAC algorithm; "
        "use one of HS256, HS384, HS512"
    )
    with pytest.raises(ValueError, match="newAccount"):
        messages.ExternalAccountBinding.from_data(account_key, "kid", good_key, {})


# RFC 8555 section 7.4 ---------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _csr() -> x509.CertificateSigningRequest:
    names = [x509.DNSName("www.example.org"), x509.DNSName("example.org")]
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.org")]))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(_key(), hashes.SHA256())
    )


def _certificate() -> x509.Certificate:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.org")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_finalize_payload() -> None:
    # The RFC's "csr" is truncated ("MIIBPTCBxAIBADBFMQ...FS6aKdZeGsysoCo4H9P"), so it is not a
    # CSR: decoding it must fail cleanly. The round trip uses a real CSR made here.
    truncated = {"csr": "MIIBPTCBxAIBADBFMQ...FS6aKdZeGsysoCo4H9P"}
    with pytest.raises(jose_errors.DeserializationError, match=r"CertificateRequest\.csr"):
        messages.CertificateRequest.from_json(truncated)
    csr = _csr()
    der = csr.public_bytes(serialization.Encoding.DER)
    example = {"csr": b64url(der)}
    request = assert_round_trip(messages.CertificateRequest, example)
    assert isinstance(request.csr, x509.CertificateSigningRequest)
    assert request.csr.public_bytes(serialization.Encoding.DER) == der
    assert "=" not in request.to_json()["csr"]  # base64url without padding, not PEM


def test_revocation_payload() -> None:
    # RFC 8555 section 7.6. The RFC's "certificate" is truncated ("MIIEDTCCAvegAwIBAgIRAP8...");
    # a certificate made here replaces it.
    cert = _certificate()
    der = cert.public_bytes(serialization.Encoding.DER)
    revocation = assert_round_trip(messages.Revocation, {"certificate": b64url(der), "reason": 4})
    assert revocation.reason == 4
    assert revocation.certificate == cert
    with pytest.raises(jose_errors.DeserializationError, match=r"Revocation\.certificate"):
        messages.Revocation.from_json({"certificate": "MIIEDTCCAvegAwIBAgIRAP8...", "reason": 1})


# RFC 9773 section 4.2 ---------------------------------------------------------------------

RENEWAL_INFO = {
    "suggestedWindow": {"start": "2025-01-02T04:00:00Z", "end": "2025-01-03T04:00:00Z"},
    "explanationURL": "https://acme.example.com/docs/ari",
}


def test_renewal_info() -> None:
    info = assert_round_trip(messages.RenewalInfo, RENEWAL_INFO)
    utc = datetime.timezone.utc
    assert info.suggested_window.start == datetime.datetime(2025, 1, 2, 4, tzinfo=utc)
    assert info.suggested_window.end == datetime.datetime(2025, 1, 3, 4, tzinfo=utc)
    assert info.explanation_url == "https://acme.example.com/docs/ari"
    assert info.to_json()["suggestedWindow"] == RENEWAL_INFO["suggestedWindow"]
