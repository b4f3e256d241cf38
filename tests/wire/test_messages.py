"""Behaviour of acme.messages beyond the RFC examples: constants, errors, directory, accounts."""

from __future__ import annotations

import datetime
import json
import pickle
import sys
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from josepy import errors as jose_errors
from josepy import jwk

from acme import challenges, errors, messages

UTC = datetime.timezone.utc

# RFC 8555 section 6.7, the table of error types, copied here (not read from the spec file).
RFC8555_ERROR_TYPES = [
    "accountDoesNotExist",
    "alreadyRevoked",
    "badCSR",
    "badNonce",
    "badPublicKey",
    "badRevocationReason",
    "badSignatureAlgorithm",
    "caa",
    "compound",
    "connection",
    "dns",
    "externalAccountRequired",
    "incorrectResponse",
    "invalidContact",
    "malformed",
    "orderNotReady",
    "rateLimited",
    "rejectedIdentifier",
    "serverInternal",
    "tls",
    "unauthorized",
    "unsupportedContact",
    "unsupportedIdentifier",
    "userActionRequired",
]

STATUS_CONSTANTS = {
    "unknown": messages.STATUS_UNKNOWN,
    "pending": messages.STATUS_PENDING,
    "processing": messages.STATUS_PROCESSING,
    "valid": messages.STATUS_VALID,
    "invalid": messages.STATUS_INVALID,
    "revoked": messages.STATUS_REVOKED,
    "ready": messages.STATUS_READY,
    "deactivated": messages.STATUS_DEACTIVATED,
}


# Status and identifier type constants -----------------------------------------------------


@pytest.mark.parametrize(("name", "constant"), STATUS_CONSTANTS.items())
def test_status_constants_are_interned(name: str, constant: messages.Status) -> None:
    assert constant.name == name
    assert messages.Status.from_json(name) is constant
    assert messages.Status(name) is constant
    assert pickle.loads(pickle.dumps(constant)) is constant
    assert constant.to_json() == name
    assert constant == constant
    assert hash(constant) == hash(messages.Status(name))
    others = [c for n, c in STATUS_CONSTANTS.items() if n != name]
    assert all(constant != other for other in others)


def test_identifier_type_constants() -> None:
    assert messages.IDENTIFIER_FQDN.name == "dns"
    assert messages.IDENTIFIER_IP.name == "ip"
    assert messages.IdentifierType.from_json("dns") is messages.IDENTIFIER_FQDN
    assert messages.IdentifierType.from_json("ip") is messages.IDENTIFIER_IP
    assert messages.IDENTIFIER_FQDN != messages.IDENTIFIER_IP
    # A status and an identifier type with one name are different things.
    assert messages.IdentifierType("valid") != messages.STATUS_VALID


def _describe(status: messages.Status) -> str:
    match status:
        case messages.STATUS_VALID:
            return "done"
        case messages.STATUS_PENDING | messages.STATUS_PROCESSING:
            return "wait"
        case _:
            return "other"


def test_constants_work_as_match_value_patterns() -> None:
    assert _describe(messages.Status.from_json("valid")) == "done"
    assert _describe(messages.Status.from_json("processing")) == "wait"
    assert _describe(messages.Status.from_json("invalid")) == "other"
    assert _describe(messages.Status.from_json("somethingNew")) == "other"


def test_constants_are_hashable_dict_keys() -> None:
    table = {messages.STATUS_VALID: 1, messages.STATUS_INVALID: 2}
    assert table[messages.Status.from_json("valid")] == 1
    assert messages.Status.from_json("revoked") not in table


def test_unknown_status_is_kept_without_growing_the_registry() -> None:
    before = dict(messages.Status.POSSIBLE_NAMES)
    parsed = [messages.Status.from_json(f"hostile-{i}") for i in range(500)]
    assert before == messages.Status.POSSIBLE_NAMES
    assert parsed[7].name == "hostile-7"
    assert parsed[7].to_json() == "hostile-7"
    assert not parsed[7].known
    assert messages.STATUS_VALID.known
    assert all(p not in STATUS_CONSTANTS.values() for p in parsed)
    assert messages.Status.from_json("hostile-7") == parsed[7]  # same name, same value
    assert messages.Status.from_json("hostile-7") != parsed[8]
    order = messages.Order.from_json({"status": "hostile-1"})
    assert order.status == messages.Status("hostile-1")
    assert order.status != messages.STATUS_UNKNOWN
    assert order.to_json() == {"status": "hostile-1"}


def test_expired_authorization_status_parses() -> None:
    # "expired" is an authorization status (RFC 8555 section 7.1.6).
    status = messages.Status.from_json("expired")
    assert status.known
    assert status is messages.Status.from_json("expired")


