"""Tests for acme.challenges: key authorizations, token rules, JSON shapes, type dispatch."""

from __future__ import annotations

import base64
import copy
import hashlib
import pickle
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import errors as jose_errors
from josepy import jwa, jwk

from acme import challenges, errors

# RFC 7638 section 3.1 example key and its SHA-256 thumbprint.
_RFC7638_JWK = jwk.JWK.from_json(
    {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
        "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
        "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-b"
        "FTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
    }
)
assert isinstance(_RFC7638_JWK, jwk.JWK)
RFC7638_KEY: jwk.JWK = _RFC7638_JWK
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# Tokens from the RFC 8555 section 8.3 and 8.4 examples.
HTTP_TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
DNS_TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _http01(token: str = HTTP_TOKEN) -> challenges.HTTP01:
    chall = challenges.Challenge.from_json({"type": "http-01", "token": token})
    assert isinstance(chall, challenges.HTTP01)
    return chall


def _dns01(token: str = DNS_TOKEN) -> challenges.DNS01:
    chall = challenges.Challenge.from_json({"type": "dns-01", "token": token})
    assert isinstance(chall, challenges.DNS01)
    return chall


@pytest.fixture(scope="module")
def account_key() -> jwk.JWK:
    return jwk.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


def test_exported_names() -> None:
    for name in challenges.__all__:
        assert hasattr(challenges, name), name
    assert "KeyAuthorizationChallenge" in challenges.__all__
    assert "_TokenChallenge" not in challenges.__all__


def test_key_authorization_matches_rfc7638_vector() -> None:
    chall = _http01()
    assert chall.key_authorization(RFC7638_KEY) == f"{HTTP_TOKEN}.{RFC7638_THUMBPRINT}"


def test_key_authorization_uses_public_part_of_private_key(account_key: jwk.JWK) -> None:
    chall = _http01()
    public = account_key.public_key()
    assert chall.key_authorization(account_key) == chall.key_authorization(public)
    # Negative control: another key gives another key authorization.
    assert chall.key_authorization(account_key) != chall.key_authorization(RFC7638_KEY)


def test_key_authorization_with_ec_key() -> None:
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    public = key.public_key().to_json()
    # RFC 7638 section 3.2: required members in lexicographic order, no whitespace.
    canonical = (
        f'{{"crv":"{public["crv"]}","kty":"EC","x":"{public["x"]}","y":"{public["y"]}"}}'
    ).encode()
    expected = f"{DNS_TOKEN}.{_b64url(hashlib.sha256(canonical).digest())}"
    assert _dns01().key_authorization(key) == expected


def test_key_authorization_refuses_non_jwk() -> None:
    with pytest.raises(errors.Error, match="JWK"):
        _http01().key_authorization("not a key")  # type: ignore[arg-type]


class _ThumbprintOnly:
    """Not a JWK, but has its thumbprint(): acme 5.x accepts such a key (certbot's tests)."""

    def __init__(self, digest: bytes) -> None:
        self.digest = digest
        self.hash_functions: list[object] = []

    def thumbprint(self, hash_function: object) -> bytes:
        self.hash_functions.append(hash_function)
        return self.digest


def test_key_authorization_duck_types_the_account_key() -> None:
    key = _ThumbprintOnly(b"foobarbaz")
    assert _http01().key_authorization(key) == f"{HTTP_TOKEN}.{_b64url(b'foobarbaz')}"  # type: ignore[arg-type]
    assert key.hash_functions == [hashes.SHA256]
    with pytest.raises(errors.Error, match="thumbprint"):
        _http01().key_authorization(_ThumbprintOnly("text"))  # type: ignore[arg-type]


