"""The Pebble harness starts real Pebble + challtestsrv on loopback and they behave as promised.

The ACME exchanges below are a bare minimum (RFC 8555 sections 7.3, 7.4, 7.5.1) written only to
prove the harness wiring: names resolve through challtestsrv and the VA reaches ``http_port``.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import b64, jwa, jwk

from acme.jws import JWS
from interop.pebble_harness import (
    SKIP_REASON,
    PebbleInstance,
    PebbleStartError,
    dns_query,
    free_ports,
    make_tls_files,
    require_binaries,
    start_pebble,
)


class MiniAcme:
    """Just enough of an ACME client to drive Pebble: JWS POSTs with fresh nonces, no retries."""

    def __init__(self, instance: PebbleInstance, session: requests.Session) -> None:
        self.instance = instance
        self.session = session
        self.directory = instance.directory()
        self.key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        self.kid: str | None = None

    def nonce(self) -> bytes:
        response = self.session.head(
            self.directory["newNonce"], verify=self.instance.ca_bundle, timeout=10
        )
        return b64.b64decode(response.headers["Replay-Nonce"])

    def post(self, url: str, payload: dict[str, Any] | None) -> requests.Response:
        """A JWS POST (RFC 8555 section 6.2); ``payload=None`` is a POST-as-GET (section 6.3)."""
        body = b"" if payload is None else json.dumps(payload).encode()
        jws = JWS.sign(body, self.key, jwa.ES256, self.nonce(), url=url, kid=self.kid)
        return self.session.post(
            url,
            data=jws.json_dumps(),
            headers={"Content-Type": "application/jose+json"},
            verify=self.instance.ca_bundle,
            timeout=10,
        )

    def register(self) -> None:
        response = self.post(self.directory["newAccount"], {"termsOfServiceAgreed": True})
        assert response.status_code == 201, response.text
        self.kid = response.headers["Location"]

    def challenge(self, name: str, kind: str) -> tuple[str, str, str]:
        """Order ``name``; return (authorization URL, challenge URL, key authorization)."""
        order = self.post(
            self.directory["newOrder"], {"identifiers": [{"type": "dns", "value": name}]}
        )
        assert order.status_code == 201, order.text
        authz_url = order.json()["authorizations"][0]
        challenges = self.post(authz_url, None).json()["challenges"]
        challenge = next(c for c in challenges if c["type"] == kind)
        # Key authorization: token "." base64url(JWK thumbprint) (RFC 8555 section 8.1).
        key_authz = challenge["token"] + "." + b64.b64encode(self.key.thumbprint()).decode()
        return authz_url, challenge["url"], key_authz

    def validate(self, authz_url: str, challenge_url: str, timeout: float = 15.0) -> str:
        """Tell Pebble the challenge is ready, poll the authorization; return its final status."""
        assert self.post(challenge_url, {}).status_code == 200
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status: str = self.post(authz_url, None).json()["status"]
            if status != "pending":
                return status
            time.sleep(0.1)
        raise AssertionError(f"authorization still pending after {timeout} s")


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def _children() -> set[tuple[int, str]]:
    """(pid, command) of this process's live or unreaped children, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (command) state ppid ...": the command may itself contain spaces or parentheses.
        head, _, tail = stat.rpartition(")")
        if int(tail.split()[1]) == os.getpid():
            found.add((int(entry), head.partition("(")[2]))
    return found


def _made_up_name() -> str:
    return f"made-up-{secrets.token_hex(4)}.example.test"


@pytest.mark.pebble
def test_directory_is_served_over_https_verified_by_the_generated_ca(
    pebble: PebbleInstance, http_session: requests.Session, tmp_path: Path
) -> None:
    assert pebble.directory_url.startswith("https://127.0.0.1:")
    response = http_session.get(pebble.directory_url, verify=pebble.ca_bundle, timeout=5)
    assert response.status_code == 200
    assert {"newNonce", "newAccount", "newOrder", "revokeCert"} <= set(response.json())

    # Negative controls: neither the default trust store nor another CA accepts the certificate.
    with pytest.raises(requests.exceptions.SSLError):
        http_session.get(pebble.directory_url, verify=True, timeout=5)
    other_ca, _, _ = make_tls_files(tmp_path)
    with pytest.raises(requests.exceptions.SSLError):
        http_session.get(pebble.directory_url, verify=str(other_ca), timeout=5)


@pytest.mark.pebble
def test_management_interface_serves_root_and_intermediate(pebble: PebbleInstance) -> None:
    root = x509.load_pem_x509_certificate(pebble.fetch_root().encode())
    intermediate = x509.load_pem_x509_certificate(pebble.fetch_intermediate().encode())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    intermediate.verify_directly_issued_by(root)
    # Negative control: no alternate roots unless PEBBLE_ALTERNATE_ROOTS asks for them.
    assert "PEBBLE_ALTERNATE_ROOTS" not in pebble.env
    with pytest.raises(LookupError, match="/roots/1"):
        pebble.fetch_root(1)