@pytest.mark.parametrize("value", [None, 1, True, ["valid"], {"name": "valid"}])
def test_constant_from_json_rejects_non_strings(value: Any) -> None:
    with pytest.raises(jose_errors.DeserializationError, match="Status"):
        messages.Status.from_json(value)
    with pytest.raises(jose_errors.DeserializationError, match="IdentifierType"):
        messages.IdentifierType.from_json(value)


def test_constants_are_immutable() -> None:
    with pytest.raises(AttributeError):
        messages.STATUS_VALID.name = "invalid"
    assert messages.STATUS_VALID.name == "valid"


def test_identifier() -> None:
    ident = messages.Identifier.from_json({"type": "ip", "value": "2001:db8::1"})
    assert ident.typ is messages.IDENTIFIER_IP
    assert ident.to_json() == {"type": "ip", "value": "2001:db8::1"}
    assert hash(ident) == hash(messages.Identifier(typ=messages.IDENTIFIER_IP, value="2001:db8::1"))
    with pytest.raises(jose_errors.DeserializationError, match=r"Identifier\.value"):
        messages.Identifier.from_json({"type": "dns", "value": 42})
    with pytest.raises(jose_errors.DeserializationError, match="missing required"):
        messages.Identifier.from_json({"type": "dns"})


# Errors ------------------------------------------------------------------------------------


# acme 5.x's codes beyond RFC 8555's table (from ACME drafts and Let's Encrypt's Boulder).
ACME5_EXTRA_ERROR_CODES = ["dnssec", "invalidEmail", "unknownHost"]

# acme 5.9's ERROR_TYPE_DESCRIPTIONS texts, which programs match on (typed in from running 5.9).
ACME59_DESCRIPTIONS = {
    "accountDoesNotExist": "The request specified an account that does not exist",
    "alreadyRevoked": (
        "The request specified a certificate to be revoked that has already been revoked"
    ),
    "badCSR": "The CSR is unacceptable (e.g., due to a short key)",
    "badNonce": "The client sent an unacceptable anti-replay nonce",
    "badPublicKey": "The JWS was signed by a public key the server does not support",
    "badRevocationReason": "The revocation reason provided is not allowed by the server",
    "badSignatureAlgorithm": "The JWS was signed with an algorithm the server does not support",
    "caa": (
        "Certification Authority Authorization (CAA) records forbid the CA from issuing a "
        "certificate"
    ),
    "compound": 'Specific error conditions are indicated in the "subproblems" array',
    "connection": "The server could not connect to the client to verify the domain",
    "dns": "There was a problem with a DNS query during identifier validation",
    "dnssec": "The server could not validate a DNSSEC signed domain",
    "incorrectResponse": "Response received didn't match the challenge's requirements",
    "invalidEmail": "The provided email for a registration was invalid",
    "invalidContact": "The provided contact URI was invalid",
    "malformed": "The request message was malformed",
    "rejectedIdentifier": "The server will not issue certificates for the identifier",
    "orderNotReady": (
        "The request attempted to finalize an order that is not ready to be finalized"
    ),
    "rateLimited": "There were too many requests of a given type",
    "serverInternal": "The server experienced an internal error",
    "tls": "The server experienced a TLS error during domain verification",
    "unauthorized": "The client lacks sufficient authorization",
    "unsupportedContact": "A contact URL for an account used an unsupported protocol scheme",
    "unknownHost": "The server could not resolve a domain name",
    "unsupportedIdentifier": "An identifier is of an unsupported type",
    "externalAccountRequired": "The server requires external account binding",
}


def test_error_codes_cover_the_registries() -> None:
    expected = {*RFC8555_ERROR_TYPES, *ACME5_EXTRA_ERROR_CODES, "alreadyReplaced", "invalidProfile"}
    assert set(messages.ERROR_CODES) == expected
    assert all(isinstance(d, str) and d for d in messages.ERROR_CODES.values())
    for code, description in messages.ERROR_CODES.items():
        assert messages.ERROR_TYPE_DESCRIPTIONS[messages.ERROR_PREFIX + code] == description
        assert messages.ERROR_TYPE_DESCRIPTIONS[messages.OLD_ERROR_PREFIX + code] == description
    assert len(messages.ERROR_TYPE_DESCRIPTIONS) == 2 * len(expected)


def test_error_with_code() -> None:
    error = messages.Error.with_code("badNonce", detail="stale nonce")
    assert error.typ == "urn:ietf:params:acme:error:badNonce"
    assert error.code == "badNonce"
    assert error.description == "The client sent an unacceptable anti-replay nonce"
    assert error.detail == "stale nonce"
    assert error.to_json() == {"type": error.typ, "detail": "stale nonce"}
    with pytest.raises(ValueError, match="notACode") as info:
        messages.Error.with_code("notACode")
    assert isinstance(info.value, errors.Error)


