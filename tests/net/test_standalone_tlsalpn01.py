"""acme.standalone tls-alpn-01 servers (RFC 8737) on real loopback handshakes, checked with the
probes (bodies of ``TLSALPN01Response.probe_cert`` / ``simple_verify``, ``probe_sni``) and with
plain ``ssl`` clients."""

from __future__ import annotations

import socket
import ssl
import time
import warnings

import pytest
from OpenSSL import crypto

from acme import errors, standalone
from acme._net import probes as _probes
from support.standalone import (
    ACCOUNT_KEY,
    LOOPBACK,
    LOOPBACK6,
    OTHER_ACCOUNT_KEY,
    has_ipv6,
    plain_client_context,
    port_of,
    read_all,
    serving,
    tlsalpn01,
)

DOMAIN = "example.com"


def _handshake(
    port: int, server_name: str | None, alpn: list[str] | None, host: str = LOOPBACK
) -> tuple[bytes | None, str | None]:
    """A plain ``ssl`` client: (certificate DER, selected ALPN)."""
    context = plain_client_context(alpn)
    with (
        socket.create_connection((host, port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname=server_name) as tls,
    ):
        return tls.getpeercert(binary_form=True), tls.selected_alpn_protocol()


def test_correct_probe_succeeds_and_returns_the_challenge_cert() -> None:
    chall, response, pair = tlsalpn01(DOMAIN)
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})) as server:
        port = port_of(server)
        cert = _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port, timeout=5)
        assert cert == pair[1]
        assert response.verify_cert(DOMAIN, cert)
        assert _probes.tlsalpn01_simple_verify(
            response, chall, DOMAIN, ACCOUNT_KEY.public_key(), host=LOOPBACK, port=port
        )
        # RFC 8737 section 3: the server selects acme-tls/1.
        assert _handshake(port, DOMAIN, ["acme-tls/1"])[1] == "acme-tls/1"


def test_acme_tls_1_protocol_constant_is_what_the_server_selects() -> None:
    # acme 1.x's class attribute: the ALPN protocol as bytes (pyOpenSSL's form).
    assert standalone.TLSALPN01Server.ACME_TLS_1_PROTOCOL == b"acme-tls/1"
    _, _, pair = tlsalpn01(DOMAIN)
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})) as server:
        assert server.ACME_TLS_1_PROTOCOL == b"acme-tls/1"
        protocol = server.ACME_TLS_1_PROTOCOL.decode("ascii")
        assert _handshake(port_of(server), DOMAIN, ["h2", protocol])[1] == protocol


def test_wrong_sni_fails() -> None:
    chall, response, pair = tlsalpn01(DOMAIN)
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})) as server:
        port = port_of(server)
        with pytest.raises(errors.Error, match="UNRECOGNIZED_NAME") as caught:
            _probes.tlsalpn01_probe_cert("other.example.com", host=LOOPBACK, port=port)
        assert isinstance(caught.value.__cause__, ssl.SSLError)
        assert not _probes.tlsalpn01_simple_verify(
            response, chall, "other.example.com", ACCOUNT_KEY.public_key(), host=LOOPBACK, port=port
        )
        with pytest.raises(ssl.SSLError):  # no SNI at all
            _handshake(port, None, ["acme-tls/1"])


def test_no_alpn_never_gets_the_challenge_cert() -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})) as server:
        port = port_of(server)
        with pytest.raises(errors.Error):
            _probes.probe_sni(DOMAIN, LOOPBACK, port=port, timeout=5)
        with pytest.raises(ssl.SSLError, match="no application protocol"):
            _handshake(port, DOMAIN, ["h2", "http/1.1"])  # RFC 7301 section 3.2
        # Positive control: the same helper with acme-tls/1 gets it.
        assert _handshake(port, DOMAIN, ["acme-tls/1"])[0] is not None


