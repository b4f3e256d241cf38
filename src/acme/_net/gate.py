"""Admission for the standalone servers: a connection gets a thread only once its head is in.

Theory of operation. The accepting thread hands every new connection to the `Gate`, whose one
thread reads it without blocking (a ``selectors`` loop) until the server says its head is
complete (HTTP: the blank line after the headers; TLS: the whole ClientHello), then dispatches
it, with the bytes read so far, to a worker thread. So an idle or slow client costs a file
descriptor, never a thread; a head not complete by its deadline is answered (HTTP 408) and
closed, however steadily its bytes drip. Connections admitted but not yet done (held here, or
dispatched and still before `Gate.mark_busy`) can be replaced: when ``max_connections`` are
live, the oldest of them is dropped for the newcomer.

Rules: only the gate thread touches the selector and the sockets it holds; other threads talk to
it through a queue and a wake-up socket pair; a dispatched socket belongs to its worker, which
the gate may only wake (``shutdown``), never close.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import selectors
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from _typeshed import WriteableBuffer

logger = logging.getLogger("acme.standalone")

_HELD, _WAITING, _BUSY, _DROPPED = "held", "waiting", "busy", "dropped"
_RECV_SIZE = 16 * 1024
_IDLE_WAIT = 1.0  # seconds between loop turns when nothing is due


class GateServer(Protocol):
    """What the gate needs from its server (`acme.standalone.ACMEServerMixin`)."""

    header_timeout: float
    max_connections: int
    max_head_bytes: int

    def _acme_head_complete(self, data: bytes) -> bool: ...

    def _acme_timeout_answer(self) -> bytes: ...

    def _acme_dispatch(self, request: Any, client_address: Any) -> None: ...

    def shutdown_request(self, request: Any) -> None: ...


class _Conn:
    __slots__ = ("address", "data", "deadline", "sock", "state")

    def __init__(self, sock: socket.socket, address: Any, deadline: float) -> None:
        self.sock = sock
        self.address = address
        self.deadline = deadline
        self.data = bytearray()
        self.state = _HELD


def wake_reader(sock: socket.socket) -> None:
    """Wake whichever thread is blocked on ``sock`` (its owner still closes it)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class Gate:
    """Holds new connections until their head is in; see the module docstring."""

    def __init__(self, server: GateServer) -> None:
        self._server = server
        self._lock = threading.RLock()
        self._conns: collections.OrderedDict[int, _Conn] = collections.OrderedDict()
        self._incoming: collections.deque[tuple[socket.socket, Any]] = collections.deque()
        self._closing = False
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="acme-standalone-gate", daemon=True)
        self._thread.start()

    # --- any thread -------------------------------------------------------------------------

    def admit(self, sock: socket.socket, address: Any) -> bool:
        """Queue a new connection; False if the gate is closing (the caller closes it)."""
        with self._lock:
            if self._closing:
                return False
            self._incoming.append((sock, address))
        self._wake()
        return True

    def take(self, sock: socket.socket) -> tuple[bytes, float | None]:
        """For a worker: the bytes read before dispatch, and the connection's deadline."""
        with self._lock:
            conn = self._conns.get(id(sock))
            if conn is None:
                return b"", None
            data, conn.data = bytes(conn.data), bytearray()
            return data, conn.deadline

    def mark_busy(self, sock: socket.socket) -> None:
        """The worker is past the head / handshake: this connection is no longer replaceable."""
        with self._lock:
            conn = self._conns.get(id(sock))
            if conn is not None and conn.state == _WAITING:
                conn.state = _BUSY

    def forget(self, sock: socket.socket) -> None:
        """The worker is done with ``sock`` (it is about to be closed)."""
        with self._lock:
            conn = self._conns.get(id(sock))
            if conn is not None and conn.sock is sock and conn.state != _HELD:
                del self._conns[id(sock)]

    def close(self) -> None:
        """Close every held connection, wake every dispatched one, stop the gate thread."""
        with self._lock:
            self._closing = True
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full wake-up buffer already means "wake up"
            self._wake_w.send(b"\0")

    # --- the gate thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closing:
                        break
                for key, _ in self._selector.select(self._wait()):
                    if key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            while self._wake_r.recv(4096):
                                pass
                    else:
                        self._read(key.data)
                self._admit_incoming()
                self._expire()
        except Exception:  # pragma: no cover - a bug here must not go unnoticed
            logger.exception("The connection gate stopped")
        finally:
            self._close_all()

    def _wait(self) -> float:
        now = time.monotonic()
        with self._lock:
            deadlines = [c.deadline for c in self._conns.values() if c.state == _HELD]
        if not deadlines:
            return _IDLE_WAIT
        return max(0.0, min(_IDLE_WAIT, min(deadlines) - now))

    def _admit_incoming(self) -> None:
        while True:
            with self._lock:
                if not self._incoming:
                    return
                sock, address = self._incoming.popleft()
            if not self._make_room():
                logger.debug("Refusing %s: every connection is busy", address)
                self._server.shutdown_request(sock)
                continue
            conn = _Conn(sock, address, time.monotonic() + self._server.header_timeout)
            try:
                sock.setblocking(False)
                self._selector.register(sock, selectors.EVENT_READ, conn)
            except (OSError, ValueError) as error:
                logger.debug("Cannot watch %s: %r", address, error)
                self._server.shutdown_request(sock)
                continue
            with self._lock:
                self._conns[id(sock)] = conn

    def _make_room(self) -> bool:
        with self._lock:
            live = [conn for conn in self._conns.values() if conn.state != _DROPPED]
            if len(live) < self._server.max_connections:
                return True
            victim = next((c for c in live if c.state in (_HELD, _WAITING)), None)
            if victim is None:
                return False
            logger.debug("Dropping %s (%s) for a new connection", victim.address, victim.state)
            if victim.state == _WAITING:
                victim.state = _DROPPED
                wake_reader(victim.sock)
                return True
        self._release(victim)
        return True

    def _read(self, conn: _Conn) -> None:
        try:
            chunk = conn.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            logger.debug("%s: %r", conn.address, error)
            self._release(conn)
            return
        if not chunk:
            if conn.data:
                self._dispatch(conn)  # the handler answers whatever came
            else:
                self._release(conn)
            return
        conn.data += chunk
        data = bytes(conn.data)
        if len(data) >= self._server.max_head_bytes or self._server._acme_head_complete(data):
            self._dispatch(conn)

    def _dispatch(self, conn: _Conn) -> None:
        self._selector.unregister(conn.sock)
        with self._lock:
            conn.state = _WAITING
        try:
            conn.sock.setblocking(True)
            self._server._acme_dispatch(conn.sock, conn.address)
        except (OSError, RuntimeError):  # RuntimeError: no thread could be started
            logger.warning("Cannot serve %s", conn.address, exc_info=True)
            self._server.shutdown_request(conn.sock)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [c for c in self._conns.values() if c.state == _HELD and c.deadline <= now]
        for conn in late:
            logger.debug("%s: no complete request in time", conn.address)
            with contextlib.suppress(OSError):
                conn.sock.send(self._server._acme_timeout_answer())
            self._release(conn)

    def _release(self, conn: _Conn) -> None:
        """Stop holding ``conn`` and close it (gate thread only)."""
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        with self._lock:
            self._conns.pop(id(conn.sock), None)
        self._server.shutdown_request(conn.sock)

    def _close_all(self) -> None:
        with self._lock:
            self._closing = True
            conns = list(self._conns.values())
            incoming = list(self._incoming)
            self._incoming.clear()
        for conn in conns:
            if conn.state == _HELD:
                self._release(conn)
            else:
                wake_reader(conn.sock)
        for sock, _ in incoming:
            self._server.shutdown_request(sock)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


class HeadTimeout(Exception):
    """The request line and headers did not arrive before the deadline."""


class HeadTooLarge(Exception):
    """The request line and headers went over the byte cap."""


class HeadReader(io.RawIOBase):
    """``prefix``, then socket reads bounded by one deadline and one byte budget in all."""

    def __init__(self, prefix: bytes, sock: socket.socket, deadline: float, limit: int) -> None:
        super().__init__()
        self._prefix = prefix
        self._sock = sock
        self._deadline = deadline
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._left <= 0:
            raise HeadTooLarge
        if self._prefix:
            with memoryview(buffer) as view, view.cast("B") as octets:
                count = min(len(octets), len(self._prefix), self._left)
                octets[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            self._left -= count
            return count
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise HeadTimeout
        self._sock.settimeout(left)
        with memoryview(buffer) as view, view.cast("B") as octets:
            try:
                count = self._sock.recv_into(octets[: self._left])
            except TimeoutError:
                raise HeadTimeout from None
        self._left -= count
        return count