@pytest.mark.parametrize("code", ACME5_EXTRA_ERROR_CODES)
def test_error_with_code_accepts_acme5_codes(code: str) -> None:
    # certbot 5.8's tests build Error.with_code("dnssec"); acme 5.x accepts all three.
    error = messages.Error.with_code(code, detail="d")
    assert error.to_json() == {"type": "urn:ietf:params:acme:error:" + code, "detail": "d"}
    assert error.code == code
    assert messages.is_acme_error(error)
    assert error.description == ACME59_DESCRIPTIONS[code]


def test_error_descriptions_are_acme59_texts() -> None:
    for code, text in ACME59_DESCRIPTIONS.items():
        assert messages.ERROR_CODES[code] == text
        assert messages.ERROR_TYPE_DESCRIPTIONS[messages.ERROR_PREFIX + code] == text
        assert messages.Error.with_code(code).description == text


def test_error_code_only_for_acme_types() -> None:
    assert messages.Error().typ == "about:blank"  # RFC 7807 default
    assert messages.Error().code is None
    assert messages.Error(typ="https://example.com/problems/oops").code is None
    assert messages.Error(typ="https://example.com/problems/oops").description is None
    assert messages.Error(typ="urn:acme:error:malformed").code == "malformed"
    assert messages.Error.from_json({"detail": "no type"}).typ == "about:blank"


def test_is_acme_error() -> None:
    assert messages.is_acme_error(messages.Error.with_code("caa"))
    assert messages.is_acme_error(messages.Error(typ="urn:acme:error:connection"))
    assert not messages.is_acme_error(messages.Error(detail="x"))
    assert not messages.is_acme_error(messages.Error(typ="https://example.com/p"))
    assert not messages.is_acme_error(ValueError("urn:ietf:params:acme:error:malformed"))
    assert not messages.is_acme_error("urn:ietf:params:acme:error:malformed")


def test_error_is_a_usable_exception() -> None:
    error = messages.Error.with_code("rateLimited", detail="slow down")
    with pytest.raises(messages.Error) as info:
        raise error
    assert info.value is error
    if sys.version_info >= (3, 11):
        info.value.add_note("retried 3 times")  # pytest and hypothesis do this
        assert error.__notes__ == ["retried 3 times"]
    assert error.detail == "slow down"
    assert isinstance(error, Exception)
    assert {error: 1}[messages.Error.with_code("rateLimited", detail="slow down")] == 1
    with pytest.raises(AttributeError):
        error.detail = "changed"
    restored = pickle.loads(pickle.dumps(error))
    assert restored == error
    assert type(restored) is messages.Error


def test_error_str_is_readable() -> None:
    error = messages.Error.with_code("dns", detail="NXDOMAIN looking up A for example.org")
    text = str(error)
    assert "urn:ietf:params:acme:error:dns" in text
    assert messages.ERROR_CODES["dns"] in text
    assert "NXDOMAIN looking up A for example.org" in text


def test_error_str_is_bounded_and_escapes_control_characters() -> None:
    hostile = messages.Error.from_json(
        {
            "type": "urn:ietf:params:acme:error:malformed",
            "title": "T" * 50_000,
            "detail": "first line\nFAKE LOG LINE\x1b[31m" + "x" * 100_000,
            "subproblems": [
                {"detail": "s" * 10_000, "identifier": {"type": "dns", "value": f"n{i}.example"}}
                for i in range(200)
            ],
        }
    )
    text = str(hostile)
    assert len(text) <= 1000
    assert text.startswith("urn:ietf:params:acme:error:malformed")
    assert "first line\\nFAKE LOG LINE\\x1b[31m" in text
    assert "\x1b" not in text
    assert "\nFAKE" not in text
    # Control: a short error is shown whole, with its subproblems and their identifiers.
    short = messages.Error.from_json(
        {
            "type": "urn:ietf:params:acme:error:compound",
            "detail": "two problems",
            "subproblems": [
                {
                    "type": "urn:ietf:params:acme:error:caa",
                    "identifier": {"type": "dns", "value": v},
                }
                for v in ("a.example", "b.example")
            ]
            * 4,
        }
    )
    short_text = str(short)
    assert "two problems" in short_text
    assert "a.example: urn:ietf:params:acme:error:caa" in short_text
    assert "and 3 more subproblem(s)" in short_text


def test_error_keeps_extension_members() -> None:
    # RFC 7807 "status" and RFC 8555 section 6.2 "algorithms" are not fields of ours: kept.
    jobj = {
        "type": "urn:ietf:params:acme:error:badSignatureAlgorithm",
        "detail": "use ES256",
        "status": 400,
        "algorithms": ["ES256", "RS256"],
    }
    error = messages.Error.from_json(jobj)
    assert json.loads(error.json_dumps()) == jobj
    assert error == messages.Error.from_json(json.loads(error.json_dumps()))


