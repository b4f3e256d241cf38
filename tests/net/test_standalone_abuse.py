"""The standalone servers under abuse, on loopback, bounded in count and time.

Each test keeps a legitimate validation (an http-01 GET or an acme-tls/1 probe) going while the
abuse happens, asserts every one is answered correctly within 1 s, and prints the measured
latencies (run ``pytest -s tests/net/test_standalone_abuse.py`` to see the
``[legit-validation-latency]`` lines).
"""

from __future__ import annotations

import contextlib
import gc
import random
import select
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable

import pytest

from acme import standalone
from support.standalone import (
    LOOPBACK,
    LOOPBACK6,
    has_ipv6,
    http01,
    is_closed_by_peer,
    open_fds,
    port_of,
    read_all,
    report,
    serving,
    status_of,
    timed_tls_probe,
    timed_validation,
    tlsalpn01,
)

BUDGET = 1.0  # seconds a legitimate validation may take under abuse
DOMAIN = "example.com"


def _connect_many(port: int, count: int) -> list[socket.socket]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection((LOOPBACK, port), timeout=5))
    except BaseException:
        _close_all(socks)
        raise
    return socks


def _close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def _drain(sock: socket.socket) -> tuple[bytes, bool]:
    """What the peer sent so far, and whether it closed; never blocks."""
    data = bytearray()
    while select.select([sock], [], [], 0)[0]:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BlockingIOError):
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk
    return bytes(data), False


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _slowloris(
    port: int, opening: bytes, clients: int, legit: Callable[[], float], seconds: float
) -> tuple[list[float], dict[int, float], dict[int, bytes]]:
    """``clients`` connections send ``opening`` then one byte per second for ``seconds``,
    while ``legit`` runs every 0.1 s. Returns (latencies, close times, what each received)."""
    drippers = _connect_many(port, clients)
    try:
        for sock in drippers:
            sock.sendall(opening)
        start = time.monotonic()
        next_drip = start + 1.0
        closed: dict[int, float] = {}
        received: dict[int, bytes] = {index: b"" for index in range(clients)}
        latencies: list[float] = []
        while time.monotonic() - start < seconds:
            if time.monotonic() >= next_drip:
                next_drip += 1.0
                for index, sock in enumerate(drippers):
                    if index not in closed:
                        with contextlib.suppress(OSError):
                            sock.send(b"A")
            latencies.append(legit())
            for index, sock in enumerate(drippers):
                if index not in closed:
                    data, eof = _drain(sock)
                    received[index] += data
                    if eof:
                        closed[index] = time.monotonic() - start
            time.sleep(0.1)
        return latencies, closed, received
    finally:
        _close_all(drippers)


# --- http-01 --------------------------------------------------------------------------------


def test_http01_200_idle_connections(record_property: Callable[[str, object], None]) -> None:
    chall, _, resource = http01(30)
    server = standalone.HTTP01Server((LOOPBACK, 0), {resource})
    threads_before = threading.active_count()
    with serving(server):
        port = port_of(server)
        idle = _connect_many(port, 200)
        try:
            latencies = [timed_validation(port, chall, resource.validation) for _ in range(10)]
            assert threading.active_count() <= threads_before + server.max_connections + 5
            # Full at 128: the oldest idle connections were dropped for newer ones ...
            dropped = 200 - server.max_connections
            assert _wait_until(lambda: all(is_closed_by_peer(s) for s in idle[:dropped]), 2)
            # ... and the newest are still held (the cap, not a blanket timeout, did it).
            assert not any(is_closed_by_peer(sock) for sock in idle[-100:])
        finally:
            _close_all(idle)
    print()
    report("http-01, 200 idle connections", latencies, record_property)
    assert max(latencies) < BUDGET


def test_http01_slowloris(record_property: Callable[[str, object], None]) -> None:
    chall, _, resource = http01(31)
    server = standalone.HTTP01Server((LOOPBACK, 0), {resource})
    server.header_timeout = 2.5  # the default is 10 s; shortened to keep the test short
    with serving(server):
        port = port_of(server)
        latencies, closed, received = _slowloris(
            port,
            b"GET /.well-known/acme-challenge/",
            10,
            lambda: timed_validation(port, chall, resource.validation),
            4.0,
        )
    print()
    report("http-01, 10 slowloris clients at 1 byte/s", latencies, record_property)
    assert max(latencies) < BUDGET
    # The deadline is total: dripping a byte every second (well under any per-read timeout)
    # did not keep the connections past 2.5 s; each got a 408 answer before the close.
    assert sorted(closed) == list(range(10))
    assert all(2.3 < when < 3.5 for when in closed.values()), closed
    assert all(status_of(answer) == 408 for answer in received.values())


