"""The bare-bones limit: the least an ACME client can do to issue one certificate.

One `requests.Session` (keep-alive), JWS built by hand with josepy's ES256 (RFC 8555 section
6.2, RFC 7515 flattened JSON), nonces taken from every response, polling every 5 ms, no
checks beyond what the flow needs. Not a library: it is the yardstick every other figure is
divided by. Same adapter interface as the other clients (see worker.py).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import b64, jwa, jwk

POLL_INTERVAL = 0.005
DEADLINE = 60.0
JOSE = "application/jose+json"


class Client:
    """One account over one keep-alive session."""

    name = "bare-bones limit"

    def __init__(self, directory_url: str, ca_bundle: str, key: ec.EllipticCurvePrivateKey):
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = ca_bundle
        self.key = key
        self.jwk = jwk.JWKEC(key=key)
        self.kid: str | None = None
        self.nonces: list[str] = []
        self.lock = threading.Lock()
        self.directory: dict[str, str] = self.session.get(directory_url).json()

    def _nonce(self) -> str:
        with self.lock:
            if self.nonces:
                return self.nonces.pop()
        response = self.session.head(self.directory["newNonce"])
        return response.headers["Replay-Nonce"]

    def _post(self, url: str, payload: Any) -> requests.Response:
        """Sign and POST; ``payload`` None is POST-as-GET (section 6.3)."""
        for _ in range(3):
            protected: dict[str, Any] = {"alg": "ES256", "nonce": self._nonce(), "url": url}
            if self.kid is None:
                protected["jwk"] = self.jwk.public_key().to_partial_json()
            else:
                protected["kid"] = self.kid
            header = b64.b64encode(json.dumps(protected).encode()).decode()
            body = b"" if payload is None else json.dumps(payload).encode()
            encoded = b64.b64encode(body).decode()
            signature = jwa.ES256.sign(self.key, f"{header}.{encoded}".encode())
            jws = {
                "protected": header,
                "payload": encoded,
                "signature": b64.b64encode(signature).decode(),
            }
            response = self.session.post(url, data=json.dumps(jws), headers={"Content-Type": JOSE})
            nonce = response.headers.get("Replay-Nonce")
            if nonce:
                with self.lock:
                    self.nonces.append(nonce)
            if response.status_code == 400 and "badNonce" in response.text:
                continue
            if response.status_code >= 400:
                raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text[:300]}")
            return response
        raise RuntimeError(f"{url}: badNonce three times")

    def _poll(self, url: str, waiting: tuple[str, ...]) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE
        while True:
            obj: dict[str, Any] = self._post(url, None).json()
            if obj["status"] not in waiting:
                return obj
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} still {obj['status']} after {DEADLINE} s")
            time.sleep(POLL_INTERVAL)  # noqa: TID251 - a benchmark client, not the library

    def register(self) -> None:
        response = self._post(self.directory["newAccount"], {"termsOfServiceAgreed": True})
        self.kid = response.headers["Location"]

    def issue(self, names: list[str], csr_pem: bytes, csr_der: bytes) -> str:
        """Order, answer http-01, finalize, download: the full chain PEM."""
        ids = [{"type": "dns", "value": name} for name in names]
        response = self._post(self.directory["newOrder"], {"identifiers": ids})
        order_url = response.headers["Location"]
        order = response.json()
        for authz_url in order["authorizations"]:
            authz = self._post(authz_url, None).json()
            if authz["status"] == "valid":
                continue
            challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
            self._post(challenge["url"], {})
            authz = self._poll(authz_url, ("pending",))
            if authz["status"] != "valid":
                raise RuntimeError(f"authorization {authz_url} is {authz['status']}")
        self._post(order["finalize"], {"csr": b64.b64encode(csr_der).decode()})
        order = self._poll(order_url, ("ready", "processing"))
        if order["status"] != "valid":
            raise RuntimeError(f"order {order_url} is {order['status']}")
        return self._post(order["certificate"], None).text

    def close(self) -> None:
        self.session.close()
