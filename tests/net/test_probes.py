"""The network probes and self-checks (acme._net.probes) and the TLS plumbing (acme._net.tls):
total deadlines, size caps, ClientHello parsing, SNI names for IP identifiers, legacy SSLSocket."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time

import pytest

from acme import errors, standalone
from acme._net import probes as _probes
from acme._net import tls as _tls
from acme._net import tls_server as _tls_server
from acme._wire import identifiers
from support.standalone import (
    ACCOUNT_KEY,
    LOOPBACK,
    Resource,
    drip_server,
    http01,
    port_of,
    serving,
    silent_server,
    tlsalpn01,
)

DOMAIN = "example.com"


def _client_hello(server_name: str | None, alpn: list[str] | None) -> bytes:
    """The first flight (ClientHello records) of a real stdlib TLS client."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sslobj = _tls.client_context(alpn).wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        sslobj.do_handshake()
    return outgoing.read()


def _refragment(records: bytes, size: int) -> bytes:
    """The same handshake bytes re-cut into TLS records of at most ``size`` bytes."""
    assert records[0] == 22
    body = records[5 : 5 + int.from_bytes(records[3:5], "big")]
    out = bytearray()
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        out += bytes([22, 3, 1]) + len(piece).to_bytes(2, "big") + piece
    return bytes(out)


def _read_hello(data: bytes, timeout: float = 2.0) -> _tls.ClientHello:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(data)
        left.shutdown(socket.SHUT_WR)
        return _tls.read_client_hello(right, time.monotonic() + timeout)


# --- ClientHello parsing --------------------------------------------------------------------


def test_client_hello_sni_and_alpn_are_read() -> None:
    data = _client_hello(DOMAIN, ["acme-tls/1", "h2"])
    hello = _read_hello(data)
    assert hello.server_name == DOMAIN
    assert hello.get_servername() == DOMAIN.encode("ascii")
    assert hello.alpn_protocols == (b"acme-tls/1", b"h2")
    assert hello.raw == data
    bare = _read_hello(_client_hello(None, None))
    assert bare.server_name is None
    assert bare.alpn_protocols == ()


def test_fragmented_client_hello_is_reassembled() -> None:
    data = _client_hello(DOMAIN, ["acme-tls/1"])
    fragmented = _refragment(data, 50)
    assert fragmented.count(b"\x16\x03\x01") > 3
    hello = _read_hello(fragmented)
    assert (hello.server_name, hello.alpn_protocols) == (DOMAIN, (b"acme-tls/1",))
    assert hello.raw == fragmented


def test_fragmented_client_hello_completes_a_real_handshake() -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})) as server:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        context = _tls.client_context(["acme-tls/1"])
        sslobj = context.wrap_bio(incoming, outgoing, server_hostname=DOMAIN)
        with pytest.raises(ssl.SSLWantReadError):
            sslobj.do_handshake()
        with socket.create_connection((LOOPBACK, port_of(server)), timeout=5) as sock:
            sock.sendall(_refragment(outgoing.read(), 64))
            _tls.handshake(sslobj, incoming, outgoing, sock, time.monotonic() + 5)
        assert sslobj.selected_alpn_protocol() == "acme-tls/1"


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n\r\n",  # not TLS
        b"\x17\x03\x03\x00\x05hello",  # application data, not handshake
        b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",  # a ServerHello
        b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00",  # truncated body
        b"\x16\x03\x01\xff\xff",  # record length over 2^14
        b"\x16\x03\x01\x00\x05\x01\x00",  # connection closed mid-record
    ],
)
def test_malformed_client_hello_is_a_hello_error(data: bytes) -> None:
    with pytest.raises(_tls.HelloError):
        _read_hello(data)


def test_duplicate_extension_is_rejected() -> None:
    def hello_body(extensions: bytes) -> bytes:
        # version, random, empty session id, one cipher suite, null compression, extensions
        fixed = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
        return fixed + len(extensions).to_bytes(2, "big") + extensions

    name = b"a.example"
    entry = b"\x00" + len(name).to_bytes(2, "big") + name  # host_name
    names = len(entry).to_bytes(2, "big") + entry
    sni = b"\x00\x00" + len(names).to_bytes(2, "big") + names
    with pytest.raises(_tls.HelloError, match="duplicate"):
        _tls.parse_client_hello(hello_body(sni + sni))
    assert _tls.parse_client_hello(hello_body(sni)) == ("a.example", ())  # control: once is fine


def test_slow_client_hello_hits_the_deadline() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"\x16\x03\x01\x02\x00\x01")  # a record announcing 512 bytes, then silence
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            _tls.read_client_hello(right, start + 0.3)
        assert 0.25 < time.monotonic() - start < 1.0


# --- names ----------------------------------------------------------------------------------


def test_lookup_normalises_keys() -> None:
    mapping = {b"Example.COM.": "dns", "192.0.2.5": "v4", "2001:DB8:0::1": "v6"}
    assert _tls_server.lookup(mapping, "example.com") == "dns"
    assert _tls_server.lookup(mapping, "5.2.0.192.in-addr.arpa") == "v4"
    assert _tls_server.lookup(mapping, identifiers.sni_name("2001:db8::1")) == "v6"
    assert _tls_server.lookup(mapping, "other.example") is None
    assert _tls_server.lookup(mapping, None) is None


# --- total deadlines ------------------------------------------------------------------------


def test_probe_times_out_against_a_silent_server() -> None:
    with silent_server() as port:
        start = time.monotonic()
        with pytest.raises(errors.Error) as caught:
            _probes.probe_sni(DOMAIN, LOOPBACK, port=port, timeout=1)
        elapsed = time.monotonic() - start
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert 0.9 < elapsed < 1.5


