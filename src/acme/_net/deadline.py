"""Total deadlines for blocking HTTP requests: one watchdog thread shuts down late sockets.

``requests``/urllib3 only bound each socket operation, so a server dripping one byte per
timeout could hold a request forever. A `Watchdog` keeps the deadline of every request in
flight; connections register themselves (through the urllib3 pool classes below) with the
request running on their thread, and when a deadline passes the watchdog shuts their sockets
down, which wakes the blocked read. One thread serves every request of a transport, started on
first use and joined by `Watchdog.close`, so a request costs a heap push, not a thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

import urllib3

__all__ = ["Watchdog", "watched_pool_classes"]

_current = threading.local()


class _Request:
    __slots__ = ("connections", "deadline", "done", "expired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connections: list[Any] = []
        self.done = False
        self.expired = False


class Watchdog:
    """Enforces total deadlines of the requests run inside `Watchdog.request`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Request]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextlib.contextmanager
    def request(self, timeout: float) -> Any:
        """Run one request with a total deadline; yields its record (``.expired`` after)."""
        record = _Request(time.monotonic() + timeout)
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="acme-request-deadlines", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._heap, (record.deadline, next(self._order), record))
            self._cond.notify()
        previous = getattr(_current, "request", None)
        _current.request = record
        try:
            yield record
        finally:
            _current.request = previous
            with self._cond:
                record.done = True

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, _, record = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                record.expired = True
                for connection in record.connections:
                    _shutdown(connection)

    def close(self) -> None:
        """Stop the watchdog thread (requests still running keep their per-read timeouts)."""
        thread = self.stop()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def stop(self) -> threading.Thread | None:
        """Tell the thread to end, without waiting; return it (to join, if wanted)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread, self._thread = self._thread, None
        return thread


def _register(item: Any) -> None:
    record: _Request | None = getattr(_current, "request", None)
    if record is None or item in record.connections:
        return
    record.connections.append(item)
    if record.expired:
        _shutdown(item)


def _shutdown(item: Any) -> None:
    """Shut down a raw socket, or an urllib3 connection's socket, waking its blocked reader."""
    sock = item if isinstance(item, socket.socket) else getattr(item, "sock", None)
    if isinstance(sock, socket.socket) and sock.fileno() != -1:
        # The plain socket method even for an SSLSocket: SSLSocket.shutdown would unwrap the
        # SSL object under the thread blocked reading from it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched:
    """Registers with the running request: the raw socket as soon as it exists (so a slow TLS
    handshake is cut too), the connection when it connects or is reused for a request."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        _register(sock)
        return sock

    def connect(self) -> None:
        _register(self)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def watched_pool_classes() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3 ``pool_classes_by_scheme`` whose connections join the running request."""
    return {"http": _HTTPPool, "https": _HTTPSPool}
