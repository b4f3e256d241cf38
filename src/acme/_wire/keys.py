"""Account key type -> JWS signature algorithm (RFC 7518 section 3.1), in one place.

The client picks the algorithm for its key here, and the test CA checks here that a JWS's
``alg`` fits the key that signed it.
"""

from __future__ import annotations

from collections.abc import Mapping

from josepy import jwa, jwk

from acme import errors

__all__ = ["EC_ALGORITHMS", "alg_for_key"]

#: The ECDSA algorithm for each curve (RFC 7518 section 3.4): the curve fixes the hash.
EC_ALGORITHMS: Mapping[str, jwa.JWASignature] = {
    "secp256r1": jwa.ES256,
    "secp384r1": jwa.ES384,
    "secp521r1": jwa.ES512,
}


def alg_for_key(key: jwk.JWK) -> jwa.JWASignature:
    """The usual JWS algorithm for an account key: RS256 for RSA, ES256/384/512 for EC."""
    if isinstance(key, jwk.JWKRSA):
        return jwa.RS256
    if isinstance(key, jwk.JWKEC):
        curve = getattr(key.key, "curve", None)
        alg = EC_ALGORITHMS.get(getattr(curve, "name", ""))
        if alg is not None:
            return alg
    raise errors.ClientError(f"Unsupported account key type {type(key).__name__}")
