"""How the test CA refuses what a real CA refuses: oversized bodies, IP addresses posing as DNS
names, and the exact tls-alpn-01 SNI it sends for IP identifiers (issue 11).

Everything runs against the HTTPS server on loopback (or the pure core where the wire is not
the point); every server and thread a test starts is stopped by the test.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import messages
from acme._core.http import Headers, HTTPRequest, HTTPResponse
from acme._net import tls
from acme._wire import identifiers
from acme.testing import ACMEServerCore, ACMETestServer, ChallengeValidator
from acme.testing._rawclient import RawClient, csr_b64
from support.standalone import has_ipv6

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


# -- identifiers: an address is never a DNS name; every refusal names the type ---------------


@pytest.fixture
def core_client() -> tuple[ACMEServerCore, RawClient]:
    core = ACMEServerCore("https://ca.test", rng=random.Random(7))
    client = RawClient(core.handle, core.directory_url, ec_jwk())
    assert client.new_account().status_code == 201
    return core, client


@pytest.mark.parametrize(
    "value", ["127.0.0.1", "::1", "*.127.0.0.1", "10.1.2.3", "[::1]", "2001:db8::1", "1.2.3.04"]
)
def test_dns_identifier_holding_an_address_is_malformed_at_new_order(
    core_client: tuple[ACMEServerCore, RawClient], value: str
) -> None:
    """RFC 8738 section 3: addresses are ``ip`` identifiers; RFC 1123 section 2.1: a host
    name is never dotted-decimal. Refused at newOrder, not found out at finalize."""
    core, client = core_client
    payload = {"identifiers": [{"type": "dns", "value": value}]}
    body = assert_problem(client.post(client.directory["newOrder"], payload), 400, "malformed")
    assert body["detail"].startswith(f"dns identifier {value!r} is an IP address")
    assert '"type": "ip"' in body["detail"]
    assert core.orders == {}
    assert core.authorizations == {}
    # newAuthz (pre-authorization, never for wildcards) applies the same rule.
    if not value.startswith("*."):
        identifier = payload["identifiers"][0]
        authz = client.post(client.directory["newAuthz"], {"identifier": identifier})
        assert_problem(authz, 400, "malformed")


@pytest.mark.parametrize("value", ["a1.example", "1.example", "example.org", "123.example9"])
def test_numeric_labels_are_still_dns_names(
    core_client: tuple[ACMEServerCore, RawClient], value: str
) -> None:
    _, client = core_client
    payload = {"identifiers": [{"type": "dns", "value": value}]}
    assert client.post(client.directory["newOrder"], payload).status_code == 201


@pytest.mark.parametrize(
    ("identifier", "code", "named"),
    [
        ({"type": "dns", "value": "Example.org"}, "rejectedIdentifier", "dns identifier"),
        ({"type": "dns", "value": "a..example.org"}, "rejectedIdentifier", "dns identifier"),
        ({"type": "dns", "value": "x" * 254}, "rejectedIdentifier", "dns identifier"),
        ({"type": "dns", "value": "xn--a.example"}, "rejectedIdentifier", "dns identifier"),
        ({"type": "ip", "value": "300.1.1.1"}, "malformed", "ip identifier"),
        ({"type": "ip", "value": "::0:1"}, "malformed", "ip identifier"),
        ({"type": "email", "value": "a@example.org"}, "unsupportedIdentifier", "type 'email'"),
    ],
)
def test_every_identifier_refusal_names_the_type(
    core_client: tuple[ACMEServerCore, RawClient], identifier: dict[str, str], code: str, named: str
) -> None:
    _, client = core_client
    response = client.post(client.directory["newOrder"], {"identifiers": [identifier]})
    assert named in assert_problem(response, 400, code)["detail"]


def test_wildcard_pre_authorization_and_csr_mismatch_name_the_type(
    core_client: tuple[ACMEServerCore, RawClient],
) -> None:
    _, client = core_client
    wildcard = {"identifier": {"type": "dns", "value": "*.example.org"}}
    refused = client.post(client.directory["newAuthz"], wildcard)
    assert (
        "dns identifier '*.example.org'"
        in assert_problem(refused, 400, "rejectedIdentifier")["detail"]
    )
    idents = [{"type": "ip", "value": "127.0.0.1"}]
    order = client.post(client.directory["newOrder"], {"identifiers": idents}).json()
    for authz_url in order["authorizations"]:
        authz = client.post(authz_url).json()
        http01 = next(c for c in authz["challenges"] if c["type"] == "http-01")
        assert client.post(http01["url"], {}).status_code == 200
    # A CSR with the address as a DNS name: the refusal says which type is which.
    csr = csr_b64(ec.generate_private_key(ec.SECP256R1()), ["127.0.0.1"])
    body = assert_problem(client.post(order["finalize"], {"csr": csr}), 400, "badCSR")
    assert "missing [ip '127.0.0.1'], extra [dns '127.0.0.1']" in body["detail"]


def test_validation_problems_name_the_identifier_type() -> None:
    validator = ChallengeValidator(http_port=1, timeout=3)  # nothing listens on port 1
    for typ, value in ((messages.IDENTIFIER_FQDN, "example.org"), (messages.IDENTIFIER_IP, "::1")):
        ident = messages.Identifier(typ=typ, value=value)
        problem = validator("http-01", ident, "tok", "tok.ka", ec_jwk())
        assert problem is not None
        assert problem.code == "connection"
        assert problem.detail is not None
        assert problem.detail.startswith(f"{typ} identifier {value}: ")


# -- tls-alpn-01 for IP identifiers: the SNI is the reverse name, with no trailing dot --------


@contextlib.contextmanager
def sni_recorder(address: str) -> Iterator[tuple[int, list[str | None]]]:
    """A TCP listener on ``address`` that reads each ClientHello as sent and records its SNI
    HostName byte for byte, then hangs up; yields (port, names seen)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    listener = socket.create_server((address, 0), family=family)
    listener.settimeout(5)
    seen: list[str | None] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                seen.append(tls.read_client_hello(conn, time.monotonic() + 5).server_name)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        thread.join(10)
        listener.close()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "1.0.0.127.in-addr.arpa"),
        ("::1", "1." + "0." * 31 + "ip6.arpa"),
    ],
)
def test_tls_alpn01_sni_for_an_ip_has_no_trailing_dot(address: str, expected: str) -> None:
    """RFC 8738 section 6 names the reverse name; RFC 6066 section 3 forbids the final dot."""
    if ":" in address and not has_ipv6():
        pytest.skip("no IPv6 loopback on this machine")
    ident = messages.Identifier(typ=messages.IDENTIFIER_IP, value=address)
    with sni_recorder(address) as (port, seen):
        problem = ChallengeValidator(tls_port=port, timeout=5)(
            "tls-alpn-01", ident, "tok", "tok.ka", ec_jwk()
        )
    assert problem is not None  # the recorder never completes a handshake
    assert seen == [expected]
    # One home for the name: what the standalone server and the probes use is the same.
    assert identifiers.sni_name(address) == expected
    assert identifiers.ip_from_reverse_name(expected) == address
    assert identifiers.ip_from_reverse_name(expected.upper() + ".") == address


def test_tls_alpn01_sni_for_a_dns_name_is_the_name() -> None:
    ident = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="example.org")
    with sni_recorder("127.0.0.1") as (port, seen):
        ChallengeValidator(tls_port=port, timeout=5)(
            "tls-alpn-01", ident, "tok", "tok.ka", ec_jwk()
        )
    assert seen == ["example.org"]


# -- the listener is loopback only, and says so ------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "0.0.0.0", "::", "192.0.2.1"])
def test_test_server_refuses_a_non_loopback_host_clearly(host: str) -> None:
    with pytest.raises(ValueError, match=r"loopback address only \(127.0.0.1 or ::1\), not"):
        ACMETestServer(host=host)
