"""The sync transport on loopback: total deadline (slow headers, dripping body), body cap,
errors catchable as acme and as requests errors, and a watchdog thread that is stopped."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from acme import errors
from acme._core.http import HTTPRequest
from acme._net.sync_transport import RequestsTransport


def _server(answer: bytes, drip: float) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    for index in range(len(answer)):
                        if stop.is_set():
                            break
                        conn.sendall(answer[index : index + 1])
                        if drip:
                            time.sleep(drip)
                except OSError:
                    pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(10)
        listener.close()


BODY = b'{"ok": true}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n" + BODY


def _get(port: int, timeout: float, max_body: int = 1 << 20) -> object:
    transport = RequestsTransport(verify=False, timeout=timeout, max_body=max_body)
    try:
        return transport.send(HTTPRequest("GET", f"http://127.0.0.1:{port}/"))
    finally:
        transport.close()
        assert transport.watchdog._thread is None  # the watchdog thread was joined


def test_a_prompt_answer_is_read() -> None:
    for port in _server(OK, drip=0.0):
        response = _get(port, timeout=5)
        assert response.json() == {"ok": True}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "answer",
    [OK, OK[: -len(BODY)] + b"x" * 100],  # dripping headers and body; a dripped body
    ids=["headers", "body"],
)
def test_a_dripping_server_hits_the_total_deadline(answer: bytes) -> None:
    """Every byte arrives well within the per-read timeout, the whole never within 1 s."""
    for port in _server(answer, drip=0.1):
        started = time.monotonic()
        with pytest.raises(errors.NetworkError, match="no complete response in 1") as failed:
            _get(port, timeout=1.0)
        assert time.monotonic() - started < 2.5
        assert isinstance(failed.value, requests.exceptions.RequestException)


def test_bodies_over_the_cap_are_refused() -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"z" * 5000
    for port in _server(big, drip=0.0):
        with pytest.raises(errors.NetworkError, match="exceeds 1000"):
            _get(port, timeout=5, max_body=1000)


def test_connection_refused_is_a_network_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    with pytest.raises(errors.NetworkError) as failed:
        _get(port, timeout=2)
    assert failed.value.__cause__ is not None


def test_the_deadline_holds_after_many_prompt_requests_on_one_transport() -> None:
    """Finished requests stay in the watchdog's heap without waking its thread; a later
    request that hangs must still be cut at its own deadline (timeout 1 s, and 0.5 s when the
    caller has less time left)."""
    transport = RequestsTransport(verify=False, timeout=1.0, max_body=1 << 20)
    try:
        for prompt in _server(OK, drip=0.0):
            for _ in range(20):
                response = transport.send(HTTPRequest("GET", f"http://127.0.0.1:{prompt}/"))
                assert response.json() == {"ok": True}
        for slow in _server(OK, drip=0.1):
            for timeout, limit in ((None, 1.0), (0.5, 0.5)):
                started = time.monotonic()
                with pytest.raises(errors.NetworkError, match="no complete response"):
                    transport.send(HTTPRequest("GET", f"http://127.0.0.1:{slow}/"), timeout)
                assert limit - 0.05 <= time.monotonic() - started < limit + 0.5
    finally:
        transport.close()
    assert transport.watchdog._thread is None


def test_gzip_bodies_are_decoded_and_the_cap_applies_to_the_decoded_size() -> None:
    body = gzip.compress(b'{"ok": true}' + b" " * 5000)
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    for port in _server(answer, drip=0.0):
        response = _get(port, timeout=5)
        assert response.json() == {"ok": True}  # type: ignore[attr-defined]
        with pytest.raises(errors.NetworkError, match="exceeds 1000"):
            _get(port, timeout=5, max_body=1000)  # 100-odd bytes on the wire, 5 kB decoded


def test_tls_trust_follows_verify_and_the_requests_ca_bundle_variables(
    acme_test_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What requests would trust: ``verify`` as a CA bundle path; with ``verify=True``,
    ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``), else certifi's bundle."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    url = acme_test_server.directory_url
    bundle = acme_test_server.ca_bundle_path

    def fetch(verify: bool | str) -> int:
        transport = RequestsTransport(verify=verify, timeout=5)
        try:
            return transport.send(HTTPRequest("GET", url)).status_code
        finally:
            transport.close()

    assert fetch(bundle) == 200
    with pytest.raises(errors.NetworkError, match=r"SSL|certificate"):
        fetch(True)  # certifi does not know the test CA
    monkeypatch.setenv("CURL_CA_BUNDLE", bundle)
    assert fetch(True) == 200
