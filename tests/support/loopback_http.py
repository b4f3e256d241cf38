"""Loopback servers for network-option tests: an HTTP server that records who asked what, and
a CONNECT proxy (RFC 9110 section 9.3.6) that records its tunnels and can drip bytes.

Both listen on 127.0.0.1 only, tunnel only to loopback, bound every socket operation by a
timeout, and close every socket and thread on exit (pytest runs with warnings as errors).
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import select
import socket
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["ConnectProxy", "RecordingHTTPServer"]

_IO_TIMEOUT = 10.0


class RecordingHTTPServer:
    """Answers every GET/HEAD/POST with ``200 {}`` and records ``(peer host, method, path,
    headers)`` per request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = _IO_TIMEOUT

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                owner.requests.append(
                    (self.client_address[0], self.command, self.path, dict(self.headers.items()))
                )
                body = json.dumps({}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Replay-Nonce", "AAAAAAAAAAAAAAAAAAAAAA")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = False
        self.server.block_on_close = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(_IO_TIMEOUT)

    def __enter__(self) -> RecordingHTTPServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ConnectProxy:
    """A CONNECT-only HTTP proxy on 127.0.0.1 that tunnels to loopback targets.

    ``tunnels`` lists each ``host:port`` asked for. With ``drip`` (seconds), bytes from the
    target reach the client one at a time, that far apart: every read completes well within
    any per-read timeout, the whole answer never within a short total deadline.
    """

    def __init__(self, drip: float = 0.0) -> None:
        self.drip = drip
        self.tunnels: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,))
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(_IO_TIMEOUT)
            try:
                head = _read_head(conn)
                method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            except (OSError, ValueError):
                return
            if method != "CONNECT":
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append(target)
            host, _, port = target.rpartition(":")
            host = host.strip("[]")
            if not _is_loopback(host):  # tests never reach beyond loopback
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = socket.create_connection((host, int(port)), _IO_TIMEOUT)
            except OSError:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pump(conn, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        while not self._stop.is_set():
            readable, _, _ = select.select(sockets, [], [], 0.05)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                other = upstream if sock is client else client
                try:
                    if sock is upstream and self.drip:
                        for index in range(len(data)):
                            if self._stop.is_set():
                                return
                            other.sendall(data[index : index + 1])
                            time.sleep(self.drip)
                    else:
                        other.sendall(data)
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(_IO_TIMEOUT)
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(_IO_TIMEOUT)

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > 16384:
            raise ValueError("no request head")
        data += chunk
    return data


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
