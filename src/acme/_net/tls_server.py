"""The server side of tls-alpn-01 on stdlib ``ssl``: certificates chosen by SNI name and ALPN.

`accept_handshake` reads the ClientHello itself (`acme._net.tls`), asks a chooser for the key, the
certificate and the ALPN protocol, and completes the handshake over memory BIOs, returning a
`TLSConnection`. Names are matched the way `lookup` says: case-insensitively, without a final
dot, an IP address also under its RFC 8738 section 6 reverse name.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509

from acme import errors
from acme._net.tls import (
    ALERT_DECODE_ERROR,
    ALERT_INTERNAL_ERROR,
    RECV_SIZE,
    ClientHello,
    ContextCache,
    HelloError,
    close_notify,
    handshake,
    read_client_hello,
    send_alert,
)
from acme._wire.coercion import from_legacy
from acme._wire.identifiers import ip_from_reverse_name
from acme._wire.x509 import PRIVATE_KEY_TYPES


def canonical_name(name: Any) -> str | None:
    """The lookup form of an SNI name or mapping key: lowercase, no final dot; IPs canonical."""
    if isinstance(name, (bytes, bytearray)):
        try:
            name = bytes(name).decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(name, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(name)
    if not isinstance(name, str) or not name:
        return None
    text = name.rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return text


def lookup(mapping: Mapping[Any, Any] | None, server_name: str | None) -> Any:
    """The value for ``server_name`` in a name-keyed mapping, or None.

    Keys may be str or bytes, in any case, with or without a final dot; an IP address key also
    answers to its reverse name, which is the SNI of an IP identifier (RFC 8738 section 6).
    """
    if mapping is None or server_name is None:
        return None
    wanted = {canonical_name(server_name)}
    address = ip_from_reverse_name(server_name)
    if address is not None:
        wanted.add(address)
    wanted.discard(None)
    for key, value in list(mapping.items()):  # one atomic snapshot: the mapping is shared
        if canonical_name(key) in wanted:
            return value
    return None


def key_and_cert(pair: Any) -> tuple[Any, x509.Certificate]:
    """``(key, cert)`` from a mapping value, either order, cryptography or pyOpenSSL objects."""
    try:
        first, second = pair
    except (TypeError, ValueError):
        raise errors.InvalidArgument(
            f"Expected a (key, certificate) pair, got {pair!r:.100}"
        ) from None
    first, second = from_legacy(first), from_legacy(second)
    if isinstance(first, x509.Certificate):
        first, second = second, first
    if not isinstance(first, PRIVATE_KEY_TYPES) or not isinstance(second, x509.Certificate):
        raise errors.InvalidArgument(
            "Expected a (private key, certificate) pair, got "
            f"({type(first).__name__}, {type(second).__name__})"
        )
    return first, second


class TLSConnection:
    """A server-side TLS connection driven over memory BIOs (what `SSLSocket.accept` returns).

    Reads and writes use the socket's own timeout. Other socket methods (``fileno``,
    ``getpeername``, ...) are those of the underlying socket.
    """

    def __init__(
        self,
        sock: socket.socket,
        sslobj: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        hello: ClientHello,
    ) -> None:
        self.sock = sock
        self.sslobj = sslobj
        self._incoming = incoming
        self._outgoing = outgoing
        self.hello = hello

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)

    def get_servername(self) -> bytes | None:
        """The SNI name the client sent (bytes, as pyOpenSSL's ``Connection`` returns it)."""
        return self.hello.get_servername()

    def selected_alpn_protocol(self) -> str | None:
        """The negotiated ALPN protocol, if any."""
        return self.sslobj.selected_alpn_protocol()

    def recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` bytes of application data; ``b""`` at the end of the stream."""
        while True:
            try:
                return self.sslobj.read(bufsize)
            except ssl.SSLWantReadError:
                data = self.sock.recv(RECV_SIZE)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
            except ssl.SSLZeroReturnError:
                return b""

    def sendall(self, data: bytes) -> None:
        """Send all of ``data`` as application data."""
        view = memoryview(data)
        while view:
            written = self.sslobj.write(view)
            view = view[written:]
            self.sock.sendall(self._outgoing.read())

    def shutdown(self) -> None:
        """Send ``close_notify`` (best effort); the socket stays open until `close`."""
        close_notify(self.sslobj, self._outgoing, self.sock)

    def close(self) -> None:
        """Close the underlying socket."""
        self.sock.close()

    def __enter__(self) -> TLSConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class HandshakeRefused(OSError):
    """The server refused the handshake (after sending the peer a TLS alert)."""


# Given the ClientHello: ``(key, cert, alpn protocol or None)``, or a TLS alert number to refuse.
Chooser = Callable[[ClientHello], "tuple[Any, Any, str | None] | int"]


def accept_handshake(
    sock: socket.socket,
    deadline: float,
    choose: Chooser,
    contexts: ContextCache,
    initial: bytes = b"",
) -> TLSConnection:
    """Server side: read the ClientHello (after ``initial``, the bytes already read), let
    ``choose`` decide, complete the handshake.

    Raises `HandshakeRefused` (an alert was sent; a bad certificate entry is chained as
    ``__cause__``), ``ssl.SSLError`` or ``OSError`` (``TimeoutError`` past ``deadline``).
    """
    try:
        hello = read_client_hello(sock, deadline, initial)
    except HelloError as error:
        send_alert(sock, ALERT_DECODE_ERROR)
        raise HandshakeRefused(f"bad ClientHello: {error}") from error
    try:
        choice = choose(hello)
    except errors.Error as error:
        send_alert(sock, ALERT_INTERNAL_ERROR)
        raise HandshakeRefused(f"bad certificate entry for {hello.server_name!r}") from error
    if isinstance(choice, int):
        send_alert(sock, choice)
        raise HandshakeRefused(
            f"no certificate for SNI {hello.server_name!r} with ALPN {hello.alpn_protocols!r}"
        )
    key, cert, alpn = choice
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sslobj = contexts.get(key, cert, alpn).wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(hello.raw)
    handshake(sslobj, incoming, outgoing, sock, deadline)
    return TLSConnection(sock, sslobj, incoming, outgoing, hello)
