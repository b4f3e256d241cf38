"""The sync transport on loopback: total deadline (slow headers, dripping body), body cap,
errors catchable as acme and as requests errors, and a watchdog thread that is stopped."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

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
