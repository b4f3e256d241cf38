"""The HTTPS test server (acme.testing.ACMETestServer), its validators and its pytest fixtures.

Everything runs on loopback with short timeouts; every server, thread and socket a test starts
is stopped by the test (or by the fixture that started it).
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import os
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme._core.challenges import http01_body_matches
from acme._core.http import Headers, HTTPRequest, HTTPResponse
from acme.testing import ACMETestServer, ChallengeValidator, DNSRecordStore, Faults
from acme.testing._rawclient import RawClient, csr_b64

Factory = Callable[..., ACMETestServer]


def ec_jwk() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


@contextlib.contextmanager
def https_send(server: ACMETestServer) -> Iterator[Callable[[HTTPRequest], HTTPResponse]]:
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
            headers = Headers(list(raw.headers.items()))
            return HTTPResponse(raw.status_code, headers, raw.content, request.url)

        yield send


@contextlib.contextmanager
def http01_responder(resources: dict[str, str]) -> Iterator[int]:
    """Serve ``/.well-known/acme-challenge/<token>`` from ``resources`` on a loopback port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            token = self.path.rsplit("/", 1)[-1]
            body = resources.get(token, "").encode()
            self.send_response(200 if token in resources else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@contextlib.contextmanager
def tls_alpn_responder(
    tmp_path: Path, cert: x509.Certificate, key: Any, alpn: list[str]
) -> Iterator[int]:
    """Answer TLS handshakes with ``cert``, offering ``alpn`` (RFC 8737 section 3)."""
    path = tmp_path / "challenge.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(path))
    context.set_alpn_protocols(alpn)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                    pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_listener_certificate_chains_to_ca_cert_pem(acme_test_server: ACMETestServer) -> None:
    assert acme_test_server.directory_url.startswith("https://127.0.0.1:")
    response = requests.get(
        acme_test_server.directory_url, verify=acme_test_server.ca_bundle_path, timeout=10
    )
    assert response.status_code == 200
    assert "newOrder" in response.json()
    context = ssl.create_default_context(cadata=acme_test_server.ca_cert_pem)
    with urllib.request.urlopen(
        acme_test_server.directory_url, context=context, timeout=10
    ) as page:
        assert page.status == 200
    with pytest.raises(requests.exceptions.SSLError):  # negative control: not a public CA
        requests.get(acme_test_server.directory_url, timeout=10)


def test_ipv6_loopback_and_non_loopback_refused(acme_test_server_factory: Factory) -> None:
    server = acme_test_server_factory(host="::1", always_valid=True)
    assert server.directory_url == f"https://[::1]:{server.port}/directory"
    response = requests.get(server.directory_url, verify=server.ca_bundle_path, timeout=10)
    assert response.json()["newNonce"].startswith("https://[::1]:")
    with pytest.raises(errors.InvalidArgument, match="loopback"):
        ACMETestServer(host="0.0.0.0")


def test_close_stops_threads_sockets_and_files() -> None:
    threads_before = threading.active_count()
    with ACMETestServer(always_valid=True) as server, requests.Session() as idle:
        port, bundle = server.port, server.ca_bundle_path
        assert idle.get(server.directory_url, verify=bundle, timeout=10).ok  # keep-alive open
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 3  # an idle keep-alive connection does not block
        server.close()  # idempotent
    assert threading.active_count() == threads_before
    assert not os.path.exists(bundle)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_raw_issuance_with_real_http01_validation(acme_test_server_factory: Factory) -> None:
    resources: dict[str, str] = {}
    with http01_responder(resources) as port:
        server = acme_test_server_factory(http_port=port)
        with https_send(server) as send:
            acme = RawClient(send, server.directory_url, ec_jwk())
            assert acme.new_account().status_code == 201
            idents = [{"type": "dns", "value": "example.org"}, {"type": "ip", "value": "127.0.0.1"}]
            order = acme.post(acme.directory["newOrder"], {"identifiers": idents}).json()
            for authz_url in order["authorizations"]:
                chall = next(
                    c for c in acme.post(authz_url).json()["challenges"] if c["type"] == "http-01"
                )
                http01 = challenges.HTTP01.from_json(chall)
                resources[http01.encode("token")] = http01.validation(acme.key)
                assert acme.post(chall["url"], {}).json()["status"] == "valid"
            key = ec.generate_private_key(ec.SECP256R1())
            done = acme.post(
                order["finalize"], {"csr": csr_b64(key, ["example.org"], ["127.0.0.1"])}
            ).json()
            chain = acme.post(done["certificate"])
    assert chain.content_type == "application/pem-certificate-chain"
    leaf, intermediate = x509.load_pem_x509_certificates(chain.content)
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(
        x509.load_pem_x509_certificate(server.ca_cert_pem.encode())
    )
    assert server.core.internal_errors == []


def test_http01_failures_are_reported(acme_test_server_factory: Factory) -> None:
    resources = {"known": "wrong.keyauth"}
    with http01_responder(resources) as port:
        validator = ChallengeValidator(http_port=port, timeout=2)
        ident = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="example.org")
        key = ec_jwk()
        wrong = validator("http-01", ident, "known", "known.right", key)
        assert wrong is not None
        assert wrong.code == "incorrectResponse"
        missing = validator("http-01", ident, "absent", "absent.right", key)
        assert missing is not None
        assert missing.code == "unauthorized"
        resources["known"] = "known.right\n"  # trailing whitespace is ignored (RFC 8555 8.3)
        assert validator("http-01", ident, "known", "known.right", key) is None
    closed = validator("http-01", ident, "known", "known.right", key)  # responder stopped
    assert closed is not None
    assert closed.code == "connection"


