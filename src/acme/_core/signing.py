"""Request bodies as flattened JWS (RFC 8555 section 6.2, RFC 7515 section 7.2.2), built
directly from dicts.

Every request of a flow is signed, so this is a hot path: josepy's ``JWS.sign`` builds header,
signature and JWS objects and serializes them field by field, which cost about as much CPU as
the rest of the request. The bytes here are the same JWS (``acme.jws.JWS.json_loads`` reads and
verifies them): every header field protected, the nonce exactly as the server sent it
(section 6.5.2), ``kid`` or ``jwk`` but never both.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from josepy import jwa, jwk

from acme import errors

__all__ = ["sign_request"]

_COMPACT = (",", ":")


def _b64(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_request(
    payload: bytes,
    key: jwk.JWK,
    alg: jwa.JWASignature,
    nonce: str | None,
    url: str,
    kid: str | None,
) -> bytes:
    """The JSON body of a request signing ``payload`` for ``url``: signed for the account
    ``kid``, or with the public key embedded (``jwk``) when ``kid`` is None."""
    protected: dict[str, Any] = {"alg": alg.name}
    if kid is None:
        protected["jwk"] = key.public_key().to_partial_json()
    elif not kid:
        raise errors.Error("kid must be a non-empty account URL (or None to embed the jwk)")
    else:
        protected["kid"] = kid
    if nonce is not None:
        protected["nonce"] = nonce
    protected["url"] = url
    header = _b64(json.dumps(protected, separators=_COMPACT).encode())
    body = _b64(payload)
    signature = alg.sign(key.key, f"{header}.{body}".encode("ascii"))
    jws = {"protected": header, "payload": body, "signature": _b64(signature)}
    return json.dumps(jws, separators=_COMPACT).encode("ascii")