def test_error_http_status_and_retry_after_are_not_json() -> None:
    error = messages.Error.with_code("rateLimited", detail="later")
    assert error.http_status is None
    assert error.retry_after is None
    when = datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    updated = error.update(http_status=429, retry_after=when)
    assert updated.http_status == 429
    assert updated.retry_after == when
    assert updated.retry_after.tzinfo is UTC
    assert updated.to_json() == error.to_json()
    assert "429" not in updated.json_dumps()
    assert pickle.loads(pickle.dumps(updated)).retry_after == when
    with pytest.raises(ValueError, match="aware"):
        error.update(retry_after=datetime.datetime(2030, 1, 1))


# Directory --------------------------------------------------------------------------------

DIRECTORY_JSON = {
    "newNonce": "https://ca.example/nonce",
    "newAccount": "https://ca.example/account",
    "newOrder": "https://ca.example/order",
    "revokeCert": "https://ca.example/revoke",
    "keyChange": "https://ca.example/key-change",
    "renewalInfo": "https://ca.example/ari",
    "futureResource": {"nested": [1, 2]},
    "meta": {
        "termsOfService": "https://ca.example/tos",
        "externalAccountRequired": True,
        "profiles": {"classic": "The usual", "shortlived": "6 days"},
        "futureMeta": "kept",
    },
}


def test_directory_access_forms() -> None:
    directory = messages.Directory.from_json(DIRECTORY_JSON)
    assert directory["newOrder"] == "https://ca.example/order"
    assert directory.newOrder == "https://ca.example/order"
    assert directory.new_order == "https://ca.example/order"
    assert directory["new_order"] == "https://ca.example/order"
    assert directory.renewal_info == directory.renewalInfo == "https://ca.example/ari"
    assert directory.revoke_cert == "https://ca.example/revoke"
    assert "newOrder" in directory
    assert "new_order" in directory
    assert "newAuthz" not in directory
    with pytest.raises(KeyError, match="newAuthz"):
        directory["newAuthz"]
    with pytest.raises(AttributeError, match="newAuthz"):
        _ = directory.newAuthz
    assert not hasattr(directory, "new_authz")
    assert directory.meta.terms_of_service == "https://ca.example/tos"
    assert directory.meta.external_account_required is True
    assert dict(directory.meta.profiles) == {"classic": "The usual", "shortlived": "6 days"}


def test_directory_keeps_unknown_keys_and_meta() -> None:
    directory = messages.Directory.from_json(DIRECTORY_JSON)
    assert json.loads(directory.json_dumps()) == DIRECTORY_JSON
    assert directory == messages.Directory.from_json(json.loads(directory.json_dumps()))
    assert hash(directory) == hash(messages.Directory.from_json(DIRECTORY_JSON))
    assert pickle.loads(pickle.dumps(directory)) == directory
    with pytest.raises(AttributeError):
        directory.newOrder = "x"


def test_directory_without_meta() -> None:
    directory = messages.Directory({"newNonce": "https://ca.example/nonce"})
    assert directory.meta == messages.Directory.Meta()
    assert directory.meta.external_account_required is None
    assert directory.meta.profiles == {}
    assert directory.to_json() == {"newNonce": "https://ca.example/nonce"}


def test_directory_constructor_accepts_meta_object_or_json() -> None:
    meta = messages.Directory.Meta(terms_of_service="https://t", caa_identities=["ca.example"])
    assert meta.caa_identities == ("ca.example",)
    one = messages.Directory({"newOrder": "https://o", "meta": meta})
    two = messages.Directory({"newOrder": "https://o", "meta": meta.to_json()})
    assert one == two
    assert one.meta.terms_of_service == "https://t"
    # to_json is plain JSON (arrays as lists), the nested meta too, as json.loads gives it.
    assert one.to_json() == {
        "newOrder": "https://o",
        "meta": {"termsOfService": "https://t", "caaIdentities": ["ca.example"]},
    }
    assert one.to_json() == json.loads(one.json_dumps())


@pytest.mark.parametrize(
    ("jobj", "where"),
    [
        ({"newOrder": 5}, "Directory.newOrder"),
        ({"newNonce": None}, "Directory.newNonce"),
        ({"meta": []}, "Directory.meta"),
        ({"meta": {"termsOfService": 1}}, "termsOfService"),
        ({"meta": {"profiles": {"a": 1}}}, "profiles"),
        ({"meta": {"caaIdentities": "ca.example"}}, "caaIdentities"),
        ([], "Directory"),
    ],
)
def test_directory_rejects_wrong_types(jobj: Any, where: str) -> None:
    with pytest.raises(jose_errors.DeserializationError, match=where):
        messages.Directory.from_json(jobj)


