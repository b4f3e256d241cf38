"""acme.jws: the ACME JWS profile (RFC 8555 section 6.2) on the wire.

Signatures are checked with ``cryptography`` directly, not with josepy's verifier, so a mistake
shared by josepy's signer and verifier cannot hide.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from josepy import b64, jwa, jwk
from josepy import errors as jose_errors

from acme import jws

URL = "https://acme.example.com/acme/new-order"
KID = "https://acme.example.com/acme/acct/evOfKhNU60wg"

# RFC 7638 section 3.1: the example RSA public key and its SHA-256 JWK thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKR"
    "XjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAt"
    "aSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPk"
    "sINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_E = "AQAB"
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# (alg, curve, hash, coordinate length in bytes) per RFC 7518 section 3.4 / 6.2.1.2.
EC_ALGS = [
    (jwa.ES256, ec.SECP256R1(), hashes.SHA256(), 32),
    (jwa.ES384, ec.SECP384R1(), hashes.SHA384(), 48),
    (jwa.ES512, ec.SECP521R1(), hashes.SHA512(), 66),
]

_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _b64int(value: str) -> int:
    return int.from_bytes(b64.b64decode(value), "big")


def _sign(payload: bytes, key: jwk.JWK, alg: Any, kid: str | None = None) -> dict[str, Any]:
    """Sign and return the flattened JSON serialization as it goes on the wire."""
    signed = jws.JWS.sign(payload, key, alg, nonce=b"\x01\x02\x03nonce", url=URL, kid=kid)
    wire = json.loads(signed.json_dumps())
    assert isinstance(wire, dict)
    return wire


def _protected(wire: dict[str, Any]) -> dict[str, Any]:
    header = json.loads(b64.b64decode(wire["protected"]))
    assert isinstance(header, dict)
    return header


def _signing_input(wire: dict[str, Any]) -> bytes:
    # RFC 7515 section 5.2: ASCII(BASE64URL(protected) || "." || BASE64URL(payload)).
    return f"{wire['protected']}.{wire['payload']}".encode("ascii")


def test_rfc7638_thumbprint_vector() -> None:
    public = rsa.RSAPublicNumbers(_b64int(RFC7638_E), _b64int(RFC7638_N)).public_key()
    key = jwk.JWKRSA(key=public)
    assert b64.b64encode(key.thumbprint()).decode() == RFC7638_THUMBPRINT
    # The JWK serialization reproduces the RFC's members exactly, so the thumbprint computed by
    # hand from RFC 7638 section 3 (required members, sorted, no whitespace) matches too.
    members = key.to_partial_json()
    assert (members["n"], members["e"], members["kty"]) == (RFC7638_N, RFC7638_E, "RSA")
    canonical = json.dumps(
        {"e": members["e"], "kty": "RSA", "n": members["n"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    assert b64.b64encode(digest).decode() == RFC7638_THUMBPRINT
    # Negative control: another modulus gives another thumbprint.
    other = jwk.JWKRSA(key=rsa.RSAPublicNumbers(65537, _b64int(RFC7638_N) + 2).public_key())
    assert b64.b64encode(other.thumbprint()).decode() != RFC7638_THUMBPRINT


@pytest.mark.parametrize(("alg", "curve", "hash_alg", "size"), EC_ALGS)
def test_ecdsa_signature_is_raw_r_s_and_verifies(
    alg: Any, curve: ec.EllipticCurve, hash_alg: hashes.HashAlgorithm, size: int
) -> None:
    private = ec.generate_private_key(curve)
    wire = _sign(b'{"hello": "world"}', jwk.JWKEC(key=private), alg)
    assert _protected(wire)["alg"] == alg.name
    signature = b64.b64decode(wire["signature"])
    # RFC 7518 section 3.4: R || S, each left-padded to the coordinate size; not DER.
    assert len(signature) == 2 * size
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    der = utils.encode_dss_signature(r, s)
    public = private.public_key()
    public.verify(der, _signing_input(wire), ec.ECDSA(hash_alg))

    tampered = dict(wire, payload=b64.b64encode(b'{"hello": "World"}').decode())
    with pytest.raises(InvalidSignature):
        public.verify(der, _signing_input(tampered), ec.ECDSA(hash_alg))
    other_url = dict(_protected(wire), url=URL + "x")
    tampered = dict(wire, protected=b64.b64encode(json.dumps(other_url).encode()).decode())
    with pytest.raises(InvalidSignature):
        public.verify(der, _signing_input(tampered), ec.ECDSA(hash_alg))


def test_rs256_verifies() -> None:
    wire = _sign(b'{"status": "deactivated"}', jwk.JWKRSA(key=_RSA_KEY), jwa.RS256, kid=KID)
    assert _protected(wire)["alg"] == "RS256"
    signature = b64.b64decode(wire["signature"])
    assert len(signature) == 256
    public = _RSA_KEY.public_key()
    public.verify(signature, _signing_input(wire), padding.PKCS1v15(), hashes.SHA256())
    tampered = dict(wire, payload=b64.b64encode(b'{"status": "valid"}').decode())
    with pytest.raises(InvalidSignature):
        public.verify(signature, _signing_input(tampered), padding.PKCS1v15(), hashes.SHA256())


def test_rsa_jwk_modulus_has_no_leading_zero() -> None:
    # RFC 7518 section 6.3.1.1: "n" is the unsigned big-endian value, no leading zero octet
    # (a signed encoding would prepend one, since a 2048-bit modulus has its top bit set).
    wire = _sign(b"{}", jwk.JWKRSA(key=_RSA_KEY), jwa.RS256)
    key_json = _protected(wire)["jwk"]
    modulus = b64.b64decode(key_json["n"])
    assert modulus[0] != 0
    assert len(modulus) == 256
    assert int.from_bytes(modulus, "big") == _RSA_KEY.public_key().public_numbers().n
    assert key_json["e"] == "AQAB"
    assert set(key_json) == {"kty", "n", "e"}  # public members only


@pytest.mark.parametrize(("alg", "curve", "hash_alg", "size"), EC_ALGS)
def test_ec_jwk_coordinates_are_full_length(
    alg: Any, curve: ec.EllipticCurve, hash_alg: hashes.HashAlgorithm, size: int
) -> None:
    # RFC 7518 section 6.2.1.2: x and y are the full coordinate size even when the integer
    # has leading zero octets. Find a key where that happens (about 1 in 128 keys for P-256,
    # 1 in 64 for P-384, 1 in 2 for P-521), within a bound that essentially never runs out.
    found = None
    for _ in range(5000):
        private = ec.generate_private_key(curve)
        numbers = private.public_key().public_numbers()
        if min(numbers.x.bit_length(), numbers.y.bit_length()) <= 8 * size - 8:
            found = private
            break
    assert found is not None, "no key with a short coordinate in 5000 tries"
    numbers = found.public_key().public_numbers()
    key_json = _protected(_sign(b"{}", jwk.JWKEC(key=found), alg))["jwk"]
    x, y = b64.b64decode(key_json["x"]), b64.b64decode(key_json["y"])
    assert (len(x), len(y)) == (size, size)
    assert x[0] == 0 or y[0] == 0
    assert (int.from_bytes(x, "big"), int.from_bytes(y, "big")) == (numbers.x, numbers.y)
    assert key_json["crv"] == {32: "P-256", 48: "P-384", 66: "P-521"}[size]
    assert "d" not in key_json


@pytest.mark.parametrize("length", range(7))
def test_no_base64_padding_anywhere(length: int) -> None:
    payload = secrets.token_bytes(length)
    nonce = secrets.token_bytes(16 + length)
    for key, alg in ((jwk.JWKRSA(key=_RSA_KEY), jwa.RS256), (jwk.JWKEC(key=_EC_KEY), jwa.ES256)):
        signed = jws.JWS.sign(payload, key, alg, nonce=nonce, url=URL)
        wire = json.loads(signed.json_dumps())
        assert set(wire) == {"protected", "payload", "signature"}
        for part in ("protected", "payload", "signature"):
            assert "=" not in wire[part], part
        assert "=" not in _protected(wire)["nonce"]
        assert b64.b64decode(wire["payload"]) == payload
    # Control: plain base64url of these payloads and of the 64- and 256-byte signatures pads.
    assert length % 3 == 0 or base64.urlsafe_b64encode(payload).endswith(b"=")
    assert base64.urlsafe_b64encode(bytes(64)).endswith(b"=")


def test_empty_payload_for_post_as_get() -> None:
    # RFC 8555 section 6.3: POST-as-GET has an empty payload, serialized as "".
    wire = _sign(b"", jwk.JWKEC(key=_EC_KEY), jwa.ES256, kid=KID)
    assert wire["payload"] == ""


def test_kid_replaces_jwk() -> None:
    key = jwk.JWKEC(key=_EC_KEY)
    with_kid = _sign(b"{}", key, jwa.ES256, kid=KID)
    header = _protected(with_kid)
    assert header["kid"] == KID
    assert "jwk" not in header
    assert set(header) == {"alg", "kid", "nonce", "url"}
    assert "header" not in with_kid  # nothing unprotected (RFC 8555 section 6.2)

    without_kid = _sign(b"{}", key, jwa.ES256)
    header = _protected(without_kid)
    assert "kid" not in header
    assert header["jwk"] == key.public_key().to_partial_json()
    assert set(header) == {"alg", "jwk", "nonce", "url"}
    assert "header" not in without_kid


def test_url_and_nonce_in_protected_header_and_round_trip() -> None:
    nonce = secrets.token_bytes(16)
    key = jwk.JWKEC(key=_EC_KEY)
    signed = jws.JWS.sign(b'{"a": 1}', key, jwa.ES256, nonce=nonce, url=URL, kid=KID)
    wire = json.loads(signed.json_dumps())
    header = _protected(wire)
    assert header["url"] == URL
    assert header["nonce"] == b64.b64encode(nonce).decode()

    parsed = jws.JWS.from_json(wire)
    assert isinstance(parsed, jws.JWS)
    combined = parsed.signature.combined
    assert isinstance(combined, jws.Header)
    assert combined.nonce == nonce
    assert isinstance(combined.nonce, bytes)
    assert combined.url == URL
    assert combined.kid == KID
    assert parsed.payload == b'{"a": 1}'
    assert parsed.verify(key.public_key())
    assert not parsed.verify(jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1())).public_key())


def test_embedded_jwk_verifies_after_round_trip() -> None:
    key = jwk.JWKRSA(key=_RSA_KEY)
    parsed = jws.JWS.from_json(_sign(b'{"csr": "x"}', key, jwa.RS256))
    assert parsed.signature.combined.jwk == key.public_key()
    assert parsed.verify()


# RFC 8555 section 6.5.1: Replay-Nonce = 1*base64url, base64url = ALPHA / DIGIT / "-" / "_".
@pytest.mark.parametrize(
    "bad_nonce",
    [
        "a",  # impossible length for base64
        "abc=",  # padded
        "ab+/",  # standard (not URL-safe) alphabet
        "!!!!",  # not base64 at all
        "ab cd",  # whitespace
        "",  # empty: at least one character is required
        123,  # not a string
        None,
    ],
)
def test_malformed_nonce_is_a_deserialization_error(bad_nonce: object) -> None:
    wire = _sign(b"{}", jwk.JWKEC(key=_EC_KEY), jwa.ES256, kid=KID)
    header = dict(_protected(wire), nonce=bad_nonce)
    wire["protected"] = b64.b64encode(json.dumps(header).encode()).decode()
    with pytest.raises(jose_errors.DeserializationError):
        jws.JWS.from_json(wire)


def test_well_formed_nonce_parses() -> None:
    # Control for the test above: the same construction with a valid nonce parses.
    wire = _sign(b"{}", jwk.JWKEC(key=_EC_KEY), jwa.ES256, kid=KID)
    header = dict(_protected(wire), nonce="ab-_CD09")
    wire["protected"] = b64.b64encode(json.dumps(header).encode()).decode()
    combined = jws.JWS.from_json(wire).signature.combined
    assert isinstance(combined, jws.Header)
    assert combined.nonce == b64.b64decode("ab-_CD09")


def test_no_nonce_for_key_change_inner_jws() -> None:
    # RFC 8555 section 7.3.5: the inner JWS of a key change has "jwk" and "url" but no "nonce".
    signed = jws.JWS.sign(b'{"account": "x"}', jwk.JWKEC(key=_EC_KEY), jwa.ES256, None, url=URL)
    header = _protected(json.loads(signed.json_dumps()))
    assert set(header) == {"alg", "jwk", "url"}