@pytest.mark.parametrize(
    "served", ["KA", "KA\n", "KA \r\n\t", " KA", "\nKA", "KA.", "KAKA", "ka", ""]
)
def test_client_self_check_and_test_ca_judge_http01_bodies_alike(served: str) -> None:
    """The client's self-check and the test CA fetch the same resource over loopback and
    reach the same verdict: both apply the core's one rule (RFC 8555 section 8.3)."""
    key = ec_jwk()
    chall = challenges.HTTP01(token=b"\x07" * 16)
    response = chall.response(key)
    assert response.key_authorization is not None
    token = chall.encode("token")
    # "ka" stands for a wrong text; replaced first, since a key authorization may contain "ka"
    body = served.replace("ka", "x" * 8).replace("KA", response.key_authorization)
    expected = http01_body_matches(
        body.encode(), response.key_authorization, challenges.HTTP01Response.WHITESPACE_CUTSET
    )
    with http01_responder({token: body}) as port:
        ident = messages.Identifier(typ=messages.IDENTIFIER_IP, value="127.0.0.1")
        problem = ChallengeValidator(http_port=port, timeout=10)(
            "http-01", ident, token, response.key_authorization, key
        )
        self_check = response.simple_verify(chall, "127.0.0.1", key.public_key(), port, 10)
    assert (problem is None) is expected, problem
    assert self_check is expected
    assert expected is (served in ("KA", "KA\n", "KA \r\n\t"))
    if problem is not None:
        assert problem.code == "incorrectResponse"


def test_validator_never_leaves_loopback() -> None:
    validator = ChallengeValidator(hosts={"example.org": "192.0.2.1"}, timeout=1)
    ident = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="example.org")
    refused = validator("http-01", ident, "tok", "tok.ka", ec_jwk())
    assert refused is not None
    assert refused.code == "dns"
    assert "loopback" in (refused.detail or "")
    outside_ip = messages.Identifier(typ=messages.IDENTIFIER_IP, value="192.0.2.7")
    assert validator("tls-alpn-01", outside_ip, "tok", "tok.ka", ec_jwk()) is not None


def test_dns01_through_the_record_store(acme_test_server_factory: Factory) -> None:
    server = acme_test_server_factory()
    with https_send(server) as send:
        acme = RawClient(send, server.directory_url, ec_jwk())
        acme.new_account()
        payload = {"identifiers": [{"type": "dns", "value": "*.example.org"}]}
        order = acme.post(acme.directory["newOrder"], payload).json()
        authz = acme.post(order["authorizations"][0]).json()
        dns01 = challenges.DNS01.from_json(authz["challenges"][0])
        name = dns01.validation_domain_name("example.org")
        server.add_txt(name, "not-the-digest")
        server.add_txt(name, dns01.validation(acme.key))
        server.remove_txt(name, "not-the-digest")
        assert server.dns.txt(name) == [dns01.validation(acme.key)]
        assert acme.post(authz["challenges"][0]["url"], {}).json()["status"] == "valid"
    store = DNSRecordStore()
    validator = ChallengeValidator(dns=store)
    ident = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="example.net")
    none = validator("dns-01", ident, "tok", "tok.ka", ec_jwk())
    assert none is not None
    assert none.code == "dns"
    store.add_txt("_acme-challenge.EXAMPLE.net.", "bogus")  # names are case-insensitive
    wrong = validator("dns-01", ident, "tok", "tok.ka", ec_jwk())
    assert wrong is not None
    assert wrong.code == "incorrectResponse"
    store.remove_txt("_acme-challenge.example.net")
    assert store.txt("_acme-challenge.example.net") == []