def test_thumbprint_hash_function_and_token_size() -> None:
    # acme 5.x class attributes: the RFC 7638 hash of key authorizations (RFC 8555 section
    # 8.1) and the token size in bytes (128 bits, RFC 8555 section 11.3).
    assert challenges.KeyAuthorizationChallenge.thumbprint_hash_function is hashes.SHA256
    assert challenges.KeyAuthorizationChallengeResponse.thumbprint_hash_function is hashes.SHA256
    for cls in (challenges.HTTP01, challenges.DNS01, challenges.TLSALPN01, challenges.DNS):
        assert cls.TOKEN_SIZE == 16

    class SHA512HTTP01(challenges.HTTP01):
        thumbprint_hash_function = hashes.SHA512

    chall = SHA512HTTP01(token=_http01().token)
    key = _ThumbprintOnly(b"x")
    chall.key_authorization(key)  # type: ignore[arg-type]
    assert key.hash_functions == [hashes.SHA512]


def test_dns01_validation_is_b64url_sha256_of_key_authorization() -> None:
    key_authz = f"{DNS_TOKEN}.{RFC7638_THUMBPRINT}"
    expected = _b64url(hashlib.sha256(key_authz.encode()).digest())
    value = _dns01().validation(RFC7638_KEY)
    assert value == expected
    assert "=" not in value
    assert len(value) == 43


def test_dns01_validation_domain_name() -> None:
    chall = _dns01()
    assert challenges.DNS01.LABEL == "_acme-challenge"
    assert chall.validation_domain_name("example.com") == "_acme-challenge.example.com"
    # A wildcard is validated on its base domain (RFC 8555 section 7.1.3).
    assert chall.validation_domain_name("*.example.com") == "_acme-challenge.example.com"
    assert chall.validation_domain_name("a.*.example.com") == "_acme-challenge.a.*.example.com"


def test_http01_path_uri_and_validation() -> None:
    chall = _http01()
    assert challenges.HTTP01.URI_ROOT_PATH == ".well-known/acme-challenge"
    assert chall.path == f"/.well-known/acme-challenge/{HTTP_TOKEN}"
    assert chall.uri("example.com") == f"http://example.com/.well-known/acme-challenge/{HTTP_TOKEN}"
    # acme 5.x names the argument identifier; acme 1.x named it domain.
    expected = f"http://example.com/.well-known/acme-challenge/{HTTP_TOKEN}"
    assert chall.uri(identifier="example.com") == expected
    assert chall.uri(domain="example.com") == expected
    with pytest.raises(errors.Error):
        chall.uri("example.com", domain="example.org")
    assert chall.uri("192.0.2.7") == f"http://192.0.2.7/.well-known/acme-challenge/{HTTP_TOKEN}"
    assert (
        chall.uri("2001:db8::1") == f"http://[2001:db8::1]/.well-known/acme-challenge/{HTTP_TOKEN}"
    )
    assert chall.validation(RFC7638_KEY) == f"{HTTP_TOKEN}.{RFC7638_THUMBPRINT}"
    assert challenges.HTTP01Response.PORT == 80
    assert challenges.HTTP01Response.WHITESPACE_CUTSET == "\n\r\t "


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX+", "base64url"),  # "+" is base64, not url
        ("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX/", "base64url"),
        ("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX!", "base64url"),
        ("LoqXcYV8q5ONbJQx bmR7SCTNo3tiAXDfowyjxAjEuX0", "base64url"),
        ("../../etc/passwdAAAAAAAAAAAAAAAAAAAAAA", "base64url"),
        ("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0=", "padding"),
        ("AAAAAAAAAAAAAAAAAAAAA==", "padding"),
        ("AAAAAAAAAAAAAAAAAAAA", "128 bits"),  # 15 bytes
        ("", "base64url"),
        ("AAAAAAAAAAAAAAAAAAAAAB", "canonical"),  # stray low bits after 16 bytes
    ],
)
def test_token_refused(token: str, reason: str) -> None:
    with pytest.raises(jose_errors.DeserializationError, match=reason):
        challenges.Challenge.from_json({"type": "http-01", "token": token})