@pytest.mark.pebble
def test_alternate_roots(pebble_factory: Any) -> None:
    instance = pebble_factory(alternate_roots=2)
    assert instance.env["PEBBLE_ALTERNATE_ROOTS"] == "2"
    roots = [x509.load_pem_x509_certificate(instance.fetch_root(i).encode()) for i in range(3)]
    assert len({root.fingerprint(hashes.SHA256()) for root in roots}) == 3  # three distinct roots
    for index, root in enumerate(roots):
        intermediate = instance.fetch_intermediate(index).encode()
        x509.load_pem_x509_certificate(intermediate).verify_directly_issued_by(root)
    with pytest.raises(LookupError):
        instance.fetch_root(3)


@pytest.mark.pebble
def test_challtestsrv_dns_answers_made_up_names(pebble: PebbleInstance) -> None:
    cts = pebble.challtestsrv
    name = _made_up_name()
    assert cts.lookup_a(name) == ["127.0.0.1"]  # the default answer Pebble's VA will get

    cts.add_a(name, ["127.0.0.2"])
    try:
        assert cts.lookup_a(name) == ["127.0.0.2"]
    finally:
        cts.clear_a(name)
    assert cts.lookup_a(name) == ["127.0.0.1"]

    txt_name = "_acme-challenge." + name
    assert cts.lookup_txt(txt_name) == []
    cts.add_txt(txt_name, "first")
    cts.add_txt(txt_name, "second")
    try:
        assert sorted(cts.lookup_txt(txt_name)) == ["first", "second"]
    finally:
        cts.clear_txt(txt_name)
    assert cts.lookup_txt(txt_name) == []

    cts.set_servfail(name)
    try:
        rcode, answers = dns_query(pebble.dns_server, name, 1)
        assert (rcode, answers) == (2, [])  # SERVFAIL (RFC 1035 section 4.1.1)
    finally:
        cts.clear_servfail(name)


@pytest.mark.pebble
def test_challtestsrv_serves_http01_tokens(
    pebble: PebbleInstance, http_session: requests.Session
) -> None:
    cts = pebble.challtestsrv
    token = secrets.token_urlsafe(16)
    url = f"http://127.0.0.1:{cts.http01_port}/.well-known/acme-challenge/{token}"
    cts.add_http01(token, "key-authorization")
    try:
        assert http_session.get(url, timeout=5).text == "key-authorization"
    finally:
        cts.clear_http01(token)
    assert http_session.get(url, timeout=5).text == ""


@pytest.mark.pebble
@pytest.mark.parametrize("kind", ["http-01", "dns-01", "tls-alpn-01"])
def test_pebble_validates_through_challtestsrv(
    pebble_factory: Any, http_session: requests.Session, kind: str
) -> None:
    instance = pebble_factory(challenge_responder="challtestsrv", nonce_reject=0)
    cts = instance.challtestsrv
    assert (instance.http_port, instance.tls_port) == (cts.http01_port, cts.tlsalpn01_port)
    client = MiniAcme(instance, http_session)
    client.register()
    name = _made_up_name()
    authz_url, challenge_url, key_authz = client.challenge(name, kind)
    if kind == "http-01":
        cts.add_http01(key_authz.split(".")[0], key_authz)
    elif kind == "dns-01":  # TXT value: base64url(SHA-256(key authorization)), RFC 8555 8.4
        digest = b64.b64encode(hashlib.sha256(key_authz.encode()).digest()).decode()
        cts.add_txt("_acme-challenge." + name, digest)
    else:
        cts.add_tlsalpn01(name, key_authz)
    assert client.validate(authz_url, challenge_url) == "valid"

    # challtestsrv recorded the VA's requests, by host name without port or trailing dot.
    history_kind, history_host = {
        "http-01": ("http", name),
        "dns-01": ("dns", f"_acme-challenge.{name}"),
        "tls-alpn-01": ("tlsalpn01", name),
    }[kind]
    assert cts.request_history(history_kind, history_host)
    assert cts.request_history(history_kind, "other-" + history_host) == []
    cts.clear_request_history(history_kind, history_host)
    assert cts.request_history(history_kind, history_host) == []


class _ChallengeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.responses`` (path -> body) and records each request's Host header."""

    def do_GET(self) -> None:
        body = self.server.responses.get(self.path, "").encode()  # type: ignore[attr-defined]
        self.server.hosts.append(self.headers.get("Host"))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.pebble
