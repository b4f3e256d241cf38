"""How the test CA refuses what a real CA refuses: oversized bodies, IP addresses posing as DNS
names, and the exact tls-alpn-01 SNI it sends for IP identifiers (issue 11).

Everything runs against the HTTPS server on loopback (or the pure core where the wire is not
the point); every server and thread a test starts is stopped by the test.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import messages
from acme._core.http import Headers, HTTPRequest, HTTPResponse
from acme.testing import ACMETestServer
from acme.testing._rawclient import RawClient

Factory = Callable[..., ACMETestServer]
MAX_BODY = 1024 * 1024  # what the test CA reads at most (acme.testing._shell)


def ec_jwk() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


@contextlib.contextmanager
def https_client(server: ACMETestServer) -> Iterator[tuple[RawClient, requests.Session]]:
    """A registered `RawClient` speaking HTTPS to ``server``, and its session."""
    with requests.Session() as session:

        def send(request: HTTPRequest) -> HTTPResponse:
            raw = session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                verify=server.ca_bundle_path,
                allow_redirects=False,
                timeout=10,
            )
            return HTTPResponse(
                raw.status_code, Headers(list(raw.headers.items())), raw.content, request.url
            )

        client = RawClient(send, server.directory_url, ec_jwk())
        assert client.new_account().status_code == 201
        yield client, session


def assert_problem(response: HTTPResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = json.loads(response.content)
    assert body["type"] == messages.ERROR_PREFIX + code, body
    assert response.headers.get("Replay-Nonce")
    return body


# -- an oversized or unsized body is a problem document with a nonce ---------------------------


def test_oversized_body_is_a_malformed_problem_with_a_usable_nonce(
    acme_test_server: ACMETestServer,
) -> None:
    with https_client(acme_test_server) as (client, _):
        new_order = client.directory["newOrder"]
        big = {"identifiers": [{"type": "dns", "value": "big.example"}], "pad": "x" * MAX_BODY}
        refused = client.post(new_order, big)
        body = assert_problem(refused, 413, "malformed")
        assert str(MAX_BODY) in body["detail"]
        assert body["status"] == 413
        assert f'<{acme_test_server.directory_url}>;rel="index"' in refused.headers["Link"]
        # The nonce of the refusal is a real one: the next request signs with it and succeeds.
        small = {"identifiers": [{"type": "dns", "value": "small.example"}]}
        assert client.post(new_order, small).status_code == 201
    assert acme_test_server.core.internal_errors == []


def test_chunked_body_is_a_malformed_problem_with_a_nonce(
    acme_test_server: ACMETestServer,
) -> None:
    with https_client(acme_test_server) as (client, session):
        url = client.directory["newOrder"]
        chunks = iter([b'{"protected": ', b'"x"}'])  # a generator body is sent chunked
        raw = session.post(
            url,
            data=chunks,
            headers={"Content-Type": "application/jose+json"},
            verify=acme_test_server.ca_bundle_path,
            timeout=10,
        )
        response = HTTPResponse(
            raw.status_code, Headers(list(raw.headers.items())), raw.content, url
        )
        body = assert_problem(response, 411, "malformed")
        assert "Content-Length" in body["detail"]