@pytest.mark.parametrize("identifier", ["example.org", "127.0.0.1"])
def test_tls_alpn01_real_handshake(tmp_path: Path, identifier: str) -> None:
    key = ec_jwk()
    chall = challenges.TLSALPN01(token=b"x" * 32)
    key_auth = chall.key_authorization(key)
    cert, cert_key = chall.validation(key, domain=identifier)
    kind = messages.IDENTIFIER_IP if identifier[0].isdigit() else messages.IDENTIFIER_FQDN
    ident = messages.Identifier(typ=kind, value=identifier)
    token = chall.encode("token")
    with tls_alpn_responder(tmp_path, cert, cert_key, ["acme-tls/1"]) as port:
        validator = ChallengeValidator(tls_port=port, timeout=3)
        assert validator("tls-alpn-01", ident, token, key_auth, key) is None
        other = validator("tls-alpn-01", ident, token, key_auth + "x", key)
        assert other is not None
        assert other.code == "incorrectResponse"
    with tls_alpn_responder(tmp_path, cert, cert_key, ["h2"]) as port:
        no_alpn = ChallengeValidator(tls_port=port, timeout=3)(
            "tls-alpn-01", ident, token, key_auth, key
        )
        assert no_alpn is not None
        assert no_alpn.code == "tls"


def test_client_v2_full_cycle(acme_test_server_factory: Factory) -> None:
    server = acme_test_server_factory(always_valid=True, alternate_chains=1)
    account_key = ec_jwk()
    with client.ClientNetwork(account_key, verify_ssl=server.ca_bundle_path) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
        regr = acme.new_account(
            messages.NewRegistration.from_data(
                email="admin@example.org", terms_of_service_agreed=True
            )
        )
        cert_key = ec.generate_private_key(ec.SECP256R1())
        pem = cert_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        orderr = acme.new_order(
            crypto_util.make_csr(pem, ["example.org", "www.example.org"]), profile="shortlived"
        )
        for authzr in orderr.authorizations:
            challb = next(c for c in authzr.body.challenges if c.chall.typ == "http-01")
            acme.answer_challenge(challb, challb.response(account_key))
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=20)
        orderr = acme.poll_authorizations(orderr, deadline)
        orderr = acme.finalize_order(orderr, deadline, fetch_alternative_chains=True)
        assert len(orderr.alternative_fullchains_pem) == 1
        assert orderr.fullchain_pem is not None
        leaf = x509.load_pem_x509_certificate(orderr.fullchain_pem.encode())
        assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=6)
        info, _ = acme.renewal_info(leaf)
        assert leaf.not_valid_before_utc < info.suggested_window.start < leaf.not_valid_after_utc
        assert orderr.uri in list(acme.orders(regr))
        acme.revoke(leaf, 0)
        assert server.core.is_revoked(leaf)
        acme.deactivate_registration(regr)
    assert server.core.internal_errors == []


def test_dropped_and_delayed_responses(acme_test_server_factory: Factory) -> None:
    faults = Faults(drop_response_rate=1.0, resources=frozenset({"newOrder"}))
    server = acme_test_server_factory(always_valid=True, faults=faults)
    with https_send(server) as send:
        acme = RawClient(send, server.directory_url, ec_jwk())
        assert acme.new_account().status_code == 201
        with pytest.raises(requests.exceptions.ConnectionError):
            acme.post(
                acme.directory["newOrder"], {"identifiers": [{"type": "dns", "value": "a.example"}]}
            )
        assert len(server.core.orders) == 1  # the request took effect; only the answer was lost
        server.core.faults = Faults(delay_seconds=0.3, resources=frozenset({"directory"}))
        started = time.monotonic()
        assert send(HTTPRequest("GET", server.directory_url)).status_code == 200
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        assert send(HTTPRequest("HEAD", acme.directory["newNonce"])).status_code == 200
        assert time.monotonic() - started < 0.3  # only the targeted resource waits


def test_fixture_server_is_always_valid(acme_test_server: ACMETestServer) -> None:
    with https_send(acme_test_server) as send:
        acme = RawClient(send, acme_test_server.directory_url, ec_jwk())
        acme.new_account()
        payload = {"identifiers": [{"type": "dns", "value": "unreachable.invalid"}]}
        order = acme.post(acme.directory["newOrder"], payload).json()
        chall = acme.post(order["authorizations"][0]).json()["challenges"][0]
        assert acme.post(chall["url"], {}).json()["status"] == "valid"  # nothing was served
