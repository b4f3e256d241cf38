"""TLS plumbing for the tls-alpn-01 server and the probes, on stdlib ``ssl`` memory BIOs.

Theory of operation. The standard library cannot tell, when it picks a server certificate, which
ALPN protocols the client offered: ``SSLContext.sni_callback`` runs before ALPN selection and
receives no ALPN list, and no certificate callback is exposed. So the server reads the
ClientHello itself (`read_client_hello`: RFC 8446 section 4.1.2 framing, the SNI extension of
RFC 6066 section 3 and the ALPN extension of RFC 7301 section 3.1), chooses the certificate and
the context from the SNI name *and* the offered protocols (`acme._net.tls_server`), then hands every
byte it read to an ``ssl.SSLObject`` over ``MemoryBIO`` s (`handshake`). Driving the handshake
through memory BIOs also gives a true deadline: every socket read and write gets only the time
left, so a client that drips one byte at a time cannot keep the connection past it.

Rules: every wait is bounded by a monotonic deadline; nothing here closes a socket it did not
create; certificates and keys are ``cryptography`` objects (pyOpenSSL ones are converted).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import secrets
import socket
import ssl
import tempfile
import threading
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

# RFC 8737 section 6.2: the ALPN protocol ID of tls-alpn-01.
ACME_TLS_1 = "acme-tls/1"

# TLS alert descriptions (RFC 8446 section 6) sent when no handshake can be made.
ALERT_DECODE_ERROR = 50
ALERT_INTERNAL_ERROR = 80
ALERT_UNRECOGNIZED_NAME = 112  # RFC 6066 section 3: no certificate for the SNI name
ALERT_NO_APPLICATION_PROTOCOL = 120  # RFC 7301 section 3.2

_CONTENT_HANDSHAKE = 22  # RFC 8446 section 5.1
_CONTENT_ALERT = 21
_HANDSHAKE_CLIENT_HELLO = 1  # RFC 8446 section 4
_EXT_SERVER_NAME = 0  # RFC 6066 section 3
_EXT_ALPN = 16  # RFC 7301 section 3.1
_MAX_RECORD = 2**14 + 256  # RFC 8446 section 5.1 (TLSPlaintext), with slack for TLS 1.2
_MAX_HELLO = 64 * 1024  # far above any real ClientHello; bounds what one client costs us
RECV_SIZE = 16 * 1024


class HelloError(ValueError):
    """The peer did not send a well-formed TLS ClientHello."""


@dataclasses.dataclass(frozen=True)
class ClientHello:
    """What the server needs from a ClientHello, and the raw bytes to replay to OpenSSL."""

    server_name: str | None
    alpn_protocols: tuple[bytes, ...]
    raw: bytes

    def get_servername(self) -> bytes | None:
        """The SNI name as bytes (the pyOpenSSL ``Connection`` spelling, for 1.x callbacks)."""
        return None if self.server_name is None else self.server_name.encode("ascii")


def remaining(deadline: float) -> float:
    """Seconds left before ``deadline``; raises ``TimeoutError`` once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def recv_some(sock: socket.socket, deadline: float, size: int = RECV_SIZE) -> bytes:
    """One ``recv`` that waits at most until ``deadline`` (``b""`` means end of stream)."""
    sock.settimeout(remaining(deadline))
    return sock.recv(size)


def send_all(sock: socket.socket, data: bytes, deadline: float) -> None:
    """``sendall`` bounded by ``deadline`` (the timeout covers the whole call since 3.5)."""
    if data:
        sock.settimeout(remaining(deadline))
        sock.sendall(data)


def send_alert(sock: socket.socket, description: int) -> None:
    """Best effort: send a fatal TLS alert record (RFC 8446 section 6) and give up quietly."""
    record = bytes([_CONTENT_ALERT, 3, 3, 0, 2, 2, description])
    try:
        sock.settimeout(1.0)
        sock.sendall(record)
    except OSError:
        pass