@pytest.mark.parametrize("token", [None, 42, ["x"], {"a": "b"}])
def test_non_string_token_refused(token: object) -> None:
    with pytest.raises(jose_errors.DeserializationError, match="string"):
        challenges.Challenge.from_json({"type": "dns-01", "token": token})


def test_minimum_token_accepted() -> None:
    # Positive control for the refusals: exactly 16 bytes (128 bits) is enough.
    token = _b64url(bytes(range(16)))
    chall = challenges.Challenge.from_json({"type": "tls-alpn-01", "token": token})
    assert isinstance(chall, challenges.TLSALPN01)
    assert chall.token == bytes(range(16))
    assert chall.good_token
    assert not challenges.HTTP01(token=b"short").good_token


def test_missing_token_refused() -> None:
    with pytest.raises(jose_errors.DeserializationError, match="token"):
        challenges.Challenge.from_json({"type": "http-01"})


def test_challenge_json_round_trip_and_dispatch() -> None:
    jobj = {
        "type": "http-01",
        "url": "https://example.com/acme/chall/prV_B7yEyA4",
        "status": "pending",
        "token": HTTP_TOKEN,
    }
    chall = challenges.Challenge.from_json(jobj)
    assert type(chall) is challenges.HTTP01
    # Only the challenge's own fields are kept; url/status belong to messages.ChallengeBody.
    assert chall.to_json() == {"type": "http-01", "token": HTTP_TOKEN}
    assert challenges.HTTP01.from_json(jobj) == chall
    for typ, cls in [
        ("dns-01", challenges.DNS01),
        ("tls-alpn-01", challenges.TLSALPN01),
        ("http-01", challenges.HTTP01),
    ]:
        assert challenges.Challenge.TYPES[typ] is cls
        assert type(challenges.Challenge.from_json({"type": typ, "token": DNS_TOKEN})) is cls


def test_subclass_from_json_refuses_other_type() -> None:
    with pytest.raises(jose_errors.DeserializationError, match="dns-01"):
        challenges.HTTP01.from_json({"type": "dns-01", "token": HTTP_TOKEN})
    with pytest.raises(jose_errors.DeserializationError):
        challenges.KeyAuthorizationChallenge.from_json({"type": "foo-01", "token": HTTP_TOKEN})


@pytest.mark.parametrize("jobj", [[], "http-01", None, {"token": HTTP_TOKEN}, {"type": 7}])
def test_malformed_challenge_refused(jobj: object) -> None:
    with pytest.raises(jose_errors.DeserializationError):
        challenges.Challenge.from_json(jobj)  # type: ignore[arg-type]


def test_challenges_of_different_types_are_not_equal() -> None:
    http = _http01(DNS_TOKEN)
    dns = _dns01(DNS_TOKEN)
    assert http.token == dns.token
    assert http != dns
    assert http == _http01(DNS_TOKEN)
    assert hash(http) == hash(_http01(DNS_TOKEN))


def test_unrecognized_challenge_keeps_json() -> None:
    jobj = {
        "type": "example-unknown-01",
        "url": "https://example.com/acme/chall/1",
        "status": "pending",
        "token": "not checked here",
        "nested": {"list": [1, 2, {"x": None}]},
    }
    chall = challenges.Challenge.from_json(jobj)
    assert isinstance(chall, challenges.UnrecognizedChallenge)
    assert chall.jobj == jobj
    assert chall.to_json() == jobj
    assert challenges.Challenge.from_json(chall.to_json()) == chall
    assert chall.json_dumps(sort_keys=True) == challenges.UnrecognizedChallenge(jobj).json_dumps(
        sort_keys=True
    )
    # The challenge is immutable: changing the input or the output does not change it.
    jobj["nested"]["list"].append(3)  # type: ignore[index]
    chall.to_json()["status"] = "valid"
    assert chall.jobj["nested"]["list"] == [1, 2, {"x": None}]
    assert chall.jobj["status"] == "pending"
    assert hash(chall) == hash(challenges.UnrecognizedChallenge(chall.jobj))
    assert chall != challenges.UnrecognizedChallenge({**chall.jobj, "status": "valid"})


