"""Strict JWS checks of the test server (RFC 8555 sections 6.2, 7.3.4, 7.3.5).

Every function here takes decoded request data and either returns what it verified or raises
`Problem` naming the rule that was broken. Nothing here knows about accounts or URLs beyond
what it is given.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from josepy import errors as jose_errors
from josepy import jwa, jwk

from acme._wire.keys import EC_ALGORITHMS
from acme.testing._problems import Problem

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "ParsedJWS",
    "b64decode_strict",
    "parse_jwk",
    "parse_jws",
    "same_key",
    "signature_algorithm",
    "verify_eab",
    "verify_key_change",
    "verify_signature",
]

#: Signature algorithms the test server accepts (RFC 8555 section 6.2: ES256 is mandatory).
SUPPORTED_ALGORITHMS: Mapping[str, jwa.JWASignature] = {
    "RS256": jwa.RS256,
    "ES256": jwa.ES256,
    "ES384": jwa.ES384,
    "ES512": jwa.ES512,
}
_CURVES = {alg.name: curve for curve, alg in EC_ALGORITHMS.items()}
_MIN_RSA_BITS = 2048  # RFC 8555 section 6.2's badPublicKey example: a too-small modulus
# RFC 8555 section 7.3.4: the EAB JWS is MAC'ed with HMAC.
_MAC_ALGORITHMS: Mapping[str, jwa.JWASignature] = {
    "HS256": jwa.HS256,
    "HS384": jwa.HS384,
    "HS512": jwa.HS512,
}
_B64URL = re.compile(r"[A-Za-z0-9_-]*\Z")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def b64decode_strict(value: Any, what: str) -> bytes:
    """Decode unpadded base64url; padding or other characters are malformed (RFC 8555 6.1)."""
    if not isinstance(value, str) or not _B64URL.match(value) or len(value) % 4 == 1:
        raise Problem("malformed", f"{what} is not unpadded base64url")
    data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if base64.urlsafe_b64encode(data).decode("ascii").rstrip("=") != value:
        raise Problem("malformed", f"{what} is not canonical base64url")
    return data


@dataclasses.dataclass(frozen=True)
class ParsedJWS:
    """A flattened JWS, decoded but not yet verified."""

    protected: dict[str, Any]
    protected_b64: str
    payload_b64: str
    payload: bytes
    signature: bytes

    @property
    def signing_input(self) -> bytes:
        return f"{self.protected_b64}.{self.payload_b64}".encode("ascii")


def parse_jws(jobj: Any, what: str = "request body") -> ParsedJWS:
    """Decode a flattened JWS (RFC 8555 section 6.2: one signature, everything protected)."""
    if isinstance(jobj, (bytes, bytearray)):
        try:
            jobj = json.loads(jobj)
        except ValueError:
            raise Problem("malformed", f"The {what} is not JSON") from None
    if not isinstance(jobj, dict):
        raise Problem("malformed", f"The {what} must be a JWS object in flattened JSON form")
    if "signatures" in jobj:
        raise Problem("malformed", f"The {what} must use the flattened serialization")
    if "header" in jobj:
        raise Problem("malformed", f"The {what} must not have an unprotected header")
    missing = [name for name in ("protected", "payload", "signature") if name not in jobj]
    if missing:
        raise Problem("malformed", f"The {what} lacks {', '.join(missing)}")
    extra = set(jobj) - {"protected", "payload", "signature"}
    if extra:
        raise Problem("malformed", f"The {what} has unexpected members {sorted(extra)}")
    protected_bytes = b64decode_strict(jobj["protected"], f"The {what}'s protected header")
    try:
        protected = json.loads(protected_bytes)
    except ValueError:
        raise Problem("malformed", f"The {what}'s protected header is not JSON") from None
    if not isinstance(protected, dict):
        raise Problem("malformed", f"The {what}'s protected header is not a JSON object")
    if protected.get("b64", True) is not True:  # RFC 8555 section 6.2 forbids RFC 7797
        raise Problem("malformed", f"The {what} must not use the unencoded payload option")
    if "crit" in protected:
        raise Problem("malformed", f"The {what} has critical header parameters we do not know")
    return ParsedJWS(
        protected=protected,
        protected_b64=jobj["protected"],
        payload_b64=jobj["payload"],
        payload=b64decode_strict(jobj["payload"], f"The {what}'s payload"),
        signature=b64decode_strict(jobj["signature"], f"The {what}'s signature"),
    )


def signature_algorithm(protected: Mapping[str, Any]) -> tuple[str, jwa.JWASignature]:
    """The header's ``alg`` if we support it (RFC 8555 section 6.2: never none or a MAC)."""
    name = protected.get("alg")
    if not isinstance(name, str):
        raise Problem("malformed", 'The JWS protected header has no "alg"')
    alg = SUPPORTED_ALGORITHMS.get(name)
    if alg is None:
        raise Problem(
            "badSignatureAlgorithm",
            f"JWS algorithm {name[:40]!r} is not supported",
            extra={"algorithms": sorted(SUPPORTED_ALGORITHMS)},
        )
    return name, alg