def test_two_mappings_split_by_alpn() -> None:
    # The 1.x form: challenge_certs for acme-tls/1, certs for every other handshake.
    _, _, challenge_pair = tlsalpn01(DOMAIN, seed=2)
    _, _, ordinary_pair = tlsalpn01(DOMAIN, seed=3)
    server = standalone.TLSALPN01Server(
        (LOOPBACK, 0), {DOMAIN: ordinary_pair}, {DOMAIN: challenge_pair}
    )
    with serving(server):
        port = port_of(server)
        plain = _probes.probe_sni(DOMAIN, LOOPBACK, port=port, timeout=5)
        acme = _probes.probe_sni(
            DOMAIN, LOOPBACK, port=port, timeout=5, alpn_protocols=[b"acme-tls/1"]
        )
        assert plain == ordinary_pair[1]
        assert acme == challenge_pair[1]
        assert plain != acme


def test_wrong_key_authorization_fails() -> None:
    # The certificate served was made for another account's key authorization.
    chall, _, stale_pair = tlsalpn01(DOMAIN, key=OTHER_ACCOUNT_KEY)
    response = chall.response(ACCOUNT_KEY)
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: stale_pair})) as server:
        port = port_of(server)
        key = ACCOUNT_KEY.public_key()
        assert not _probes.tlsalpn01_simple_verify(
            response, chall, DOMAIN, key, host=LOOPBACK, port=port
        )
        # And a response that does not match the account key is refused before probing.
        assert not _probes.tlsalpn01_simple_verify(
            chall.response(OTHER_ACCOUNT_KEY), chall, DOMAIN, key, cert=stale_pair[1]
        )
        # Control: with the right account key the very same certificate verifies.
        assert _probes.tlsalpn01_simple_verify(
            chall.response(OTHER_ACCOUNT_KEY),
            chall,
            DOMAIN,
            OTHER_ACCOUNT_KEY.public_key(),
            host=LOOPBACK,
            port=port,
        )


def test_certs_shared_by_reference_and_names_normalised() -> None:
    _, response, pair = tlsalpn01(DOMAIN)
    certs: dict[bytes | str, tuple[object, object]] = {}
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), certs)) as server:
        port = port_of(server)
        with pytest.raises(errors.Error):
            _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port)
        certs[b"EXAMPLE.com."] = pair  # bytes key, other case, final dot; added after start
        assert _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port) == pair[1]
        del certs[b"EXAMPLE.com."]
        certs[DOMAIN] = (pair[1], pair[0])  # (cert, key) order is accepted too
        assert _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port) == pair[1]
        assert response.verify_cert(DOMAIN, pair[1])


def test_pyopenssl_key_and_cert_are_accepted() -> None:
    _, _, (key, cert) = tlsalpn01(DOMAIN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = (crypto.PKey.from_cryptography_key(key), crypto.X509.from_cryptography(cert))
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: legacy})) as server:
        assert _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port_of(server)) == cert


def test_a_bad_certificate_mapping_value_is_invalid_argument() -> None:
    from acme._net.tls_server import key_and_cert

    _, _, (key, cert) = tlsalpn01(DOMAIN)
    assert key_and_cert((cert, key)) == (key, cert)  # either order
    with pytest.raises(errors.InvalidArgument, match="pair"):
        key_and_cert(cert)
    with pytest.raises(errors.InvalidArgument, match="pair"):
        key_and_cert((key, key))