def test_directory_register_is_deprecated() -> None:
    class OldResource:
        resource_type = "new-reg"

    with pytest.warns(DeprecationWarning, match=r"Directory\.register"):
        assert messages.Directory.register(OldResource) is OldResource
    directory = messages.Directory({"new-reg": "https://ca.example/new-reg"})
    assert directory[OldResource] == "https://ca.example/new-reg"


# Accounts ---------------------------------------------------------------------------------


def test_registration_from_data() -> None:
    reg = messages.Registration.from_data(
        phone="+1 555 0100", email="a@example.org, b@example.org,", terms_of_service_agreed=True
    )
    assert reg.contact == ("tel:+1 555 0100", "mailto:a@example.org", "mailto:b@example.org")
    assert reg.phones == ("+1 555 0100",)
    assert reg.emails == ("a@example.org", "b@example.org")
    assert reg.to_json() == {"contact": list(reg.contact), "termsOfServiceAgreed": True}
    single = messages.NewRegistration.from_data(email="admin@example.org")
    assert isinstance(single, messages.NewRegistration)
    assert single.emails == ("admin@example.org",)
    assert single.phones == ()


def test_to_partial_json_keeps_arrays_as_stored() -> None:
    """As in acme 5.x, ``to_partial_json`` returns the stored tuples (lists for the list
    fields); ``to_json`` turns both into JSON arrays."""
    key = jwk.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    contact = ("mailto:admin@example.org", "tel:1234")
    reg = messages.Registration(key=key, contact=contact, agreement="https://ca.example/tos")
    assert reg.to_partial_json() == {
        "contact": contact,
        "agreement": "https://ca.example/tos",
        "key": key.public_key(),
    }
    assert isinstance(reg.to_partial_json()["contact"], tuple)
    assert reg.to_json()["contact"] == list(contact)
    assert messages.Registration.from_data().to_partial_json() == {"contact": ()}
    ident = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="a.example")
    assert messages.NewOrder(identifiers=[ident]).to_partial_json() == {"identifiers": (ident,)}
    orderr = messages.OrderResource(
        body=messages.Order(), uri="https://ca.example/o/1", alternative_fullchains_pem=("a",)
    )
    assert orderr.to_partial_json()["alternative_fullchains_pem"] == ["a"]


@pytest.mark.parametrize("bad", [object(), 42, "a.example", b"a", {"type": "dns"}])
def test_an_array_field_holding_no_array_is_a_serialization_error(bad: Any) -> None:
    """Where acme 5.x copies any object into the JSON, ours names the field (compat.md)."""
    with pytest.raises(jose_errors.SerializationError, match=r"identifiers.*expected an array"):
        messages.NewOrder(identifiers=bad).to_json()


def test_registration_contact_presence_is_meaningful() -> None:
    # Explicitly empty contact is sent (it clears the contacts); absent contact is not.
    assert messages.Registration.from_data().to_json() == {"contact": []}
    assert messages.UpdateRegistration(contact=()).to_json() == {"contact": []}
    assert messages.Registration().to_json() == {}
    assert messages.Registration.from_json({}).to_json() == {}
    assert messages.Registration.from_json({"contact": []}).to_json() == {"contact": []}


def test_registration_serializes_only_the_public_key() -> None:
    private = jwk.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    jobj = messages.Registration(key=private).to_json()
    assert set(jobj["key"]) == {"kty", "n", "e"}
    assert messages.Registration.from_json(jobj).key == private.public_key()


def test_registration_resource_round_trip() -> None:
    regr = messages.RegistrationResource(
        body=messages.Registration.from_data(email="a@example.org"),
        uri="https://ca.example/acct/1",
        terms_of_service="https://ca.example/tos",
    )
    restored = messages.RegistrationResource.json_loads(regr.json_dumps())
    assert restored == regr
    assert restored.body.emails == ("a@example.org",)


def test_registration_resource_keeps_the_acme1_new_authzr_uri() -> None:
    # An acme 1.x/5.x field (certbot's old account files hold it; certbot 5.8's tests set it).
    body = messages.Registration.from_data(email="a@example.org")
    regr = messages.RegistrationResource(
        body=body, uri="https://ca.example/acct/1", new_authzr_uri="https://ca.example/new-authz"
    )
    assert regr.new_authzr_uri == "https://ca.example/new-authz"
    assert json.loads(regr.json_dumps()) == {
        "body": {"contact": ["mailto:a@example.org"]},
        "uri": "https://ca.example/acct/1",
        "new_authzr_uri": "https://ca.example/new-authz",
    }
    assert messages.RegistrationResource.json_loads(regr.json_dumps()) == regr
    plain = messages.RegistrationResource(body=body, uri="https://ca.example/acct/1")
    assert plain.new_authzr_uri is None
    assert "new_authzr_uri" not in plain.to_json()
    assert plain != regr


# Challenges and authorizations ------------------------------------------------------------

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"