class _Cursor:
    """Reads the length-prefixed vectors of the TLS presentation language (RFC 8446 3.4)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def done(self) -> bool:
        return self._pos == len(self._data)

    def take(self, count: int) -> bytes:
        end = self._pos + count
        if end > len(self._data):
            raise HelloError("truncated ClientHello")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def take_all(self) -> bytes:
        return self.take(len(self._data) - self._pos)

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> _Cursor:
        return _Cursor(self.take(self.number(length_size)))


def parse_client_hello(body: bytes) -> tuple[str | None, tuple[bytes, ...]]:
    """The SNI host name and the offered ALPN protocols of a ClientHello message body."""
    hello = _Cursor(body)
    hello.take(2 + 32)  # legacy_version, random
    hello.vector(1)  # legacy_session_id
    hello.vector(2)  # cipher_suites
    hello.vector(1)  # legacy_compression_methods
    server_name: str | None = None
    protocols: tuple[bytes, ...] = ()
    if hello.done():  # a hello without extensions (RFC 5246 section 7.4.1.2)
        return server_name, protocols
    extensions = hello.vector(2)
    if not hello.done():
        raise HelloError("trailing bytes after the ClientHello extensions")
    seen: set[int] = set()
    while not extensions.done():
        kind = extensions.number(2)
        data = extensions.vector(2)
        if kind in seen:  # RFC 8446 section 4.2: at most one extension of each type
            raise HelloError(f"duplicate TLS extension {kind}")
        seen.add(kind)
        if kind == _EXT_SERVER_NAME:
            names = data.vector(2)
            while not names.done():
                name_type, name = names.number(1), names.vector(2).take_all()
                if name_type == 0 and server_name is None:  # host_name
                    try:
                        server_name = name.decode("ascii")
                    except UnicodeDecodeError:
                        raise HelloError("SNI host name is not ASCII") from None
        elif kind == _EXT_ALPN:
            offered = data.vector(2)
            names_list = []
            while not offered.done():
                protocol = offered.vector(1).take_all()
                if not protocol:
                    raise HelloError("empty ALPN protocol name")
                names_list.append(protocol)
            protocols = tuple(names_list)
    return server_name, protocols


def find_client_hello(raw: bytes) -> ClientHello | None:
    """The ClientHello in the TLS records received so far, or None if more bytes are needed.

    The hello may span several handshake records (RFC 8446 section 5.1 allows fragmenting).
    Raises `HelloError` as soon as the bytes cannot be the start of one.
    """
    if raw and raw[0] != _CONTENT_HANDSHAKE:
        raise HelloError("not a TLS handshake record")
    handshake = bytearray()
    pos = 0
    while len(raw) - pos >= 5:
        length = int.from_bytes(raw[pos + 3 : pos + 5], "big")
        if raw[pos] != _CONTENT_HANDSHAKE or not 0 < length <= _MAX_RECORD:
            raise HelloError("not a TLS handshake record")
        if len(raw) - pos - 5 < length:
            break
        handshake += raw[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if len(handshake) >= 4:
            if handshake[0] != _HANDSHAKE_CLIENT_HELLO:
                raise HelloError("the first handshake message is not a ClientHello")
            size = int.from_bytes(handshake[1:4], "big")
            if size > _MAX_HELLO:
                raise HelloError("ClientHello too large")
            if len(handshake) >= 4 + size:
                server_name, protocols = parse_client_hello(bytes(handshake[4 : 4 + size]))
                return ClientHello(server_name, protocols, bytes(raw))
    if len(raw) > _MAX_HELLO + 1024:
        raise HelloError("ClientHello too large")
    return None


def client_hello_complete(raw: bytes) -> bool:
    """Whether ``raw`` holds a whole ClientHello or cannot be one (either way: stop reading)."""
    try:
        return find_client_hello(raw) is not None
    except HelloError:
        return True


def read_client_hello(sock: socket.socket, deadline: float, initial: bytes = b"") -> ClientHello:
    """Read (and keep) TLS records after ``initial`` until a whole ClientHello is in.

    Raises `HelloError` if the bytes are not one, ``TimeoutError`` past ``deadline``.
    """
    raw = bytearray(initial)
    while True:
        hello = find_client_hello(bytes(raw))
        if hello is not None:
            return hello
        _read_more(sock, deadline, raw)


def _read_more(sock: socket.socket, deadline: float, raw: bytearray) -> None:
    data = recv_some(sock, deadline)
    if not data:
        raise HelloError("connection closed before the ClientHello was complete")
    raw += data


def _flush(outgoing: ssl.MemoryBIO, sock: socket.socket, deadline: float) -> None:
    send_all(sock, outgoing.read(), deadline)


def handshake(
    sslobj: ssl.SSLObject,
    incoming: ssl.MemoryBIO,
    outgoing: ssl.MemoryBIO,
    sock: socket.socket,
    deadline: float,
) -> None:
    """Complete the TLS handshake of ``sslobj`` over ``sock`` by ``deadline``.

    Raises ``ssl.SSLError`` (after sending any alert OpenSSL produced), ``OSError`` or
    ``TimeoutError``.
    """
    while True:
        try:
            sslobj.do_handshake()
        except ssl.SSLWantReadError:
            _flush(outgoing, sock, deadline)
            data = recv_some(sock, deadline)
            if data:
                incoming.write(data)
            else:
                incoming.write_eof()
            continue
        except ssl.SSLError:
            with contextlib.suppress(OSError):
                _flush(outgoing, sock, min(deadline, time.monotonic() + 1.0))
            raise
        _flush(outgoing, sock, deadline)
        return


def close_notify(sslobj: ssl.SSLObject, outgoing: ssl.MemoryBIO, sock: socket.socket) -> None:
    """Best effort: send ``close_notify`` without waiting for the peer's."""
    with contextlib.suppress(ssl.SSLError, ValueError):
        sslobj.unwrap()
    with contextlib.suppress(OSError):
        send_all(sock, outgoing.read(), time.monotonic() + 1.0)