def _malformed_http(token_path: str) -> list[bytes]:
    traversals = [
        "/.well-known/acme-challenge/../../etc/passwd",
        "/.well-known/acme-challenge/..%2f..%2fetc%2fpasswd",
        "/.well-known/acme-challenge/%2e%2e/%2e%2e/etc/passwd",
        "/.well-known/acme-challenge/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/.well-known/acme-challenge/%252e%252e%252fetc%252fpasswd",
        "/.well-known/acme-challenge/..\\..\\etc\\passwd",
        "/.well-known/acme-challenge/....//....//etc/passwd",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/.well-known/acme-challenge/../../pyproject.toml",
        "/pyproject.toml",
        token_path + "/../../../etc/passwd",
        token_path + "%00",
        token_path + "/",
        token_path + "?download=1",
        token_path.lower(),
        "/.well-known/acme-challenge/",
        "/.well-known/acme-challenge",
        "http://example.com/../../etc/passwd",
    ]
    requests = [
        f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n"
        for path in traversals
        for method in ("GET", "HEAD")
    ]
    payloads = [request.encode("ascii") for request in requests]
    payloads += [
        b"GARBAGE\r\n\r\n",
        b"\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / FOO/1.1\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",  # TLS on the HTTP port
        b"\x00\xff" * 50 + b"\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",  # request line over the cap
        b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n",  # huge header
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /\u00e9t\u00e9 HTTP/1.1\r\n\r\n".encode(),
        b"BREW /pot HTTP/1.1\r\n\r\n",
    ]
    return payloads


def _reset_after_request(port: int, request: bytes) -> None:
    """Send a request and reset the connection at once (the server's write then fails)."""
    sock = socket.create_connection((LOOPBACK, port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.sendall(request)
    sock.close()


def test_http01_50_malformed_requests(
    record_property: Callable[[str, object], None], capfd: pytest.CaptureFixture[str]
) -> None:
    chall, _, resource = http01(32)
    payloads = _malformed_http(chall.path)
    assert len(payloads) >= 50
    answers: dict[int, bytes] = {}
    failures: list[BaseException] = []
    server = standalone.HTTP01Server((LOOPBACK, 0), {resource})
    with serving(server):
        port = port_of(server)

        def attack(indices: range) -> None:
            try:
                for index in indices:
                    answers[index] = raw_http_quiet(port, payloads[index])
                for _ in range(5):
                    _reset_after_request(port, f"GET {chall.path} HTTP/1.1\r\n\r\n".encode())
            except BaseException as error:  # reported below
                failures.append(error)

        workers = [
            threading.Thread(target=attack, args=(range(i, len(payloads), 5),)) for i in range(5)
        ]
        for worker in workers:
            worker.start()
        latencies: list[float] = []
        deadline = time.monotonic() + 20
        while any(worker.is_alive() for worker in workers) and time.monotonic() < deadline:
            latencies.append(timed_validation(port, chall, resource.validation))
        for worker in workers:
            worker.join(10)
        latencies.append(timed_validation(port, chall, resource.validation))
    _, err = capfd.readouterr()
    with capfd.disabled():
        print()
        report(f"http-01, {len(payloads)} malformed requests", latencies, record_property)
    assert "Traceback" not in err
    assert not failures, failures
    assert max(latencies) < BUDGET
    assert sorted(answers) == list(range(len(payloads)))
    for index, answer in answers.items():
        status = status_of(answer)  # always an answer, with a status line
        assert status in (400, 404, 414, 431, 501, 505), (payloads[index][:80], answer[:120])
        assert b"root:" not in answer
        assert b"[build-system]" not in answer
        assert resource.validation.encode("ascii") not in answer


def raw_http_quiet(port: int, request: bytes) -> bytes:
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        return read_all(sock, 5)


def test_traceback_check_can_fail(capfd: pytest.CaptureFixture[str]) -> None:
    # Control for the "no traceback" assertion: the stdlib server does print one.
    class Failing(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            raise ValueError("handler bug")

    with (
        socketserver.TCPServer((LOOPBACK, 0), Failing) as server,
        socket.create_connection((LOOPBACK, port_of(server)), timeout=5),
    ):
        server.handle_request()
    _, err = capfd.readouterr()
    assert "Traceback" in err


# --- tls-alpn-01 ----------------------------------------------------------------------------


def test_tlsalpn01_200_idle_connections(record_property: Callable[[str, object], None]) -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    server = standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})
    with serving(server):
        port = port_of(server)
        idle = _connect_many(port, 200)
        try:
            latencies = [timed_tls_probe(port, DOMAIN, pair[1]) for _ in range(10)]
            dropped = 200 - server.max_connections
            assert _wait_until(lambda: all(is_closed_by_peer(s) for s in idle[:dropped]), 2)
            assert not any(is_closed_by_peer(sock) for sock in idle[-100:])
        finally:
            _close_all(idle)
    print()
    report("tls-alpn-01, 200 idle connections", latencies, record_property)
    assert max(latencies) < BUDGET


def test_tlsalpn01_slowloris(record_property: Callable[[str, object], None]) -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    server = standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})
    server.header_timeout = 2.5
    with serving(server):
        port = port_of(server)
        latencies, closed, _ = _slowloris(
            port,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a ClientHello announcing 512 bytes
            10,
            lambda: timed_tls_probe(port, DOMAIN, pair[1]),
            4.0,
        )
    print()
    report("tls-alpn-01, 10 slowloris handshakes at 1 byte/s", latencies, record_property)
    assert max(latencies) < BUDGET
    assert sorted(closed) == list(range(10))
    assert all(2.3 < when < 3.5 for when in closed.values()), closed