def test_response_json_is_empty_object(account_key: jwk.JWK) -> None:
    for chall in (_http01(), _dns01(), challenges.TLSALPN01(token=_http01().token)):
        response = chall.response(account_key)
        assert isinstance(response, chall.response_cls)
        assert response.key_authorization == chall.key_authorization(account_key)
        # RFC 8555 section 7.5.1: the POSTed payload is exactly {}, without "type".
        assert response.to_partial_json() == {}
        assert response.to_json() == {}
        assert response.json_dumps() == "{}"


@pytest.mark.parametrize(
    "cls",
    [
        challenges.HTTP01Response,
        challenges.DNS01Response,
        challenges.TLSALPN01Response,
        challenges.KeyAuthorizationChallengeResponse,
    ],
)
def test_response_from_empty_object(
    cls: type[challenges.KeyAuthorizationChallengeResponse],
) -> None:
    response = cls.from_json({})
    assert type(response) is cls
    assert response.key_authorization is None


def test_response_from_json_dispatch() -> None:
    generic = challenges.ChallengeResponse.from_json({})
    assert type(generic) is challenges.KeyAuthorizationChallengeResponse
    typed = challenges.ChallengeResponse.from_json({"type": "dns-01", "keyAuthorization": "a.b"})
    assert type(typed) is challenges.DNS01Response
    assert typed.key_authorization == "a.b"
    with pytest.raises(jose_errors.UnrecognizedTypeError):
        challenges.ChallengeResponse.from_json({"type": "nope-01"})
    with pytest.raises(jose_errors.DeserializationError, match="http-01"):
        challenges.DNS01Response.from_json({"type": "http-01"})
    with pytest.raises(jose_errors.DeserializationError):
        challenges.ChallengeResponse.from_json(["not", "an", "object"])  # type: ignore[arg-type]


def test_response_verify(account_key: jwk.JWK) -> None:
    chall = _http01()
    response = chall.response(account_key)
    assert response.verify(chall, account_key.public_key())
    # Negative controls: other account key, other token, no key authorization.
    assert not response.verify(chall, RFC7638_KEY)
    assert not response.verify(_http01(DNS_TOKEN), account_key.public_key())
    assert not challenges.HTTP01Response(key_authorization=None).verify(chall, account_key)
    assert not challenges.HTTP01Response(key_authorization="garbage").verify(chall, account_key)


def test_response_verify_duck_types_challenge_and_key() -> None:
    # acme 5.x: the challenge only needs josepy's encode("token"), the key its thumbprint().
    class TokenOnly:
        def encode(self, name: str) -> str:
            assert name == "token"
            return "foo"

    good = challenges.KeyAuthorizationChallengeResponse(key_authorization=f"foo.{_b64url(b'tp')}")
    assert good.verify(TokenOnly(), _ThumbprintOnly(b"tp"))  # type: ignore[arg-type]
    assert not good.verify(TokenOnly(), _ThumbprintOnly(b"other"))  # type: ignore[arg-type]
    wrong_form = challenges.KeyAuthorizationChallengeResponse(
        key_authorization=f".foo.{_b64url(b'tp')}"
    )
    assert not wrong_form.verify(TokenOnly(), _ThumbprintOnly(b"tp"))  # type: ignore[arg-type]
    with pytest.raises(errors.Error, match="token"):
        good.verify(object(), _ThumbprintOnly(b"tp"))  # type: ignore[arg-type]


def test_response_and_validation(account_key: jwk.JWK) -> None:
    chall = _dns01()
    response, validation = chall.response_and_validation(account_key)
    assert response == chall.response(account_key)
    assert validation == chall.validation(account_key)