@pytest.mark.parametrize("serve_right_answer", [True, False])
def test_pebble_va_reaches_the_clients_server_on_http_port(
    pebble_factory: Any,
    http_session: requests.Session,
    serve_right_answer: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Inherited PEBBLE_* and proxy variables must not reach Pebble: either would change the result.
    monkeypatch.setenv("PEBBLE_VA_ALWAYS_VALID", "1")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    (port,) = free_ports(1)
    instance = pebble_factory(http_port=port, nonce_reject=0)
    assert instance.http_port == port
    client = MiniAcme(instance, http_session)
    client.register()
    name = _made_up_name()
    authz_url, challenge_url, key_authz = client.challenge(name, "http-01")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _ChallengeHandler)
    path = "/.well-known/acme-challenge/" + key_authz.split(".")[0]
    server.responses = {path: key_authz if serve_right_answer else "wrong"}  # type: ignore[attr-defined]
    server.hosts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        status = client.validate(authz_url, challenge_url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert status == ("valid" if serve_right_answer else "invalid")
    hosts = server.hosts  # type: ignore[attr-defined]
    assert hosts  # the VA did connect, through challtestsrv's answer for the made-up name
    assert {host.split(":")[0] for host in hosts} == {name}


@pytest.mark.pebble
def test_eab_required_shows_in_directory_and_is_enforced(
    pebble_factory: Any, pebble: PebbleInstance, http_session: requests.Session
) -> None:
    keys = {"kid-1": b64.b64encode(b"k" * 32).decode()}
    instance = pebble_factory(eab_required=True, eab_keys=keys, nonce_reject=0)
    assert instance.eab_keys == keys
    assert instance.directory()["meta"]["externalAccountRequired"] is True
    assert pebble.directory()["meta"].get("externalAccountRequired") is not True  # control
    client = MiniAcme(instance, http_session)
    response = client.post(client.directory["newAccount"], {"termsOfServiceAgreed": True})
    assert 400 <= response.status_code < 500  # Pebble 2.4 says 403
    assert response.json()["type"] == "urn:ietf:params:acme:error:externalAccountRequired"


@pytest.mark.pebble
@pytest.mark.parametrize(("reject", "expected"), [(100, 400), (0, 201)])
def test_nonce_reject_knob_reaches_pebble(
    pebble_factory: Any, http_session: requests.Session, reject: int, expected: int
) -> None:
    instance = pebble_factory(nonce_reject=reject, strict=True)
    assert instance.env == {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": str(reject)}
    assert "-strict=true" in instance.pebble_process.args
    client = MiniAcme(instance, http_session)
    response = client.post(client.directory["newAccount"], {"termsOfServiceAgreed": True})
    assert response.status_code == expected, response.text
    if expected == 400:
        assert response.json()["type"] == "urn:ietf:params:acme:error:badNonce"


def test_knobs_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PEBBLE_CHAIN_LENGTH"):
        start_pebble(tmp_path, chain_length=0)
    with pytest.raises(ValueError, match="challenge_responder"):
        start_pebble(tmp_path, challenge_responder="challtestsrv", http_port=5002)


@pytest.mark.pebble
def test_stop_leaves_no_process_and_no_listener(tmp_path: Path) -> None:
    require_binaries()
    before = _children()
    with start_pebble(tmp_path) as instance:
        pids = {instance.pebble_process.pid, instance.challtestsrv_process.pid}
        assert pids <= {pid for pid, _ in _children()}  # control: they were running
        assert instance.running()
        acme_port = int(instance.directory_url.split(":")[2].split("/")[0])
    instance.stop()  # a second stop is harmless
    assert instance.pebble_process.returncode is not None
    assert instance.challtestsrv_process.returncode is not None
    assert _children() == before
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", acme_port))


@pytest.mark.pebble
def test_early_exit_fails_with_captured_stderr_and_stops_challtestsrv(tmp_path: Path) -> None:
    require_binaries()
    before = _children()
    missing = tmp_path / "no-such-cert.pem"
    started = time.monotonic()
    with pytest.raises(PebbleStartError, match=r"no-such-cert\.pem") as info:
        start_pebble(tmp_path / "run", extra_config={"certificate": str(missing)})
    assert "pebble exited" in str(info.value)
    assert time.monotonic() - started < 10  # failed fast, not by timeout
    assert _children() == before


def test_missing_binary_skips_with_the_ci_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        pytest.skip.Exception, match=r"pebble not installed \(\.ci/run installs it\)"
    ):
        require_binaries()
    assert SKIP_REASON == "pebble not installed (.ci/run installs it)"


def test_fixture_users_get_the_pebble_marker(
    request: pytest.FixtureRequest, pebble_factory: Any
) -> None:
    # Not marked explicitly: conftest's hook adds the marker so `-m "not pebble"` deselects it.
    assert request.node.get_closest_marker("pebble") is not None