def test_challenge_body_proxies_its_challenge() -> None:
    challb = messages.ChallengeBody.from_json(
        {"type": "dns-01", "url": "https://ca.example/c/1", "status": "pending", "token": TOKEN}
    )
    assert isinstance(challb.chall, challenges.DNS01)
    assert challb.typ == "dns-01"
    assert challb.token == challb.chall.token
    assert challb.uri == "https://ca.example/c/1"
    with pytest.raises(AttributeError):
        _ = challb.no_such_attribute
    built = messages.ChallengeBody(chall=challb.chall, uri="https://ca.example/c/1")
    assert built.url == "https://ca.example/c/1"
    assert built.status is None
    assert built.to_json() == {"type": "dns-01", "token": TOKEN, "url": "https://ca.example/c/1"}
    moved = built.update(uri="https://ca.example/c/9")
    assert moved.url == moved.uri == "https://ca.example/c/9"
    assert built.url == "https://ca.example/c/1"


def test_challenge_body_encodes_a_field_by_its_acme5_name() -> None:
    """josepy's ``encode(name)`` takes ``uri`` (acme 5.x's field name) for ``url``."""
    when = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    challb = messages.ChallengeBody(
        chall=challenges.HTTP01(token=b"x" * 16), uri="https://ca.example/c/1", validated=when
    )
    assert challb.encode("uri") == challb.encode("url") == "https://ca.example/c/1"
    assert challb.encode("validated") == "2025-01-02T03:04:05Z"
    with pytest.raises(jose_errors.Error, match="Field not found: no_such_field"):
        challb.encode("no_such_field")


def test_challenge_body_with_unknown_type_keeps_its_json() -> None:
    jobj = {
        "type": "future-01",
        "url": "https://ca.example/c/2",
        "status": "invalid",
        "error": {"type": "urn:ietf:params:acme:error:connection", "detail": "refused"},
        "strange": {"nested": [1, "two"]},
    }
    challb = messages.ChallengeBody.from_json(jobj)
    assert isinstance(challb.chall, challenges.UnrecognizedChallenge)
    assert challb.typ == "future-01"
    assert challb.error is not None
    assert challb.error.code == "connection"
    assert json.loads(challb.json_dumps()) == jobj


def test_challenge_resource_uri() -> None:
    challb = messages.ChallengeBody.from_json(
        {"type": "http-01", "url": "https://ca.example/c/3", "token": TOKEN}
    )
    challr = messages.ChallengeResource(body=challb, authzr_uri="https://ca.example/authz/1")
    assert challr.uri == "https://ca.example/c/3"
    assert messages.ChallengeResource.json_loads(challr.json_dumps()) == challr


def test_authorization_combinations_are_deprecated() -> None:
    jobj = {
        "identifier": {"type": "dns", "value": "example.org"},
        "challenges": [
            {"type": "http-01", "url": "https://ca.example/c/1", "token": TOKEN},
            {"type": "dns-01", "url": "https://ca.example/c/2", "token": TOKEN},
        ],
        "combinations": [[0], [1]],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        authz = messages.Authorization.from_json(jobj)  # parsing does not warn
    with pytest.warns(DeprecationWarning, match="combinations"):
        assert authz.combinations == ((0,), (1,))
    with pytest.warns(DeprecationWarning, match="combinations"):
        resolved = authz.resolved_combinations
    assert resolved == ((authz.challenges[0],), (authz.challenges[1],))
    assert json.loads(authz.json_dumps()) == jobj
    with pytest.raises(jose_errors.DeserializationError, match="combinations"):
        messages.Authorization.from_json({**jobj, "combinations": [[2]]})


def test_authorization_resource_round_trip() -> None:
    authzr = messages.AuthorizationResource(
        body=messages.Authorization(
            identifier=messages.Identifier(typ=messages.IDENTIFIER_IP, value="192.0.2.1"),
            status=messages.STATUS_PENDING,
            expires=datetime.datetime(2030, 1, 1, tzinfo=UTC),
        ),
        uri="https://ca.example/authz/ip",
    )
    assert messages.AuthorizationResource.json_loads(authzr.json_dumps()) == authzr


def test_authorization_resource_keeps_the_acme1_new_cert_uri() -> None:
    body = messages.Authorization(status=messages.STATUS_VALID)
    authzr = messages.AuthorizationResource(
        body=body, uri="https://ca.example/authz/1", new_cert_uri="https://ca.example/new-cert"
    )
    assert authzr.new_cert_uri == "https://ca.example/new-cert"
    assert json.loads(authzr.json_dumps()) == {
        "body": {"status": "valid"},
        "uri": "https://ca.example/authz/1",
        "new_cert_uri": "https://ca.example/new-cert",
    }
    assert messages.AuthorizationResource.json_loads(authzr.json_dumps()) == authzr
    plain = messages.AuthorizationResource(body=body, uri="https://ca.example/authz/1")
    assert plain.new_cert_uri is None
    assert "new_cert_uri" not in plain.to_json()


# Orders, certificates, revocation, renewal info -------------------------------------------


def test_order_round_trip_of_every_field() -> None:
    order = messages.Order(
        identifiers=[messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="example.org")],
        status=messages.STATUS_INVALID,
        authorizations=["https://ca.example/authz/1"],
        certificate="https://ca.example/cert/1",
        finalize="https://ca.example/order/1/finalize",
        expires=datetime.datetime(2030, 1, 1, 0, 0, 0, 500, tzinfo=UTC),
        error=messages.Error.with_code("badCSR", detail="short key"),
        profile="shortlived",
        replaces="aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
        not_before=datetime.datetime(2030, 1, 1, tzinfo=UTC),
        not_after=datetime.datetime(2030, 1, 7, tzinfo=UTC),
    )
    assert isinstance(order.identifiers, tuple)
    assert isinstance(order.authorizations, tuple)
    jobj = json.loads(order.json_dumps())
    assert jobj["profile"] == "shortlived"
    assert jobj["replaces"] == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert jobj["notBefore"] == "2030-01-01T00:00:00Z"
    assert jobj["notAfter"] == "2030-01-07T00:00:00Z"
    assert jobj["error"] == {"type": "urn:ietf:params:acme:error:badCSR", "detail": "short key"}
    assert messages.Order.from_json(jobj) == order
    assert hash(messages.Order.from_json(jobj)) == hash(order)
    assert messages.NewOrder(identifiers=order.identifiers).to_json() == {
        "identifiers": [{"type": "dns", "value": "example.org"}]
    }


