"""Property test: no JSON value makes a message's ``from_json`` fail with a raw exception.

A server (or anything between it and us) can send any JSON. Every public message class gets
2,000 arbitrary JSON values and 2,000 objects shaped like that message (wrong types, malformed
timestamps, bad base64, unknown members and broken nested objects in its fields); each must
either decode or raise ``josepy.errors.DeserializationError`` / an ``acme.errors`` exception;
never ``TypeError``, ``KeyError``, ``AttributeError``, ``ValueError`` or ``RecursionError``.
What decodes must also re-serialize, hash, and decode again to the same JSON.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from josepy import errors as jose_errors
from josepy import jwk

from acme import errors, messages

EXAMPLES = 2000


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der_samples() -> tuple[str, str, dict[str, Any]]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.org")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    public_jwk = jwk.JWKEC(key=key.public_key()).to_partial_json()
    return _b64url(csr.public_bytes(der)), _b64url(cert.public_bytes(der)), public_jwk


CSR_B64, CERT_B64, PUBLIC_JWK = _der_samples()

# Arbitrary JSON: any text, NaN, huge numbers, nesting.
ANY_TEXT = st.text(max_size=8)
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | ANY_TEXT,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(ANY_TEXT, kids, max_size=3),
    max_leaves=6,
)
# Strings for the shaped objects' fields, sampled (Hypothesis pays per drawn choice, and every
# example draws a value for each of the ~30 classes).
TEXT = st.sampled_from(
    [
        *("", "x", "example.org", "*.example.org", "192.0.2.1", "mailto:a@example.org"),
        *("\x00", "\n\x1b[31m", "é\u2028", "\ud800", "2025-01-02T04:00:00Z", "x" * 5000),
    ]
)
URL = st.sampled_from(["https://ca.example/x", "", "not a url"]) | TEXT
TIMESTAMP = (
    st.sampled_from(
        [
            "2016-01-20T14:09:07.99Z",
            "2025-01-02T04:00:00+04:00",
            "2025-01-03T04:00:00Z",
            "2025-13-02T04:00:00Z",
            "2025-01-02",
            "9999-12-31T23:59:60Z",
            "0001-01-01T00:00:00+23:59",
            "2025-01-02T04:00:00.123456789Z",
        ]
    )
    | TEXT
)
STATUS = st.sampled_from([*messages.Status.POSSIBLE_NAMES, "bogus", ""])
ID_TYPE = st.sampled_from(["dns", "ip", "email", ""])
TOKENS = ["DGyRejmCefe7v4NfDGDKfA", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"]
TOKEN = st.sampled_from([*TOKENS, "short", "pad=", "a/b+"])
CHALL_TYPE = st.sampled_from(["http-01", "dns-01", "tls-alpn-01", "dns", "future-01", ""])
ERROR_TYPE = st.sampled_from(
    [messages.ERROR_PREFIX + "malformed", "urn:acme:error:dns", "about:blank", "x"]
)
CSR = st.sampled_from([CSR_B64, CSR_B64[:40], "", "!!!", "MIIBPTCBxAIBADBFMQ...FS6aKdZeGsys"])
CERT = st.sampled_from([CERT_B64, CERT_B64[:40], "", "!!!", "MIIEDTCCAvegAwIBAgIRAP8..."])


# Values of every JSON type, to put where another type belongs (cheaper to draw than ANY_JSON).
WRONG: st.SearchStrategy[Any] = st.sampled_from(
    [
        *(None, True, False, 0, -1, 2**64, 1.5, float("nan"), float("inf"), "", "x", "\x00\n"),
        *([], [None], ["a", 1], {}, {"": None}, {"type": "dns"}, [[[{}]]]),
    ]
)


def field(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field value: plausible, or of a wrong type."""
    return plausible | WRONG


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects with some of ``fields`` (each plausible or mistyped), maybe an unknown one."""
    known = st.fixed_dictionaries({}, optional={k: field(v) for k, v in fields.items()})
    unknown = st.fixed_dictionaries({}, optional={"unknownMember": WRONG})
    return st.builds(lambda k, u: {**u, **k}, known, unknown)


# Nested objects come from small pools of valid and broken examples: each class's own fields
# are fuzzed by its own test, which keeps every example cheap to generate.
P = messages.ERROR_PREFIX
IDENTIFIERS = [
    {"type": "dns", "value": "example.org"},
    {"type": "ip", "value": "192.0.2.1"},
    {"type": "email", "value": "a@example.org"},
    {"type": "dns"},
    {"type": 5, "value": "a"},
]
PROBLEMS = [
    {"type": P + "malformed", "detail": "bad"},
    {"detail": "no type", "status": 400},
    {"type": 1},
    {"type": P + "compound", "subproblems": [{"type": P + "caa", "identifier": IDENTIFIERS[0]}]},
    {"subproblems": [{"identifier": {"type": 1}}]},
    {"subproblems": {}},
]
CHALLENGES = [
    {"type": "http-01", "url": "https://ca.example/c/1", "status": "pending", "token": TOKENS[0]},
    {"type": "dns-01", "url": "https://ca.example/c/2", "token": TOKENS[1], "error": PROBLEMS[0]},
    {"type": "future-01", "url": "https://ca.example/c/3", "anything": [1, {"x": None}]},
    {"type": "http-01", "url": "https://ca.example/c/4", "token": "short"},
    {"type": "dns-01", "token": TOKENS[0], "validated": "yesterday"},
    {"url": "https://ca.example/c/5"},
    {"type": "tls-alpn-01", "token": TOKENS[1], "error": PROBLEMS[2]},
]
AUTHORIZATIONS = [
    {"identifier": IDENTIFIERS[0], "status": "pending", "challenges": CHALLENGES[:3]},
    {"identifier": IDENTIFIERS[1], "status": "valid", "expires": "2025-01-01T00:00:00Z"},
    {"challenges": CHALLENGES[3:5], "combinations": [[0, 1]]},
    {"challenges": CHALLENGES[:1], "combinations": [[3]]},
    {"identifier": IDENTIFIERS[3], "wildcard": "yes"},
]
ORDERS = [
    {"status": "pending", "identifiers": IDENTIFIERS[:2], "finalize": "https://ca.example/f"},
    {"status": "invalid", "error": PROBLEMS[3], "expires": "2016-01-20T14:09:07.99Z"},
    {"identifiers": IDENTIFIERS[3:], "notBefore": "2016-13-01T00:00:00Z"},
    {"authorizations": [1, 2], "profile": None},
]
REGISTRATIONS = [
    {"status": "valid", "contact": ["mailto:a@example.org"], "orders": "https://ca.example/o"},
    {"key": PUBLIC_JWK, "termsOfServiceAgreed": True},
    {"key": {"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"}},
    {"contact": "mailto:a@example.org"},
]
WINDOWS = [
    {"start": "2025-01-02T04:00:00Z", "end": "2025-01-03T04:00:00Z"},
    {"start": "2025-01-03T04:00:00Z", "end": "2025-01-02T04:00:00Z"},
    {"start": "2025-01-02T04:00:00Z"},
]
B64 = st.sampled_from(["AQAB", "", "!!", "AA", "AAAA", PUBLIC_JWK["x"], PUBLIC_JWK["y"]]) | TEXT


def pool(examples: list[Any]) -> st.SearchStrategy[Any]:
    """One of ``examples``."""
    return st.sampled_from(examples)


def pool_list(examples: list[Any]) -> st.SearchStrategy[list[Any]]:
    """An array of ``examples``."""
    return st.lists(st.sampled_from(examples), max_size=3)


IDENTIFIER = shaped({"type": ID_TYPE, "value": TEXT})
PROBLEM = shaped(
    {
        "type": ERROR_TYPE,
        "title": TEXT,
        "detail": TEXT,
        "identifier": IDENTIFIER,
        "instance": URL,
        "status": st.integers(400, 599),
        "subproblems": pool_list(PROBLEMS),
    }
)
CHALLENGE = shaped(
    {
        "type": CHALL_TYPE,
        "url": URL,
        "status": STATUS,
        "token": TOKEN,
        "validated": TIMESTAMP,
        "error": pool(PROBLEMS),
    }
)
AUTHORIZATION = shaped(
    {
        "identifier": pool(IDENTIFIERS),
        "status": STATUS,
        "expires": TIMESTAMP,
        "challenges": pool_list(CHALLENGES),
        "wildcard": st.booleans(),
        "combinations": st.lists(st.lists(st.integers(-1, 3), max_size=2), max_size=2),
    }
)
JWK_JSON = st.just(PUBLIC_JWK) | shaped(
    {
        "kty": st.sampled_from(["RSA", "EC", "oct", "OKP"]),
        "n": B64,
        "e": B64,
        "crv": st.sampled_from(["P-256", "P-384", "P-999"]),
        "x": B64,
        "y": B64,
        "k": B64,
    }
)
REGISTRATION = shaped(
    {
        "key": JWK_JSON,
        "contact": st.lists(st.sampled_from(["mailto:a@example.org", "tel:+1"]) | TEXT, max_size=2),
        "agreement": URL,
        "status": STATUS,
        "termsOfServiceAgreed": st.booleans(),
        "onlyReturnExisting": st.booleans(),
        "externalAccountBinding": shaped({"protected": TEXT, "payload": TEXT, "signature": TEXT}),
        "orders": URL,
    }
)
ORDER = shaped(
    {
        "identifiers": pool_list(IDENTIFIERS),
        "status": STATUS,
        "authorizations": st.lists(URL, max_size=2),
        "certificate": URL,
        "finalize": URL,
        "expires": TIMESTAMP,
        "error": pool(PROBLEMS),
        "profile": TEXT,
        "replaces": TEXT,
        "notBefore": TIMESTAMP,
        "notAfter": TIMESTAMP,
    }
)
META = shaped(
    {
        "termsOfService": URL,
        "website": URL,
        "caaIdentities": st.lists(TEXT, max_size=2),
        "externalAccountRequired": st.booleans(),
        "profiles": st.dictionaries(TEXT, TEXT, max_size=2),
    }
)
DIRECTORY = shaped(
    {
        **{
            key: URL
            for key in ("newNonce", "newAccount", "newOrder", "newAuthz", "revokeCert", "keyChange")
        },
        "renewalInfo": URL,
        "meta": st.sampled_from([{}, {"termsOfService": "https://t"}, {"profiles": []}]),
    }
)
WINDOW = shaped({"start": TIMESTAMP, "end": TIMESTAMP})
AUTHZR = [{"body": body, "uri": "https://ca.example/a"} for body in AUTHORIZATIONS[:2]] + [
    {"body": AUTHORIZATIONS[3], "uri": "https://ca.example/a"},
    {"body": AUTHORIZATIONS[0]},
]

SHAPES: dict[Any, st.SearchStrategy[Any]] = {
    messages.Status: STATUS,
    messages.IdentifierType: ID_TYPE,
    messages.Identifier: IDENTIFIER,
    messages.Error: PROBLEM,
    messages.Directory: DIRECTORY,
    messages.Directory.Meta: META,
    messages.ResourceBody: shaped({}),
    messages.Resource: shaped({"body": ANY_JSON}),
    messages.ResourceWithURI: shaped({"body": ANY_JSON, "uri": URL}),
    messages.Registration: REGISTRATION,
    messages.NewRegistration: REGISTRATION,
    messages.UpdateRegistration: REGISTRATION,
    messages.RegistrationResource: shaped(
        {"body": pool(REGISTRATIONS), "uri": URL, "terms_of_service": URL}
    ),
    messages.ChallengeBody: CHALLENGE,
    messages.ChallengeResource: shaped({"body": pool(CHALLENGES), "authzr_uri": URL}),
    messages.Authorization: AUTHORIZATION,
    messages.NewAuthorization: AUTHORIZATION,
    messages.UpdateAuthorization: AUTHORIZATION,
    messages.AuthorizationResource: shaped({"body": pool(AUTHORIZATIONS), "uri": URL}),
    messages.Order: ORDER,
    messages.NewOrder: ORDER,
    messages.OrderResource: shaped(
        {
            "body": pool(ORDERS),
            "uri": URL,
            "csr_pem": TEXT,
            "authorizations": pool_list(AUTHZR),
            "fullchain_pem": TEXT,
            "alternative_fullchains_pem": st.lists(TEXT, max_size=2),
        }
    ),
    messages.CertificateRequest: shaped({"csr": CSR}),
    messages.CertificateResource: shaped(
        {"body": CERT, "uri": URL, "cert_chain_uri": URL, "authzrs": pool_list(AUTHZR)}
    ),
    messages.Revocation: shaped({"certificate": CERT, "reason": st.integers(-1, 11)}),
    messages.RenewalInfo: shaped({"suggestedWindow": pool(WINDOWS), "explanationURL": URL}),
    messages.RenewalInfo.SuggestedWindow: WINDOW,
}

ALLOWED = (jose_errors.DeserializationError, errors.Error)


def test_every_public_message_class_is_fuzzed() -> None:
    decodable = {
        value
        for name in messages.__all__
        if isinstance(value := getattr(messages, name), type) and hasattr(value, "from_json")
    }
    assert decodable <= set(SHAPES)
    assert len(decodable) >= 25


def check(cls: Any, jobj: Any) -> None:
    """``cls.from_json(jobj)`` decodes or raises an allowed error; what decodes round-trips."""
    try:
        obj = cls.from_json(jobj)
    except ALLOWED as error:
        if not str(error):
            raise AssertionError(f"{cls.__qualname__}: empty error message") from error
        return
    hash(obj)
    dumped = obj.json_dumps(sort_keys=True)
    again = cls.from_json(json.loads(dumped))
    assert again.json_dumps(sort_keys=True) == dumped


def test_from_json_raises_only_deserialization_errors() -> None:
    # One Hypothesis example draws one arbitrary JSON value, given to every class, and one value
    # shaped like each class, given to that class: every class sees 2 values per example, and
    # Hypothesis' per-example cost is shared (the whole property runs in well under a minute).
    classes = list(SHAPES)
    checked = dict.fromkeys(classes, 0)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(anything=ANY_JSON, shaped=st.tuples(*(SHAPES[cls] for cls in classes)))
    def prop(anything: Any, shaped: tuple[Any, ...]) -> None:
        for cls, own in zip(classes, shaped, strict=True):
            for jobj in (own, anything):
                try:
                    check(cls, jobj)
                except Exception as error:
                    raise AssertionError(
                        f"{cls.__qualname__}.from_json({jobj!r:.300}) raised {error!r:.300}"
                    ) from error
                checked[cls] += 1

    prop()
    assert min(checked.values()) >= EXAMPLES, checked  # 2 per example: at least 2,000 each


def _nested(depth: int, leaf: Any, wrap: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = wrap(value)
    return value


@pytest.mark.parametrize(
    ("cls", "jobj"),
    [
        (messages.Error, _nested(5000, {}, lambda inner: {"subproblems": [inner]})),
        (messages.Error, {"extension": _nested(5000, 1, lambda inner: [inner])}),
        (messages.Directory, {"future": _nested(5000, 1, lambda inner: {"k": inner})}),
        (messages.Directory.Meta, {"future": _nested(5000, 1, lambda inner: [inner])}),
        (
            messages.Order,
            {"error": _nested(5000, {}, lambda inner: {"subproblems": [inner]})},
        ),
        (
            messages.Registration,
            {"externalAccountBinding": _nested(5000, 1, lambda inner: {"p": inner})},
        ),
    ],
    ids=["error-subproblems", "error-extension", "directory", "meta", "order", "eab"],
)
def test_deep_nesting_is_a_deserialization_error(cls: Any, jobj: Any) -> None:
    # Deeper than the interpreter's recursion limit: refused cleanly, not a RecursionError.
    with pytest.raises(jose_errors.DeserializationError):
        cls.from_json(jobj)


def test_check_catches_raw_exceptions() -> None:
    # Control: the property's checker does fail on the exceptions it is meant to catch, and
    # on a decoded object that does not survive a round trip.
    class Broken:
        @classmethod
        def from_json(cls, jobj: Any) -> Any:
            return jobj["missing"]

    with pytest.raises(KeyError):
        check(Broken, {})
    with pytest.raises(TypeError):
        check(Broken, 5)

    class Unstable:
        calls = 0

        @classmethod
        def from_json(cls, jobj: Any) -> Any:
            cls.calls += 1
            return messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=str(cls.calls))

    with pytest.raises(AssertionError):
        check(Unstable, {})
