"""Pebble's VA validates for real against our standalone servers (issue 4's proof).

Pebble connects to 127.0.0.1 (names resolve through pebble-challtestsrv) on its ``httpPort`` /
``tlsPort``, where our HTTP01Server / TLSALPN01Server listen; the client is our sync client.
Before answering each challenge, the public self-check (``simple_verify``) must pass too.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, messages, standalone
from interop.pebble_harness import PebbleInstance, require_binaries, start_pebble

pytestmark = pytest.mark.pebble
Resource = standalone.HTTP01RequestHandler.HTTP01Resource


@pytest.fixture(scope="module")
def peb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    require_binaries()
    with start_pebble(tmp_path_factory.mktemp("pebble-standalone"), nonce_reject=0) as instance:
        yield instance


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _client(peb: PebbleInstance) -> client.ClientV2:
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(key, verify_ssl=peb.ca_bundle)
    acme = client.ClientV2(client.ClientV2.get_directory(peb.directory_url, net), net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    return acme


def _order(acme: client.ClientV2, name: str) -> messages.OrderResource:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        csr = crypto_util.make_csr(pem, ipaddrs=[ipaddress.ip_address(name)])
    except ValueError:
        csr = crypto_util.make_csr(pem, [name])
    return acme.new_order(csr)


def _finish(acme: client.ClientV2, orderr: messages.OrderResource, name: str) -> None:
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    done = acme.poll_and_finalize(orderr, deadline)
    leaf = x509.load_pem_x509_certificates((done.fullchain_pem or "").encode())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    names |= set(san.get_values_for_type(x509.DNSName))
    assert names == {name}


@pytest.mark.parametrize("name", ["web.example.com", "127.0.0.1"])
def test_http01_validated_by_pebble_through_our_server(peb: PebbleInstance, name: str) -> None:
    acme = _client(peb)
    key = acme.net.key
    assert key is not None
    resources: set[Any] = set()
    server = standalone.HTTP01Server(("127.0.0.1", peb.http_port), resources)
    with running(server):
        orderr = _order(acme, name)
        challb = next(
            c
            for c in orderr.authorizations[0].body.challenges
            if isinstance(c.chall, challenges.HTTP01)
        )
        response, validation = challb.response_and_validation(key)
        # Added after the server started: served because the set is shared by reference.
        resources.add(Resource(challb.chall, response, validation))
        # The self-check connects to the domain it is given: loopback here (no real DNS).
        assert response.simple_verify(
            challb.chall, "127.0.0.1", key.public_key(), port=peb.http_port
        )
        # Negative control: another account's key authorization is not what we serve.
        other = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        assert isinstance(challb.chall, challenges.HTTP01)
        other_response = challb.chall.response(other)
        assert not other_response.simple_verify(
            challb.chall, "127.0.0.1", other.public_key(), port=peb.http_port
        )
        acme.answer_challenge(challb, response)
        _finish(acme, orderr, name)


@pytest.mark.parametrize("name", ["alpn.example.com", "127.0.0.1"])
def test_tls_alpn01_validated_by_pebble_through_our_server(peb: PebbleInstance, name: str) -> None:
    acme = _client(peb)
    key = acme.net.key
    assert key is not None
    certs: dict[str, Any] = {}
    server = standalone.TLSALPN01Server(("127.0.0.1", peb.tls_port), certs)
    with running(server):
        orderr = _order(acme, name)
        challb = next(
            c
            for c in orderr.authorizations[0].body.challenges
            if isinstance(c.chall, challenges.TLSALPN01)
        )
        response = challb.response(key)
        cert, cert_key = response.gen_cert(name, key=ec.generate_private_key(ec.SECP256R1()))
        certs[name] = (cert_key, cert)  # the mapping is shared by reference too
        assert response.simple_verify(
            challb.chall, name, key.public_key(), host="127.0.0.1", port=peb.tls_port
        )
        probed = response.probe_cert(name, host="127.0.0.1", port=peb.tls_port)
        assert probed == cert
        acme.answer_challenge(challb, response)
        _finish(acme, orderr, name)


def test_probe_sni_is_deprecated_but_works(peb: PebbleInstance) -> None:
    acme = _client(peb)
    key = acme.net.key
    assert key is not None
    chall = challenges.TLSALPN01(token=b"t" * 16)
    cert, cert_key = chall.response(key).gen_cert(
        "probe.example.com", key=ec.generate_private_key(ec.SECP256R1())
    )
    server = standalone.TLSALPN01Server(("127.0.0.1", 0), {"probe.example.com": (cert_key, cert)})
    port = server.socket.getsockname()[1]
    with running(server), pytest.warns(DeprecationWarning, match="probe_sni"):
        got = crypto_util.probe_sni(
            b"probe.example.com", b"127.0.0.1", port, timeout=5, alpn_protocols=[b"acme-tls/1"]
        )
    assert got == cert
