"""Conformance of the test server: each RFC 8555 rule, broken by a hand-built request.

Every case builds one request twice: correctly (the negative control, which must succeed, so
the case proves that the *breakage* is what gets refused) and with exactly one rule broken,
which must be refused with the right status and problem type. Each case runs against the pure
core and, through the pytest plugin's fixture, against the HTTPS server.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import b64, jwa, jwk

from acme import messages
from acme._core.http import Headers, HTTPRequest, HTTPResponse
from acme._core.nonces import is_valid_nonce
from acme._wire.keys import alg_for_key
from acme._wire.renewal_id import certificate_identifier
from acme.testing import ACMEServerCore, ACMETestServer
from acme.testing._rawclient import RawClient, csr_b64

Send = Callable[[HTTPRequest], HTTPResponse]


@pytest.fixture(params=["core", "https"])
def send(
    request: pytest.FixtureRequest, acme_test_server_factory: Callable[..., ACMETestServer]
) -> Iterator[tuple[Send, str]]:
    """``(send, directory URL)`` for the pure core or a running HTTPS server."""
    if request.param == "core":
        core = ACMEServerCore("https://acme.test", rng=random.Random(5))
        yield core.handle, core.directory_url
        return
    server = acme_test_server_factory(always_valid=True)
    with requests.Session() as session:

        def over_https(req: HTTPRequest) -> HTTPResponse:
            raw = session.request(
                req.method,
                req.url,
                headers=dict(req.headers),
                data=req.body,
                verify=server.ca_bundle_path,
                allow_redirects=False,
                timeout=10,
            )
            return HTTPResponse(
                raw.status_code, Headers(list(raw.headers.items())), raw.content, req.url
            )

        yield over_https, server.directory_url


@dataclasses.dataclass
class Ctx:
    send: Send
    directory_url: str

    def client(self, key: jwk.JWK | None = None, register: bool = True) -> RawClient:
        client = RawClient(
            self.send,
            self.directory_url,
            key or jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1())),
        )
        if register:
            assert client.new_account().status_code == 201
        return client

    def order(
        self, client: RawClient, *names: str, ready: bool = True, **extra: Any
    ) -> dict[str, Any]:
        idents = [{"type": "dns", "value": name} for name in names or ("example.org",)]
        response = client.post(client.directory["newOrder"], {"identifiers": idents, **extra})
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()
        if ready:
            for authz_url in order["authorizations"]:
                chall = client.post(authz_url).json()["challenges"][0]
                assert client.post(chall["url"], {}).json()["status"] == "valid"
        return order

    def certificate(self, client: RawClient) -> str:
        order = self.order(client)
        key = ec.generate_private_key(ec.SECP256R1())
        done = client.post(order["finalize"], {"csr": csr_b64(key, ["example.org"])}).json()
        return client.post(done["certificate"]).text


def b64json(obj: Any) -> str:
    return b64.b64encode(json.dumps(obj).encode()).decode()


def raw_jws(
    protected: dict[str, Any], payload: bytes, key: jwk.JWK | None, alg: jwa.JWASignature | None
) -> bytes:
    """A flattened JWS with exactly the given protected header (signed by ``alg`` if given)."""
    p64, payload64 = b64json(protected), b64.b64encode(payload).decode()
    signature = alg.sign(key.key, f"{p64}.{payload64}".encode()) if alg and key else b"\0" * 64
    return json.dumps(
        {"protected": p64, "payload": payload64, "signature": b64.b64encode(signature).decode()}
    ).encode()


def post_raw(
    client: RawClient, url: str, body: bytes, content_type: str = "application/jose+json"
) -> HTTPResponse:
    return client.request("POST", url, body, **{"Content-Type": content_type})


def header(client: RawClient, url: str, **changes: Any) -> dict[str, Any]:
    """A correct protected header for ``client``'s account, then ``changes`` (None removes)."""
    base = {
        "alg": alg_for_key(client.key).name,
        "kid": client.account_url,
        "nonce": client.nonce(),
        "url": url,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


# Each case: (ctx, broken) -> response; expected (status, type) when broken.
Case = Callable[[Ctx, bool], HTTPResponse]


def bad_signature(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    body = json.loads(client.sign(client.account_url or "", None, kid=client.account_url))
    if broken:
        sig = bytearray(b64.b64decode(body["signature"]))
        sig[3] ^= 0x40
        body["signature"] = b64.b64encode(bytes(sig)).decode()
    return post_raw(client, client.account_url or "", json.dumps(body).encode())


def mac_algorithm(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    if not broken:
        return client.post(url)
    return post_raw(
        client,
        url,
        raw_jws(header(client, url, alg="HS256"), b"", jwk.JWKOct(key=b"k" * 32), jwa.HS256),
    )


def alg_none(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    if not broken:
        return client.post(url)
    return post_raw(client, url, raw_jws(header(client, url, alg="none"), b"", None, None))


def key_does_not_fit_alg(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client(register=False)
    url = client.directory["newAccount"]
    if not broken:
        return client.new_account()
    protected = header(
        client, url, kid=None, alg="RS256", jwk=client.key.public_key().to_partial_json()
    )
    return post_raw(client, url, raw_jws(protected, b'{"termsOfServiceAgreed": true}', None, None))


_RSA_1024 = rsa.generate_private_key(65537, 1024)
_RSA_2048 = rsa.generate_private_key(65537, 2048)


def small_rsa_key(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client(jwk.JWKRSA(key=_RSA_1024 if broken else _RSA_2048), register=False)
    return client.new_account()


def private_key_in_jwk(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client(register=False)
    url = client.directory["newAccount"]
    shown = (client.key if broken else client.key.public_key()).to_partial_json()
    protected = header(client, url, kid=None, jwk=shown)
    return post_raw(
        client,
        url,
        raw_jws(protected, b'{"termsOfServiceAgreed": true}', client.key, alg_for_key(client.key)),
    )


def url_mismatch(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    signed_for = client.directory["newOrder"] if broken else url
    return post_raw(client, url, client.sign(signed_for, None, kid=url))


def reused_nonce(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    nonce = client.nonce()
    assert post_raw(client, url, client.sign(url, None, kid=url, nonce=nonce)).status_code == 200
    return post_raw(client, url, client.sign(url, None, kid=url, nonce=nonce if broken else None))


def unknown_nonce(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    return post_raw(
        client,
        url,
        client.sign(url, None, kid=url, nonce="AAAAAAAAAAAAAAAAAAAAAA" if broken else None),
    )


def missing_nonce(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    protected = header(client, url, nonce=None) if broken else header(client, url)
    return post_raw(client, url, raw_jws(protected, b"", client.key, alg_for_key(client.key)))


def kid_and_jwk(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    extra = {"jwk": client.key.public_key().to_partial_json()} if broken else {}
    return post_raw(
        client, url, raw_jws(header(client, url, **extra), b"", client.key, alg_for_key(client.key))
    )


def jwk_on_new_order(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    payload = {"identifiers": [{"type": "dns", "value": "example.org"}]}
    return client.post(client.directory["newOrder"], payload, use_jwk=broken)


def kid_on_new_account(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.directory["newAccount"]
    payload = {"termsOfServiceAgreed": True}
    return client.post(url, payload, kid=client.account_url) if broken else client.new_account()


def neither_kid_nor_jwk(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.account_url or ""
    protected = header(client, url, kid=None) if broken else header(client, url)
    return post_raw(client, url, raw_jws(protected, b"", client.key, alg_for_key(client.key)))


def payload_on_post_as_get(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    order_url = ctx.order(client, ready=False)["finalize"].rsplit("/", 1)[0]
    return client.post(order_url, {} if broken else None)


def empty_payload_for_new_order(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    payload = None if broken else {"identifiers": [{"type": "dns", "value": "example.org"}]}
    return client.post(client.directory["newOrder"], payload)


def wrong_content_type(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    return client.post(
        client.account_url or "",
        None,
        content_type="application/json" if broken else "application/jose+json",
    )


def get_instead_of_post_as_get(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    order_url = ctx.order(client, ready=False)["finalize"].rsplit("/", 1)[0]
    return client.request("GET", order_url) if broken else client.post(order_url)


def unknown_account(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    url = client.directory["newOrder"]
    kid = (client.account_url or "") + "x" if broken else client.account_url
    return client.post(url, {"identifiers": [{"type": "dns", "value": "example.org"}]}, kid=kid)


def deactivated_account(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    if broken:
        assert client.post(client.account_url or "", {"status": "deactivated"}).status_code == 200
    return client.post(client.account_url or "")


def padded_base64(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    body = json.loads(client.sign(client.account_url or "", None, kid=client.account_url))
    if broken:
        body["protected"] += "=" * (-len(body["protected"]) % 4 or 4)
    return post_raw(client, client.account_url or "", json.dumps(body).encode())


def unprotected_header(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    body = json.loads(client.sign(client.account_url or "", None, kid=client.account_url))
    if broken:
        body["header"] = {"kid": client.account_url}
    return post_raw(client, client.account_url or "", json.dumps(body).encode())


def general_serialization(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    body = json.loads(client.sign(client.account_url or "", None, kid=client.account_url))
    if broken:
        body = {
            "payload": body["payload"],
            "signatures": [{"protected": body["protected"], "signature": body["signature"]}],
        }
    return post_raw(client, client.account_url or "", json.dumps(body).encode())


def csr_names_mismatch(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    order = ctx.order(client, "example.org", "www.example.org")
    names = ["example.org", "other.example.org"] if broken else ["example.org", "www.example.org"]
    return client.post(
        order["finalize"], {"csr": csr_b64(ec.generate_private_key(ec.SECP256R1()), names)}
    )


def csr_with_account_key(ctx: Ctx, broken: bool) -> HTTPResponse:
    account_key = ec.generate_private_key(ec.SECP256R1())
    client = ctx.client(jwk.JWKEC(key=account_key))
    order = ctx.order(client)
    key = account_key if broken else ec.generate_private_key(ec.SECP256R1())
    return client.post(order["finalize"], {"csr": csr_b64(key, ["example.org"])})


def finalize_before_ready(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    order = ctx.order(client, ready=not broken)
    return client.post(
        order["finalize"],
        {"csr": csr_b64(ec.generate_private_key(ec.SECP256R1()), ["example.org"])},
    )


def unknown_profile(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    payload = {
        "identifiers": [{"type": "dns", "value": "example.org"}],
        "profile": "nosuch" if broken else "shortlived",
    }
    return client.post(client.directory["newOrder"], payload)


def replaces_twice(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    ari_id = certificate_identifier(ctx.certificate(client).encode())
    if broken:
        ctx.order(client, ready=False, replaces=ari_id)
    payload = {"identifiers": [{"type": "dns", "value": "example.org"}], "replaces": ari_id}
    return client.post(client.directory["newOrder"], payload)


def only_return_existing(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client(register=not broken)
    return client.post(client.directory["newAccount"], {"onlyReturnExisting": True}, use_jwk=True)


def other_accounts_order(ctx: Ctx, broken: bool) -> HTTPResponse:
    owner = ctx.client()
    order_url = ctx.order(owner, ready=False)["finalize"].rsplit("/", 1)[0]
    return (ctx.client() if broken else owner).post(order_url)


def revoke_twice(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    leaf = x509.load_pem_x509_certificate(ctx.certificate(client).encode())
    der = b64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()
    if broken:
        assert client.post(client.directory["revokeCert"], {"certificate": der}).status_code == 200
    return client.post(client.directory["revokeCert"], {"certificate": der})


def bad_revocation_reason(ctx: Ctx, broken: bool) -> HTTPResponse:
    client = ctx.client()
    leaf = x509.load_pem_x509_certificate(ctx.certificate(client).encode())
    der = b64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()
    return client.post(
        client.directory["revokeCert"], {"certificate": der, "reason": 7 if broken else 1}
    )


CASES: list[tuple[Case, int, str]] = [
    (bad_signature, 400, "malformed"),
    (mac_algorithm, 400, "badSignatureAlgorithm"),
    (alg_none, 400, "badSignatureAlgorithm"),
    (key_does_not_fit_alg, 400, "badPublicKey"),
    (small_rsa_key, 400, "badPublicKey"),
    (private_key_in_jwk, 400, "badPublicKey"),
    (url_mismatch, 401, "unauthorized"),
    (reused_nonce, 400, "badNonce"),
    (unknown_nonce, 400, "badNonce"),
    (missing_nonce, 400, "badNonce"),
    (kid_and_jwk, 400, "malformed"),
    (jwk_on_new_order, 400, "malformed"),
    (kid_on_new_account, 400, "malformed"),
    (neither_kid_nor_jwk, 400, "malformed"),
    (payload_on_post_as_get, 400, "malformed"),
    (empty_payload_for_new_order, 400, "malformed"),
    (wrong_content_type, 415, "malformed"),
    (get_instead_of_post_as_get, 405, "malformed"),
    (unknown_account, 400, "accountDoesNotExist"),
    (deactivated_account, 401, "unauthorized"),
    (padded_base64, 400, "malformed"),
    (unprotected_header, 400, "malformed"),
    (general_serialization, 400, "malformed"),
    (csr_names_mismatch, 400, "badCSR"),
    (csr_with_account_key, 400, "badCSR"),
    (finalize_before_ready, 403, "orderNotReady"),
    (unknown_profile, 400, "invalidProfile"),
    (replaces_twice, 409, "alreadyReplaced"),
    (only_return_existing, 400, "accountDoesNotExist"),
    (other_accounts_order, 403, "unauthorized"),
    (revoke_twice, 400, "alreadyRevoked"),
    (bad_revocation_reason, 400, "badRevocationReason"),
]


@pytest.mark.parametrize(
    ("case", "status", "code"), CASES, ids=[case.__name__ for case, _, _ in CASES]
)
def test_broken_rule_is_refused(send: tuple[Send, str], case: Case, status: int, code: str) -> None:
    control = case(Ctx(*send), False)
    assert 200 <= control.status_code < 300, f"negative control failed: {control.text}"
    response = case(Ctx(*send), True)
    assert response.status_code == status, response.text
    assert response.content_type == "application/problem+json"  # RFC 7807 section 3
    body = response.json()
    assert body["type"] == messages.ERROR_PREFIX + code
    assert body["status"] == status
    assert body["detail"]
    assert is_valid_nonce(response.headers["Replay-Nonce"])  # section 6.5: also on errors
    assert response.links["index"] == [send[1]]
    if code == "badSignatureAlgorithm":  # section 6.2: the problem lists what we accept
        assert "ES256" in body["algorithms"]
    if code == "badNonce":  # the fresh nonce is accepted by a retry
        client = RawClient(send[0], send[1], jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1())))
        client._nonce = response.headers["Replay-Nonce"]
        assert client.new_account().status_code == 201


def test_every_success_response_carries_nonce_and_index(send: tuple[Send, str]) -> None:
    ctx = Ctx(*send)
    client = ctx.client()
    order = ctx.order(client)
    for response in (
        client.post(client.account_url or ""),
        client.post(order["authorizations"][0]),
    ):
        assert response.status_code == 200
        assert response.content_type == "application/json"
        assert is_valid_nonce(response.headers["Replay-Nonce"])
        assert response.links["index"] == [send[1]]
