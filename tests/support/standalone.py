"""Helpers for the standalone-server and probe tests: loopback only, every wait bounded."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, standalone
from acme._net import probes as _probes

ACCOUNT_KEY = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
OTHER_ACCOUNT_KEY = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
LOOPBACK = "127.0.0.1"
LOOPBACK6 = "::1"
Resource = standalone.HTTP01RequestHandler.HTTP01Resource


def plain_client_context(alpn: list[str] | None = None) -> ssl.SSLContext:
    """A stdlib TLS client that checks nothing (challenge certificates are self-signed),
    written independently of the library's own client context, to test its servers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def has_ipv6() -> bool:
    """Whether ::1 can be bound on this machine."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK6, 0))
    except OSError:
        return False
    return True


def token(seed: int) -> bytes:
    """A distinct 16-byte (128-bit, RFC 8555 section 11.3) token."""
    return seed.to_bytes(2, "big") * 8


def http01(seed: int = 1, key: jwk.JWK = ACCOUNT_KEY) -> tuple[challenges.HTTP01, Any, Any]:
    """``(challenge, response, resource)`` for an http-01 challenge answered with ``key``."""
    chall = challenges.HTTP01(token=token(seed))
    response, validation = chall.response_and_validation(key)
    return chall, response, Resource(chall, response, validation)


def tlsalpn01(
    domain: str, seed: int = 1, key: jwk.JWK = ACCOUNT_KEY
) -> tuple[challenges.TLSALPN01, Any, tuple[Any, Any]]:
    """``(challenge, response, (cert key, cert))`` with a fast EC certificate key."""
    chall = challenges.TLSALPN01(token=token(seed))
    response = chall.response(key)
    cert, cert_key = response.gen_cert(domain, key=ec.generate_private_key(ec.SECP256R1()))
    return chall, response, (cert_key, cert)


@contextlib.contextmanager
def serving(server: Any, poll_interval: float = 0.1) -> Iterator[Any]:
    """Run ``server.serve_forever`` in a thread; shut down, close and join on exit."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, name="test-serve"
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        assert not thread.is_alive()


def port_of(server: Any) -> int:
    return int(server.socket.getsockname()[1])


def read_all(sock: socket.socket, timeout: float = 5.0, limit: int = 1 << 20) -> bytes:
    """Everything until EOF (or reset), waiting at most ``timeout`` seconds in total."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no EOF within {timeout} s; got {bytes(data[:200])!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def raw_http(port: int, request: bytes, host: str = LOOPBACK, timeout: float = 5.0) -> bytes:
    """Send ``request`` as is and return the whole answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer (and close) mid-request
            sock.sendall(request)
        return read_all(sock, timeout)


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer (AssertionError if it is not one)."""
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> bytes:
    return answer.split(b"\r\n\r\n", 1)[1]


def timed_validation(port: int, chall: challenges.HTTP01, expected: str) -> float:
    """Seconds a validation-style GET took; asserts it was answered correctly."""
    start = time.monotonic()
    request = f"GET {chall.path} HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
    answer = raw_http(port, request.encode("ascii"), timeout=5.0)
    elapsed = time.monotonic() - start
    assert status_of(answer) == 200, answer[:200]
    assert body_of(answer) == expected.encode("ascii")
    return elapsed


def timed_tls_probe(port: int, domain: str, cert: Any) -> float:
    """Seconds an acme-tls/1 probe took; asserts it returned ``cert``."""
    start = time.monotonic()
    got = _probes.tlsalpn01_probe_cert(domain, host=LOOPBACK, port=port, timeout=5.0)
    elapsed = time.monotonic() - start
    assert got == cert
    return elapsed


def report(name: str, latencies: list[float], record_property: Any = None) -> str:
    """Print (visible with ``pytest -s``) and record the latency summary of one abuse test."""
    line = (
        f"[legit-validation-latency] {name}: n={len(latencies)} "
        f"median={statistics.median(latencies) * 1000:.1f} ms "
        f"max={max(latencies) * 1000:.1f} ms"
    )
    print(line)
    if record_property is not None:
        record_property("legit_latency_max_ms", round(max(latencies) * 1000, 1))
    return line


def is_closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer closed ``sock`` (readable with EOF or reset), without blocking."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        sock.setblocking(False)
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except BlockingIOError:
        return False


def open_fds() -> int | None:
    """Open file descriptors of this process, where /proc tells (None elsewhere)."""
    path = "/proc/self/fd"
    return len(os.listdir(path)) if os.path.isdir(path) else None


@contextlib.contextmanager
def drip_server(payload: bytes, interval: float) -> Iterator[int]:
    """A loopback server sending ``payload`` one byte every ``interval`` s to one client."""
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def run() -> None:
        conn = None
        while conn is None and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = listener.accept()
        if conn is None:
            return
        with conn:
            for byte in payload:
                if stop.wait(interval):
                    break
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
            stop.wait(10)

    thread = threading.Thread(target=run, name="drip-server")
    thread.start()
    try:
        yield port_of_socket(listener)
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        assert not thread.is_alive()


def port_of_socket(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A listening socket that never accepts: connections succeed, then nothing happens."""
    with socket.create_server((LOOPBACK, 0), backlog=8) as listener:
        yield port_of_socket(listener)