def test_messages_are_immutable() -> None:
    order = messages.Order(status=messages.STATUS_PENDING)
    with pytest.raises(AttributeError):
        order.status = messages.STATUS_VALID
    ready = order.update(status=messages.STATUS_READY)
    assert ready.status is messages.STATUS_READY
    assert order.status is messages.STATUS_PENDING


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _csr() -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.org")]))
        .sign(_key(), hashes.SHA256())
    )


def _certificate() -> x509.Certificate:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.org")])
    now = datetime.datetime.now(UTC)
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


def test_order_resource_round_trip() -> None:
    csr_pem = _csr().public_bytes(serialization.Encoding.PEM)
    authzr = messages.AuthorizationResource(
        body=messages.Authorization(status=messages.STATUS_VALID), uri="https://ca.example/a/1"
    )
    orderr = messages.OrderResource(
        body=messages.Order(status=messages.STATUS_VALID),
        uri="https://ca.example/order/1",
        csr_pem=csr_pem,
        authorizations=[authzr],
        fullchain_pem="-----BEGIN CERTIFICATE-----\n...",
        alternative_fullchains_pem=["alt1", "alt2"],
    )
    restored = messages.OrderResource.json_loads(orderr.json_dumps())
    assert restored == orderr
    assert restored.csr_pem == csr_pem
    assert restored.authorizations == [authzr]  # a list, as acme 5.x callers mutate it
    assert restored.alternative_fullchains_pem == ["alt1", "alt2"]


def test_order_resource_equals_itself_after_a_round_trip_with_fields_left_out() -> None:
    # Left-out list fields must not be () on one side and [] on the other.
    authzr = messages.AuthorizationResource(
        body=messages.Authorization(status=messages.STATUS_PENDING), uri="https://ca.example/a/1"
    )
    for orderr in (
        messages.OrderResource(body=messages.Order(), uri="https://ca.example/order/1"),
        messages.OrderResource(
            body=messages.Order(status=messages.STATUS_PENDING),
            uri="https://ca.example/order/2",
            csr_pem=b"test blob",
            authorizations=(authzr,),
        ),
    ):
        restored = messages.OrderResource.from_json(orderr.to_json())
        assert restored == orderr
        assert hash(restored) == hash(orderr)
        assert orderr.alternative_fullchains_pem == []


def test_order_resource_without_authorizations_as_acme5() -> None:
    """None until fetched, written as JSON null (acme 5.x's form, which it needs to read)."""
    order = messages.Order(status=messages.STATUS_PENDING)
    orderr = messages.OrderResource(body=order, uri="https://ca.example/order/1")
    assert orderr.authorizations is None
    assert orderr.to_json() == {
        "body": order.to_json(),
        "uri": "https://ca.example/order/1",
        "authorizations": None,
    }
    jobj = json.loads(orderr.json_dumps())
    assert jobj["authorizations"] is None
    restored = messages.OrderResource.from_json(jobj)
    assert restored == orderr
    assert restored.authorizations is None
    # Fetched ones are a list, an empty one too (not confused with "not fetched").
    empty = messages.OrderResource(body=order, uri="https://ca.example/order/1", authorizations=())
    assert empty.authorizations == []
    assert json.loads(empty.json_dumps())["authorizations"] == []
    assert messages.OrderResource.json_loads(empty.json_dumps()).authorizations == []
    # JSON without the member (older files of ours) still reads, as not fetched.
    del jobj["authorizations"]
    assert messages.OrderResource.from_json(jobj).authorizations is None
    with pytest.raises(jose_errors.DeserializationError, match="expected an array"):
        messages.OrderResource.from_json({**jobj, "authorizations": "https://ca.example/a"})


