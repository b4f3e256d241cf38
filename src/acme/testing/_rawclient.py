"""A deliberately minimal ACME requester for conformance tests of the test server.

It signs exactly what it is told with `acme.jws.JWS` and sends it through any
``send(HTTPRequest) -> HTTPResponse`` function (``core.handle`` or a real HTTPS session), so a
test can build a request that breaks one rule at a time. It is not a client: it never retries,
polls or checks anything.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from josepy import b64, json_util, jwa, jwk

from acme import jws
from acme._core.http import JOSE_CONTENT_TYPE, HTTPRequest, HTTPResponse
from acme._wire.keys import alg_for_key

__all__ = ["RawClient", "csr_b64"]


class RawClient:
    """Signs and sends raw ACME requests; remembers the last ``Replay-Nonce`` it saw."""

    def __init__(
        self,
        send: Callable[[HTTPRequest], HTTPResponse],
        directory_url: str,
        key: jwk.JWK,
    ) -> None:
        self.send = send
        self.key = key
        self.account_url: str | None = None
        self._nonce: str | None = None
        self.directory: dict[str, Any] = self.request("GET", directory_url).json()

    def request(
        self, method: str, url: str, body: bytes | None = None, **headers: str
    ) -> HTTPResponse:
        response = self.send(HTTPRequest(method, url, headers, body))
        self._nonce = response.headers.get("Replay-Nonce") or self._nonce
        return response

    def nonce(self) -> str:
        """A fresh nonce: the last one seen, else one from newNonce."""
        nonce, self._nonce = self._nonce, None
        if nonce is None:
            self.request("HEAD", self.directory["newNonce"])
            nonce, self._nonce = self._nonce, None
        assert nonce is not None, "the server sent no Replay-Nonce"
        return nonce

    def sign(
        self,
        url: str,
        payload: Any,
        *,
        key: jwk.JWK | None = None,
        kid: str | None = None,
        nonce: str | None = None,
        alg: jwa.JWASignature | None = None,
    ) -> bytes:
        """A flattened JWS; ``payload`` None is POST-as-GET, bytes are sent as they are."""
        key = key or self.key
        if payload is None:
            raw = b""
        elif isinstance(payload, bytes):
            raw = payload
        else:
            raw = json.dumps(payload).encode()
        signed = jws.JWS.sign(
            raw,
            key=key,
            alg=alg or alg_for_key(key),
            nonce=json_util.decode_b64jose(nonce or self.nonce()),
            url=url,
            kid=kid,
        )
        return signed.json_dumps().encode()

    def post(
        self,
        url: str,
        payload: Any = None,
        *,
        key: jwk.JWK | None = None,
        use_jwk: bool = False,
        content_type: str = JOSE_CONTENT_TYPE,
        **sign_options: Any,
    ) -> HTTPResponse:
        """POST ``payload`` signed with the account ``kid`` (or the ``jwk`` if asked)."""
        kid = None if use_jwk else sign_options.pop("kid", self.account_url)
        body = self.sign(url, payload, key=key, kid=kid, **sign_options)
        return self.request("POST", url, body, **{"Content-Type": content_type})

    def new_account(self, **fields: Any) -> HTTPResponse:
        payload = {"termsOfServiceAgreed": True, **fields}
        response = self.post(self.directory["newAccount"], payload, use_jwk=True)
        if response.status_code in (200, 201):
            self.account_url = response.headers["Location"]
        return response


def csr_b64(
    key: Any, dns_names: Sequence[str], ips: Sequence[str] = (), common_name: str | None = None
) -> str:
    """A CSR for the names signed by ``key`` (a ``cryptography`` private key), base64url DER."""
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return b64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode("ascii")