@pytest.mark.parametrize("address", [LOOPBACK, LOOPBACK6])
def test_ip_identifier_uses_reverse_name_sni(address: str) -> None:
    # RFC 8738 section 6: SNI is the in-addr.arpa / ip6.arpa name; the SAN is the iPAddress.
    chall, response, pair = tlsalpn01(address)
    family_ipv6 = ":" in address
    if family_ipv6 and not has_ipv6():
        with pytest.raises(OSError):
            standalone.TLSALPN01Server((address, 0), {address: pair}, ipv6=True)
        return
    server = standalone.TLSALPN01Server((address, 0), {address: pair}, ipv6=family_ipv6)
    with serving(server):
        port = port_of(server)
        key = ACCOUNT_KEY.public_key()
        assert _probes.tlsalpn01_simple_verify(response, chall, address, key, port=port)
        reverse = "1.0.0.127.in-addr.arpa" if address == LOOPBACK else "1." + "0." * 31 + "ip6.arpa"
        der, alpn = _handshake(port, reverse, ["acme-tls/1"], host=address)
        assert der is not None
        assert alpn == "acme-tls/1"
        # Negative control: the reverse name of another address is not served.
        other = "2.0.0.127.in-addr.arpa" if address == LOOPBACK else "2." + "0." * 31 + "ip6.arpa"
        with pytest.raises(ssl.SSLError):
            _handshake(port, other, ["acme-tls/1"], host=address)


def test_tls_below_1_2_is_refused() -> None:
    _, _, pair = tlsalpn01(DOMAIN)

    def client(maximum: ssl.TLSVersion) -> ssl.SSLContext:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 constants are deprecated
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_ciphers("ALL:@SECLEVEL=0")
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = maximum
        context.set_alpn_protocols(["acme-tls/1"])
        return context

    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})) as server:
        port = port_of(server)
        for maximum, ok in ((ssl.TLSVersion.TLSv1_2, True), (ssl.TLSVersion.TLSv1_1, False)):
            with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
                if ok:
                    with client(maximum).wrap_socket(sock, server_hostname=DOMAIN) as tls:
                        assert tls.version() == "TLSv1.2"
                else:
                    # The *server* refuses: the client reads its protocol_version alert.
                    with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
                        client(maximum).wrap_socket(sock, server_hostname=DOMAIN)


def test_connection_is_closed_right_after_the_handshake() -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    context = plain_client_context(["acme-tls/1"])
    server = standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})
    with (
        serving(server),
        socket.create_connection((LOOPBACK, port_of(server)), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname=DOMAIN) as tls,
    ):
        tls.settimeout(5)
        assert tls.recv(100) == b""  # close_notify, no data (RFC 8737 section 3)


def test_dual_servers_serve_both_families_on_one_port() -> None:
    _, response, pair = tlsalpn01(DOMAIN)
    with standalone.TLSALPN01DualNetworkedServers(("", 0), {DOMAIN: pair}) as servers:
        servers.serve_forever()
        ports = {name[1] for name in servers.getsocknames()}
        assert len(ports) == 1
        port = ports.pop()
        for host in [LOOPBACK] + ([LOOPBACK6] if has_ipv6() else []):
            assert _probes.tlsalpn01_probe_cert(DOMAIN, host=host, port=port) == pair[1]
    assert response.verify_cert(DOMAIN, pair[1])


def test_tlsserver_without_certificates_refuses() -> None:
    server = standalone.TLSServer((LOOPBACK, 0))
    with serving(server), pytest.raises(errors.Error, match="UNRECOGNIZED_NAME"):
        _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port_of(server))


def test_bad_certificate_entry_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    server = standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: ("key", "cert")})
    with serving(server), pytest.raises(errors.Error, match="INTERNAL_ERROR"):
        _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port_of(server))
    assert "bad certificate entry" in caplog.text


def test_handshake_deadline_counts_from_accept() -> None:
    # A complete ClientHello, then silence: the server gives up at header_timeout, not later.
    _, _, pair = tlsalpn01(DOMAIN)
    server = standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})
    server.header_timeout = 1.0
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sslobj = plain_client_context(["acme-tls/1"]).wrap_bio(
        incoming, outgoing, server_hostname=DOMAIN
    )
    with pytest.raises(ssl.SSLWantReadError):
        sslobj.do_handshake()
    with serving(server), socket.create_connection((LOOPBACK, port_of(server)), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(outgoing.read())
        received = read_all(sock, 5)
        elapsed = time.monotonic() - start
    assert received.startswith(b"\x16\x03\x03")  # the server's flight came ...
    assert 0.9 < elapsed < 1.6  # ... and the close at the deadline