def test_probe_deadline_is_total_against_a_dripping_server() -> None:
    # A record header, then one byte every 0.1 s: each read succeeds well within a per-read
    # timeout, so only a total deadline ends the probe.
    payload = b"\x16\x03\x03\x10\x00" + b"\x02" * 200
    with drip_server(payload, 0.1) as port:
        start = time.monotonic()
        with pytest.raises(errors.Error):
            _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port, timeout=1)
        elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 1.5


def test_http01_self_check_times_out_against_a_silent_server() -> None:
    chall, response, _ = http01(20)
    with silent_server() as port:
        start = time.monotonic()
        assert not _probes.http01_simple_verify(
            response, chall, LOOPBACK, ACCOUNT_KEY.public_key(), port=port, timeout=1
        )
        assert 0.9 < time.monotonic() - start < 1.5


def test_http01_self_check_deadline_is_total_against_a_dripping_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chall, response, _ = http01(21)
    payload = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    threads_before = threading.active_count()
    with drip_server(payload, 0.05) as port, caplog.at_level(logging.INFO, "acme._net.probes"):
        start = time.monotonic()
        assert not _probes.http01_simple_verify(
            response, chall, LOOPBACK, ACCOUNT_KEY.public_key(), port=port, timeout=1
        )
        elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 1.5
    assert "within 1 s" in caplog.text
    assert threading.active_count() == threads_before  # the watchdog timer is gone


def test_http01_self_check_caps_the_body(caplog: pytest.LogCaptureFixture) -> None:
    chall, response, resource = http01(22)
    # Trailing whitespace is trimmed, so without the cap this body would verify.
    resources = {Resource(chall, response, resource.validation + " " * (1 << 20))}
    key = ACCOUNT_KEY.public_key()
    with serving(standalone.HTTP01Server((LOOPBACK, 0), resources)) as server:
        port = port_of(server)
        with caplog.at_level(logging.INFO, "acme._net.probes"):
            assert not _probes.http01_simple_verify(
                response, chall, LOOPBACK, key, port=port, timeout=5
            )
        assert "body over" in caplog.text
        resources.clear()
        resources.add(Resource(chall, response, resource.validation + " " * 1000))  # control
        assert _probes.http01_simple_verify(response, chall, LOOPBACK, key, port=port, timeout=5)


# --- arguments ------------------------------------------------------------------------------


def test_probe_sni_accepts_the_1x_bytes_arguments() -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    with serving(standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})) as server:
        cert = _probes.probe_sni(
            DOMAIN.encode("ascii"),
            LOOPBACK.encode("ascii"),
            port=port_of(server),
            timeout=5,
            alpn_protocols=[b"acme-tls/1"],
        )
    assert cert == pair[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": 7}, "SNI name"),
        ({"host": None}, "host"),
        ({"timeout": 0}, "timeout"),
        ({"port": "443"}, "TCP port"),
        ({"name": b"\xff"}, "ASCII"),
    ],
)
def test_probe_sni_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": DOMAIN, "host": LOOPBACK, "port": 443, "timeout": 1}
    arguments.update(kwargs)
    with pytest.raises(errors.InvalidArgument, match=message):
        _probes.probe_sni(**arguments)  # type: ignore[arg-type]


def test_probe_of_a_closed_port_is_an_error_with_cause() -> None:
    with socket.create_server((LOOPBACK, 0)) as listener:
        port = listener.getsockname()[1]
    with pytest.raises(errors.Error, match="TLS probe") as caught:
        _probes.tlsalpn01_probe_cert(DOMAIN, host=LOOPBACK, port=port, timeout=2)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


# --- legacy SSLSocket -----------------------------------------------------------------------


def test_sslsocket_chooses_the_certificate_by_sni_and_carries_data() -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    listener = socket.create_server((LOOPBACK, 0))
    with pytest.warns(DeprecationWarning, match="SSLSocket"):
        wrapped = _probes.SSLSocket(
            listener, {DOMAIN: pair}, alpn_selection=lambda hello, offered: offered[-1]
        )
    outcome: dict[str, object] = {}

    def serve() -> None:
        with contextlib.suppress(OSError), listener:
            for _ in range(2):
                try:
                    conn, _ = wrapped.accept()
                except OSError as error:
                    outcome["refused"] = error
                    continue
                with conn:
                    outcome["sni"] = conn.get_servername()
                    outcome["alpn"] = conn.selected_alpn_protocol()
                    conn.sendall(conn.recv(100).upper())
                    conn.shutdown()

    listener.settimeout(5)
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        context = _tls.client_context(["x", "acme-tls/1"])
        with (
            socket.create_connection((LOOPBACK, port_of_listener(listener)), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname=DOMAIN) as tls,
        ):
            tls.sendall(b"ping")
            assert tls.recv(100) == b"PING"
            assert tls.getpeercert(binary_form=True) is not None
        with (  # negative control: unknown name
            socket.create_connection((LOOPBACK, port_of_listener(listener)), timeout=5) as sock,
            pytest.raises(ssl.SSLError),
        ):
            context.wrap_socket(sock, server_hostname="unknown.example")
    finally:
        thread.join(10)
    assert not thread.is_alive()
    assert outcome["sni"] == DOMAIN.encode("ascii")
    assert outcome["alpn"] == "acme-tls/1"
    assert isinstance(outcome["refused"], OSError)


def port_of_listener(listener: socket.socket) -> int:
    return int(listener.getsockname()[1])