def _malformed_tls() -> list[bytes]:
    rng = random.Random(8737)
    payloads = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))) for _ in range(20)]
    payloads += [
        b"\x16\x03\x01" + bytes([0, n]) + bytes(rng.randrange(256) for _ in range(n))
        for n in range(10, 250, 16)
    ]  # handshake records with random bodies
    payloads += [
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"\x16\x03\x01\xff\xff" + b"\x01" * 100,  # oversized record
        b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",  # ServerHello from a client
        b"\x15\x03\x03\x00\x02\x02\x28",  # an alert first
        b"\x80\x2e\x01\x00\x02\x00\x15",  # SSLv2-style hello
        b"\x16\x03\x01\x00\x00",  # empty record
        b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00",  # truncated hello body
        b"\x16" * 5000,
        b"",
        b"\x16\x03\x01\x00\x05\x01\x00",  # closed mid-record
    ]
    payloads += [b"\x00" * n for n in (1, 5, 17, 4096, 20000, 65536)]
    return payloads


def test_tlsalpn01_50_malformed_handshakes(
    record_property: Callable[[str, object], None], capfd: pytest.CaptureFixture[str]
) -> None:
    _, _, pair = tlsalpn01(DOMAIN)
    payloads = _malformed_tls()
    assert len(payloads) >= 50
    server = standalone.TLSALPN01Server((LOOPBACK, 0), {DOMAIN: pair})
    closed_within: list[float] = []
    latencies: list[float] = []
    with serving(server):
        port = port_of(server)
        for index, payload in enumerate(payloads):
            with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
                start = time.monotonic()
                with contextlib.suppress(OSError):
                    sock.sendall(payload)
                    sock.shutdown(socket.SHUT_WR)
                answer = read_all(sock, 3)  # the server ends it (TimeoutError otherwise)
                closed_within.append(time.monotonic() - start)
                # Nothing but an alert record may come back.
                assert answer == b"" or answer.startswith(b"\x15\x03\x03"), (index, answer[:20])
            if index % 5 == 0:
                latencies.append(timed_tls_probe(port, DOMAIN, pair[1]))
        latencies.append(timed_tls_probe(port, DOMAIN, pair[1]))
    _, err = capfd.readouterr()
    with capfd.disabled():
        print()
        report(f"tls-alpn-01, {len(payloads)} malformed handshakes", latencies, record_property)
    assert "Traceback" not in err
    assert max(latencies) < BUDGET
    assert max(closed_within) < 1.0


# --- shutdown -------------------------------------------------------------------------------


def test_shutdown_within_2s_with_clients_connected() -> None:
    chall, _, resource = http01(33)
    _, _, pair = tlsalpn01(DOMAIN)
    fds_before = open_fds()
    threads_before = set(threading.enumerate())
    http_servers = standalone.HTTP01DualNetworkedServers(("", 0), {resource})
    tls_servers = standalone.TLSALPN01DualNetworkedServers(("", 0), {DOMAIN: pair})
    clients: list[socket.socket] = []
    try:
        http_servers.serve_forever()
        tls_servers.serve_forever()
        http_port = http_servers.getsocknames()[0][1]
        tls_port = tls_servers.getsocknames()[0][1]
        clients += _connect_many(http_port, 20) + _connect_many(tls_port, 20)
        for sock in _connect_many(http_port, 5):
            sock.sendall(b"GET /.well-known/acme-")  # mid-request
            clients.append(sock)
        for sock in _connect_many(tls_port, 5):
            sock.sendall(b"\x16\x03\x01\x02\x00")  # mid-ClientHello
            clients.append(sock)
        if has_ipv6():
            clients.append(socket.create_connection((LOOPBACK6, http_port), timeout=5))
        timed_validation(http_port, chall, resource.validation)  # the servers are serving
        timed_tls_probe(tls_port, DOMAIN, pair[1])
        # 50 connections are held, but waiting for their request head costs them no thread.
        # (4 serve_forever threads, at most 4 gates, the last validations' workers finishing.)
        assert len(threading.enumerate()) <= len(threads_before) + 4 + 4 + 2
        assert not any(is_closed_by_peer(sock) for sock in clients)

        for servers in (http_servers, tls_servers):
            start = time.monotonic()
            servers.shutdown_and_server_close()
            elapsed = time.monotonic() - start
            print(f"\n[shutdown] {type(servers).__name__}: {elapsed * 1000:.0f} ms")
            assert elapsed < 2.0
        # Every server and handler thread is gone, and every client was hung up on.
        assert set(threading.enumerate()) <= threads_before
        assert _wait_until(lambda: all(is_closed_by_peer(sock) for sock in clients), 2)
    finally:
        _close_all(clients)
        http_servers.shutdown_and_server_close()
        tls_servers.shutdown_and_server_close()
    gc.collect()  # a leaked socket would raise ResourceWarning here (an error under pytest)
    fds_after = open_fds()
    if fds_before is not None and fds_after is not None:
        # Nothing leaked; earlier tests' garbage may even have been closed meanwhile.
        assert fds_after <= fds_before