class ContextCache:
    """Server ``SSLContext`` s by (key, certificate, ALPN protocol), least recently used out.

    ``SSLContext.load_cert_chain`` only reads files, so each context costs a temporary file; the
    private key in it is encrypted with a random one-time password and the file is removed as
    soon as OpenSSL has read it.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[tuple[Any, ...], tuple[ssl.SSLContext, Any]] = (
            collections.OrderedDict()
        )

    def get(self, key: Any, cert: x509.Certificate, alpn: str | None) -> ssl.SSLContext:
        """The server context presenting ``cert`` and proving ``key``, selecting ``alpn``."""
        ident = (id(key), cert.fingerprint(hashes.SHA256()), alpn)
        with self._lock:
            hit = self._items.get(ident)
            if hit is not None:
                self._items.move_to_end(ident)
                return hit[0]
        context = server_context(key, cert, alpn)
        with self._lock:
            self._items[ident] = (context, key)  # holding the key keeps id(key) unique
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return context


def server_context(key: Any, cert: x509.Certificate, alpn: str | None) -> ssl.SSLContext:
    """A TLS >= 1.2 server context for one certificate, with no session tickets."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_TICKET
    context.num_tickets = 0  # nothing is sent after the handshake (RFC 8737 section 3)
    if alpn is not None:
        context.set_alpn_protocols([alpn])
    password = secrets.token_hex(32).encode("ascii")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    ) + cert.public_bytes(serialization.Encoding.PEM)
    handle, path = tempfile.mkstemp(prefix="acme-tls-", suffix=".pem")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(pem)
        context.load_cert_chain(path, password=password)
    finally:
        os.unlink(path)
    return context


def client_context(alpn_protocols: list[str] | None) -> ssl.SSLContext:
    """A TLS >= 1.2 client context that does not verify: it probes self-signed certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn_protocols:
        context.set_alpn_protocols(alpn_protocols)
    return context