def parse_jwk(jobj: Any, alg_name: str | None = None) -> jwk.JWK:
    """A public JWK the server accepts for ``alg_name`` (RFC 8555 section 6.2 badPublicKey)."""
    if not isinstance(jobj, dict):
        raise Problem("malformed", 'The "jwk" header must be a JSON object')
    if _PRIVATE_MEMBERS & set(jobj):
        raise Problem("badPublicKey", 'The "jwk" header contains private key material')
    if jobj.get("kty") not in ("RSA", "EC"):
        raise Problem("badPublicKey", f"Key type {str(jobj.get('kty'))[:20]!r} is not supported")
    if not all(isinstance(value, str) for value in jobj.values()):
        raise Problem("badPublicKey", "JWK members must be strings (RFC 7518 section 6)")
    try:
        key = jwk.JWK.from_json(jobj)
    except (
        jose_errors.Error,
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
        UnsupportedAlgorithm,
    ) as error:
        raise Problem("badPublicKey", f"The JWK is not a valid public key: {error}") from None
    if not isinstance(key, (jwk.JWKRSA, jwk.JWKEC)):
        raise Problem("badPublicKey", "Only RSA and EC keys are supported")
    if alg_name is not None:
        _check_key_fits(key, alg_name)
    return key


def _check_key_fits(key: jwk.JWK, alg_name: str) -> None:
    if alg_name == "RS256":
        if not isinstance(key, jwk.JWKRSA):
            raise Problem("badPublicKey", "RS256 needs an RSA key")
        if key.key.key_size < _MIN_RSA_BITS:
            raise Problem("badPublicKey", f"RSA keys must have at least {_MIN_RSA_BITS} bits")
        return
    if not isinstance(key, jwk.JWKEC) or key.key.curve.name != _CURVES[alg_name]:
        raise Problem("badPublicKey", f"{alg_name} needs an EC key on {_CURVES[alg_name]}")


def verify_signature(parsed: ParsedJWS, key: jwk.JWK, alg_name: str, what: str = "JWS") -> None:
    """Check the signature of ``parsed`` with ``key`` under ``alg_name``."""
    _check_key_fits(key, alg_name)
    alg = SUPPORTED_ALGORITHMS[alg_name]
    try:
        ok = alg.verify(key.key, parsed.signing_input, parsed.signature)
    except (jose_errors.Error, ValueError, TypeError):
        ok = False
    if not ok:
        raise Problem("malformed", f"The {what} signature does not verify")


def same_key(a: jwk.JWK, b: jwk.JWK) -> bool:
    """True if the two JWKs hold the same public key (RFC 7638 thumbprints)."""
    return hmac.compare_digest(a.public_key().thumbprint(), b.public_key().thumbprint())


def verify_eab(
    eab: Any, outer_url: str, account_key: jwk.JWK, mac_keys: Mapping[str, bytes]
) -> str:
    """Check an externalAccountBinding (RFC 8555 section 7.3.4 steps 1-5); return its kid."""
    parsed = parse_jws(eab, "externalAccountBinding")
    header = parsed.protected
    mac = _MAC_ALGORITHMS.get(str(header.get("alg")))
    if mac is None:
        raise Problem("malformed", "The externalAccountBinding must use HS256, HS384 or HS512")
    if "nonce" in header:
        raise Problem("malformed", 'The externalAccountBinding must not have a "nonce"')
    if "jwk" in header:
        raise Problem("malformed", 'The externalAccountBinding must use "kid", not "jwk"')
    if header.get("url") != outer_url:
        raise Problem("malformed", 'The externalAccountBinding "url" differs from the request')
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in mac_keys:
        raise Problem("unauthorized", f"Unknown external account key id {str(kid)[:80]!r}", 401)
    if not mac.verify(mac_keys[kid], parsed.signing_input, parsed.signature):
        raise Problem("unauthorized", "The externalAccountBinding MAC does not verify", 401)
    try:
        bound = json.loads(parsed.payload)
    except ValueError:
        raise Problem("malformed", "The externalAccountBinding payload is not a JWK") from None
    if not same_key(parse_jwk(bound), account_key):
        raise Problem("unauthorized", "The externalAccountBinding binds a different key", 401)
    return kid


def verify_key_change(payload: bytes, outer_url: str) -> tuple[jwk.JWK, str, jwk.JWK]:
    """RFC 8555 section 7.3.5 steps 2-6: the inner JWS; returns (new key, account, old key)."""
    parsed = parse_jws(payload, "keyChange inner JWS")
    header = parsed.protected
    if "jwk" not in header:
        raise Problem("malformed", 'The keyChange inner JWS must have a "jwk" header')
    if "kid" in header:
        raise Problem("malformed", 'The keyChange inner JWS must not have a "kid" header')
    if "nonce" in header:
        raise Problem("malformed", 'The keyChange inner JWS must not have a "nonce" header')
    alg_name, _ = signature_algorithm(header)
    new_key = parse_jwk(header["jwk"], alg_name)
    verify_signature(parsed, new_key, alg_name, "keyChange inner JWS")
    try:
        body = json.loads(parsed.payload)
    except ValueError:
        raise Problem("malformed", "The keyChange inner payload is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("account"), str):
        raise Problem("malformed", 'The keyChange object needs an "account" URL')
    if "oldKey" not in body:
        raise Problem("malformed", 'The keyChange object needs an "oldKey"')
    old_key = parse_jwk(body["oldKey"])
    if header.get("url") != outer_url:
        raise Problem("malformed", 'The inner and outer JWS "url" headers differ')
    return new_key, body["account"], old_key