class _LegacyX509Req:
    """Stands in for pyOpenSSL's X509Req (gone from pyOpenSSL 26): only to_cryptography()."""

    def __init__(self, csr: x509.CertificateSigningRequest) -> None:
        self._csr = csr

    def to_cryptography(self) -> x509.CertificateSigningRequest:
        return self._csr


def test_certificate_request_accepts_legacy_request_objects() -> None:
    csr = _csr()
    request = messages.CertificateRequest(csr=_LegacyX509Req(csr))
    assert isinstance(request.csr, x509.CertificateSigningRequest)
    assert request == messages.CertificateRequest(csr=csr)
    decoded = messages.CertificateRequest.from_json(request.to_json())
    assert decoded.csr.public_bytes(serialization.Encoding.DER) == csr.public_bytes(
        serialization.Encoding.DER
    )


def test_certificate_objects_accept_pyopenssl_x509() -> None:
    from OpenSSL import crypto

    cert = _certificate()
    legacy = crypto.X509.from_cryptography(cert)
    assert messages.Revocation(certificate=legacy).certificate == cert
    certr = messages.CertificateResource(body=legacy, uri="https://ca.example/cert/2")
    assert isinstance(certr.body, x509.Certificate)
    assert certr.body == cert


@pytest.mark.parametrize("csr", ["", "!!!", "AAAA", 7, None])
def test_certificate_request_rejects_garbage(csr: Any) -> None:
    with pytest.raises(jose_errors.DeserializationError, match=r"CertificateRequest\.csr"):
        messages.CertificateRequest.from_json({"csr": csr})


def test_certificate_resource_and_revocation() -> None:
    cert = _certificate()
    certr = messages.CertificateResource(
        body=cert, uri="https://ca.example/cert/1", cert_chain_uri="https://ca.example/chain"
    )
    assert messages.CertificateResource.json_loads(certr.json_dumps()) == certr
    # reason 0 (unspecified) is a value, not an absence; an absent reason is omitted.
    assert messages.Revocation(certificate=cert, reason=0).to_json()["reason"] == 0
    assert "reason" not in messages.Revocation(certificate=cert).to_json()
    with pytest.raises(jose_errors.DeserializationError, match=r"Revocation\.reason"):
        messages.Revocation.from_json(
            {
                "certificate": messages.Revocation(certificate=cert).to_json()["certificate"],
                "reason": True,
            }
        )


def _window(start: str, end: str) -> dict[str, Any]:
    return {"suggestedWindow": {"start": start, "end": end}}


def test_renewal_info_window_must_be_ordered() -> None:
    good = messages.RenewalInfo.from_json(_window("2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z"))
    assert good.explanation_url is None
    for start, end in [
        ("2025-01-03T04:00:00Z", "2025-01-02T04:00:00Z"),
        ("2025-01-02T04:00:00Z", "2025-01-02T04:00:00Z"),  # "equals or precedes" (4.2)
    ]:
        with pytest.raises(jose_errors.DeserializationError, match="after start"):
            messages.RenewalInfo.from_json(_window(start, end))
    start_time = datetime.datetime(2025, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="after start") as info:
        messages.RenewalInfo.SuggestedWindow(start=start_time, end=start_time)
    assert isinstance(info.value, errors.Error)
    with pytest.raises(jose_errors.DeserializationError, match="suggestedWindow"):
        messages.RenewalInfo.from_json({"explanationURL": "https://x"})


def test_public_classes_live_in_acme_messages() -> None:
    for name in messages.__all__:
        value = getattr(messages, name)
        if isinstance(value, type):
            assert value.__module__ == "acme.messages", name
    assert messages.Directory.Meta.__qualname__ == "Directory.Meta"


def test_resource_with_a_plain_dict_body_serializes() -> None:
    """certbot saves its account as RegistrationResource(uri=..., body={}).json_dumps()."""
    regr = messages.RegistrationResource(uri="https://ca.test/acct/1", body={})
    assert json.loads(regr.json_dumps()) == {"body": {}, "uri": "https://ca.test/acct/1"}
    again = messages.RegistrationResource.json_loads(regr.json_dumps())
    assert again.uri == "https://ca.test/acct/1"