def test_tls_alpn01_constants() -> None:
    response = challenges.TLSALPN01Response(key_authorization=f"{HTTP_TOKEN}.{RFC7638_THUMBPRINT}")
    assert challenges.TLSALPN01Response.PORT == 443
    assert challenges.TLSALPN01Response.ACME_TLS_1_PROTOCOL == "acme-tls/1"
    assert challenges.TLSALPN01Response.ID_PE_ACME_IDENTIFIER_V1.dotted_string == (
        "1.3.6.1.5.5.7.1.31"
    )
    assert response.h == hashlib.sha256(f"{HTTP_TOKEN}.{RFC7638_THUMBPRINT}".encode()).digest()
    assert challenges.TLSALPN01.is_supported() is True
    with pytest.raises(errors.Error, match="key authorization"):
        _ = challenges.TLSALPN01Response(key_authorization=None).h


def test_tls_alpn01_validation_needs_domain(account_key: jwk.JWK) -> None:
    with pytest.raises(errors.Error, match="domain"):
        challenges.TLSALPN01(token=_http01().token).validation(account_key)


def test_legacy_dns_challenge_warns_and_validates(account_key: jwk.JWK) -> None:
    with pytest.warns(DeprecationWarning, match="pre-RFC 8555"):
        chall = challenges.DNS(token=_http01().token)
    with pytest.warns(DeprecationWarning, match="pre-RFC 8555"):
        other = challenges.DNS(token=_dns01().token)
    assert chall.validation_domain_name("example.com") == "_acme-challenge.example.com"
    with pytest.warns(DeprecationWarning, match="pre-RFC 8555"):
        response = chall.gen_response(account_key, alg=jwa.RS256)
    assert isinstance(response, challenges.DNSResponse)
    assert response.check_validation(chall, account_key.public_key())
    # Negative controls: the wrong key, and a different challenge.
    assert not response.check_validation(chall, RFC7638_KEY)
    assert not response.check_validation(other, account_key.public_key())
    # Sent as acme 5.x sends it: the validation only, no "type" (nor ACMEv1's "resource").
    jobj = response.to_json()
    assert list(jobj) == ["validation"]
    assert response.to_partial_json() == {"validation": response.validation}
    parsed = challenges.DNSResponse.from_json(jobj)  # parsing: no warning
    assert parsed == response
    assert parsed.check_validation(chall, account_key.public_key())
    # The pre-RFC form with "type" (and "resource") still parses, through the base class too.
    old_form = {"resource": "challenge", "type": "dns", **jobj}
    legacy = challenges.ChallengeResponse.from_json(old_form)
    assert isinstance(legacy, challenges.DNSResponse)
    assert legacy == response


def test_importing_challenges_does_not_warn() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import acme.challenges"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_pickle_and_deepcopy_round_trip(account_key: jwk.JWK) -> None:
    objects = [
        _http01(),
        _dns01(),
        challenges.Challenge.from_json({"type": "new-01", "data": [1, {"a": None}]}),
        _http01().response(account_key),
        challenges.ChallengeResponse.from_json({}),
    ]
    for obj in objects:
        restored = pickle.loads(pickle.dumps(obj))
        assert type(restored) is type(obj)
        assert restored == obj
        assert copy.deepcopy(obj) == obj


def test_non_string_key_authorization_refused() -> None:
    with pytest.raises(jose_errors.DeserializationError, match="keyAuthorization"):
        challenges.HTTP01Response.from_json({"type": "http-01", "keyAuthorization": 5})


def test_unrecognized_challenge_reports_its_own_type() -> None:
    chall = challenges.Challenge.from_json({"type": "future-01", "url": "https://x/c"})
    assert isinstance(chall, challenges.UnrecognizedChallenge)
    assert chall.typ == "future-01"


def test_legacy_dns_parsed_from_a_server_does_not_warn() -> None:
    """Deprecation warnings are for the caller's own use of legacy classes, not for JSON."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chall = challenges.Challenge.from_json({"type": "dns", "token": "DGyRejmCefe7v4NfDGDKfA"})
    assert isinstance(chall, challenges.DNS)
    with pytest.warns(DeprecationWarning, match="dns-01"):
        challenges.DNS(token=b"x" * 16)
