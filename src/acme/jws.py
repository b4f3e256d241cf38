"""ACME's JSON Web Signature profile (RFC 8555 section 6.2).

Every ACME request body is a flattened JWS whose protected header carries ``alg``, ``nonce``,
``url`` and exactly one of ``jwk`` (new accounts, revocation by certificate key) or ``kid`` (the
account URL). This module adds those header fields to josepy's JWS.
"""

from __future__ import annotations

import re
from typing import Any

from josepy import errors as jose_errors
from josepy import json_util, jwa, jwk
from josepy import jws as jose_jws

from acme import errors

__all__ = ["JWS", "Header", "Signature"]

# Every header field ACME uses is integrity protected (RFC 8555 section 6.2).
_PROTECTED = frozenset({"alg", "jwk", "kid", "nonce", "url"})


_NONCE = re.compile(r"[A-Za-z0-9_-]+\Z")


def _decode_nonce(value: Any) -> bytes:
    """Decode a nonce: non-empty base64url with no padding (RFC 8555 section 6.5.1)."""
    if not isinstance(value, str) or not _NONCE.match(value):
        raise jose_errors.DeserializationError(f"Invalid nonce {value!r:.80}: expected base64url")
    return json_util.decode_b64jose(value)


class Header(jose_jws.Header):
    """JOSE header with the ACME fields ``nonce`` (bytes), ``kid`` and ``url``.

    :ivar nonce: the anti-replay nonce, raw bytes (base64url in JSON, RFC 8555 section 6.5)
    :ivar kid: the account URL, when signing for an account (section 6.2)
    :ivar url: the URL the request is sent to (section 6.4)
    """

    # The nonce travels base64url encoded (RFC 8555 section 6.5.1) and is kept as raw bytes.
    nonce: bytes | None = json_util.field(
        "nonce",
        omitempty=True,
        encoder=json_util.encode_b64jose,
        decoder=_decode_nonce,
    )
    kid: str | None = json_util.field("kid", omitempty=True)
    url: str | None = json_util.field("url", omitempty=True)


class Signature(jose_jws.Signature):
    """JWS signature whose header class is the ACME `Header`.

    :ivar header: the unprotected `Header` (empty in ACME: every field is protected)
    """

    __slots__ = jose_jws.Signature._orig_slots
    header_cls = Header
    header: Header = json_util.field(
        "header", omitempty=True, default=header_cls(), decoder=header_cls.from_json
    )


class JWS(jose_jws.JWS):
    """ACME JWS: flattened serialization, one signature, everything protected."""

    __slots__ = jose_jws.JWS._orig_slots
    signature_cls = Signature

    @classmethod
    def sign(  # type: ignore[override]
        cls,
        payload: bytes,
        key: jwk.JWK,
        alg: jwa.JWASignature,
        nonce: bytes | None,
        url: str | None = None,
        kid: str | None = None,
    ) -> JWS:
        """Sign ``payload``; the header gets ``kid`` when given, otherwise the public ``jwk``."""
        if kid is not None and not kid:
            raise errors.Error("kid must be a non-empty account URL (or None to embed the jwk)")
        extra: dict[str, Any] = {"nonce": nonce, "url": url, "kid": kid}
        jws = super().sign(
            payload,
            key=key,
            alg=alg,
            protect=_PROTECTED,
            include_jwk=kid is None,
            **extra,
        )
        assert isinstance(jws, JWS)
        return jws
