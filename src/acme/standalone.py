"""Standalone challenge solvers: http-01 (RFC 8555 section 8.3) and tls-alpn-01 (RFC 8737).

Design rules, which every server here keeps:

- **Shared by reference.** The servers read the caller's resource set / certificate mappings at
  request time, so what is added after the server started is served.
- **A thread only for a complete request.** New connections wait in one selector thread (the
  gate, `acme._net.gate`) until their request head is in (HTTP headers; TLS ClientHello), and only
  then get a thread; so idle or slow clients cost a file descriptor, not a thread. At most
  `ACMEServerMixin.max_connections` are held: when full, the oldest not yet answered is dropped
  for the new one, so they cannot starve a validator either.
- **Deadlines.** A client gets `ACMEServerMixin.header_timeout` seconds (10) in total to send
  its request line and headers, or to finish its TLS handshake; dripping bytes does not extend
  it. An HTTP client past it gets ``408``.
- **Always answer, never from disk.** Only an exact token path is served, from memory, as
  ``text/plain``; every other path gets ``404``, malformed requests ``400``/``414``/``431``.
- **Quiet and clean.** Errors go to the ``acme.standalone`` logger, never a traceback on stderr;
  ``server_close()`` ends every open connection and joins every thread, so a shutdown takes at
  most the ``serve_forever`` poll interval (0.5 s) even with clients connected. Nothing is left
  to ``__del__``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NamedTuple

from acme import errors
from acme._net import gate as _gate
from acme._net import tls as _tls
from acme._net import tls_server as _tls_server

if TYPE_CHECKING:  # pragma: no cover
    _ServerBase = socketserver.TCPServer
else:
    _ServerBase = object

__all__ = [
    "ACMEServerMixin",
    "BaseDualNetworkedServers",
    "HTTP01DualNetworkedServers",
    "HTTP01RequestHandler",
    "HTTP01Server",
    "HTTPServer",
    "TLSALPN01DualNetworkedServers",
    "TLSALPN01Server",
    "TLSServer",
]

logger = logging.getLogger(__name__)

_ERROR_WRITE_TIMEOUT = 2.0  # seconds to write an error answer to a misbehaving client


class ACMEServerMixin(_ServerBase):
    """Settings and connection admission shared by the challenge servers.

    Mix in before ``socketserver.ThreadingMixIn`` and ``socketserver.TCPServer``. Keyword
    ``ipv6=True`` makes an IPv6-only socket (so an IPv4 server can share the port). New
    connections wait in a single-threaded gate (`acme._net.gate`) until their request head is in,
    and only then get a thread. The class attributes below may be changed on an instance.
    """

    server_version = "ACME client standalone challenge solver"
    allow_reuse_address = True
    request_queue_size = 1024
    daemon_threads = False
    block_on_close = True
    #: Seconds a client has to send its request line and headers, or finish its TLS handshake.
    header_timeout: float = 10.0
    #: Connections held at once; a new one beyond it replaces the oldest not yet answered.
    max_connections: int = 128
    #: Byte cap on a request head (HTTP request line and headers, or a TLS ClientHello).
    max_head_bytes: int = 32 * 1024

    def __init__(self, *args: Any, ipv6: bool = False, **kwargs: Any) -> None:
        self.ipv6 = ipv6
        self.address_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self._gate: _gate.Gate | None = None
        self._gate_lock = threading.Lock()
        self._closing = False
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        """Bind, IPv6-only when ``ipv6`` (so dual-stack servers are two sockets)."""
        if self.ipv6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """``socketserver``'s loop; on its way out, the connections still waiting are closed."""
        try:
            super().serve_forever(poll_interval)
        finally:
            self._stop_gate()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the new connection to the gate, which threads it once its head is in."""
        with self._gate_lock:
            if self._gate is None and not self._closing:
                self._gate = _gate.Gate(self)
            gate = self._gate
        if gate is None or not gate.admit(request, client_address):
            self.shutdown_request(request)

    def _acme_dispatch(self, request: Any, client_address: Any) -> None:
        """Serve a connection whose head is in, on its own thread (``ThreadingMixIn``)."""
        super().process_request(request, client_address)

    def _acme_head_complete(self, data: bytes) -> bool:
        """Whether ``data``, the first bytes of a connection, are a whole request head."""
        return True

    def _acme_timeout_answer(self) -> bytes:
        """What to send a client whose head did not arrive in time (nothing by default)."""
        return b""

    def _acme_take(self, request: Any) -> tuple[bytes, float]:
        """For a handler: the bytes already read, and the connection's deadline."""
        gate = self._gate
        data, deadline = gate.take(request) if gate is not None else (b"", None)
        return data, time.monotonic() + self.header_timeout if deadline is None else deadline

    def _acme_mark_busy(self, request: Any) -> None:
        """The request is in / the handshake done: the connection is no longer replaceable."""
        gate = self._gate
        if gate is not None:
            gate.mark_busy(request)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection, then shut it down and close it."""
        gate = self._gate
        if gate is not None:
            gate.forget(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log (at debug level) instead of printing a traceback."""
        logger.debug("Error while serving %s", client_address, exc_info=True)

    def _stop_gate(self) -> None:
        with self._gate_lock:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.close()

    def server_close(self) -> None:
        """Close the listening socket, end every connection and join every thread."""
        with self._gate_lock:
            self._closing = True
        self._stop_gate()
        super().server_close()


class BaseDualNetworkedServers:
    """An IPv6 and an IPv4 server on the same port; one failing does not stop the other.

    ``ServerClass(server_address, *remaining_args, ipv6=..., **kwargs)`` is made for each
    family. With port 0, the IPv4 server takes the port the IPv6 one got. Raises the last
    ``OSError`` if neither could bind.
    """

    def __init__(
        self, ServerClass: type[Any], server_address: tuple[str, int], *remaining_args: Any,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        self.threads: list[threading.Thread] = []
        self.servers: list[Any] = []
        host, port = server_address[0], server_address[1]
        last_error: OSError | None = None
        for ipv6 in (True, False):
            try:
                server = ServerClass((host, port), *remaining_args, ipv6=ipv6, **kwargs)
            except OSError as error:
                logger.debug("Cannot bind %s port %s (ipv6=%s): %s", host, port, ipv6, error)
                last_error = error
                continue
            except BaseException:  # e.g. a bad argument: do not leave the first socket open
                for made in self.servers:
                    made.server_close()
                raise
            self.servers.append(server)
            port = server.socket.getsockname()[1]
        if not self.servers:
            assert last_error is not None
            raise last_error

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Start one thread running ``serve_forever`` per server; returns at once.

        ``poll_interval`` (not in acme 5.x): how often each loop checks for shutdown, i.e. the
        longest `shutdown_and_server_close` waits for it.
        """
        for server in self.servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": poll_interval},
                name=f"acme-standalone-{len(self.threads)}",
            )
            thread.start()
            self.threads.append(thread)

    def getsocknames(self) -> list[Any]:
        """``socket.getsockname()`` of every server (its real port, also with port 0)."""
        return [server.socket.getsockname() for server in self.servers]

    def shutdown_and_server_close(self) -> None:
        """Stop serving, close every socket and connection, join every thread."""
        if self.threads:  # in parallel: each shutdown() waits up to one poll interval
            stoppers = [threading.Thread(target=server.shutdown) for server in self.servers]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join()
        for server in self.servers:
            server.server_close()
        for thread in self.threads:
            thread.join()
        self.threads = []

    def __enter__(self) -> BaseDualNetworkedServers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown_and_server_close()


class HTTPServer(ACMEServerMixin, socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Threaded HTTP server with the `ACMEServerMixin` limits; ``ipv6`` picks the family."""

    def __init__(
        self,
        server_address: tuple[str, int],
        RequestHandlerClass: Any,
        bind_and_activate: bool = True,
        *,
        ipv6: bool = False,
    ) -> None:
        super().__init__(server_address, RequestHandlerClass, bind_and_activate, ipv6=ipv6)

    def _acme_head_complete(self, data: bytes) -> bool:
        return b"\r\n\r\n" in data or b"\n\n" in data  # the blank line ending the headers

    def _acme_timeout_answer(self) -> bytes:
        body = b"408 Request Timeout\n"
        return (
            b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )


class HTTP01RequestHandler(http.server.BaseHTTPRequestHandler):
    """Serves http-01 resources (RFC 8555 section 8.3) from ``simple_http_resources``.

    ``simple_http_resources`` is a set (or any iterable) of `HTTP01Resource`, read on every
    request. ``GET``/``HEAD`` of exactly ``resource.chall.path`` answers ``validation`` as
    ``text/plain``; ``/`` answers a short banner; everything else ``404``. One request per
    connection.
    """

    class HTTP01Resource(NamedTuple):
        """What to serve: ``validation`` at ``chall.path``."""

        chall: Any
        response: Any
        validation: Any

    server_version = ACMEServerMixin.server_version
    sys_version = ""
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even a garbled request line gets a status line
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def __init__(
        self, *args: Any, simple_http_resources: Any = None, timeout: float = 30, **kwargs: Any
    ) -> None:
        self.simple_http_resources = (
            set() if simple_http_resources is None else simple_http_resources
        )
        self._timeout = timeout
        super().__init__(*args, **kwargs)

    def version_string(self) -> str:
        """The ``Server`` header: a fixed name, no Python version."""
        return self.server_version

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """Socket timeout for each operation after the request head (seconds)."""
        return self._timeout

    @classmethod
    def partial_init(
        cls, simple_http_resources: Any, timeout: float
    ) -> functools.partial[HTTP01RequestHandler]:
        """A handler factory bound to the resources, for ``socketserver``'s constructor."""
        return functools.partial(cls, simple_http_resources=simple_http_resources, timeout=timeout)

    def setup(self) -> None:
        """Read the request head the gate already buffered, then the socket, to a deadline."""
        super().setup()
        self.rfile.close()
        take = getattr(self.server, "_acme_take", None)
        if take is not None:
            prefix, deadline = take(self.request)
        else:  # under a server without the ACMEServerMixin
            prefix, deadline = b"", time.monotonic() + ACMEServerMixin.header_timeout
        limit = getattr(self.server, "max_head_bytes", ACMEServerMixin.max_head_bytes)
        self.rfile = io.BufferedReader(_gate.HeadReader(prefix, self.connection, deadline, limit))

    def handle(self) -> None:
        """Answer one request; a client too slow or too large gets 408 / 431."""
        self.close_connection = True
        self.command, self.requestline = "", ""
        self.request_version = self.default_request_version
        try:
            self.handle_one_request()
        except _gate.HeadTimeout:
            self._answer_error(HTTPStatus.REQUEST_TIMEOUT)
        except _gate.HeadTooLarge:
            self._answer_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    def _answer_error(self, status: HTTPStatus) -> None:
        self.connection.settimeout(_ERROR_WRITE_TIMEOUT)
        with contextlib.suppress(OSError):
            self.send_error(status)

    def parse_request(self) -> bool:
        """Refuse an empty request line and malformed headers with 400."""
        raw: bytes = getattr(self, "raw_requestline", b"")
        if not raw.strip():
            self.send_error(HTTPStatus.BAD_REQUEST, "Empty request line")
            return False
        if not super().parse_request():
            return False
        if self.headers.defects:  # e.g. a header line without a colon
            self.send_error(HTTPStatus.BAD_REQUEST, "Malformed header")
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:
        """To the ``acme.standalone`` logger at DEBUG, never to stderr."""
        logger.debug("http-01 %s: %r", self.address_string(), format % args)

    def do_GET(self) -> None:
        """Serve the index, a provisioned resource or 404."""
        mark_busy = getattr(self.server, "_acme_mark_busy", None)
        if mark_busy is not None:
            mark_busy(self.request)
        self.connection.settimeout(self.timeout)
        if self.path == "/":
            self.handle_index()
        elif self.path.startswith("/.well-known/acme-challenge/"):
            self.handle_simple_http_resource()
        else:
            self.handle_404()

    do_HEAD = do_GET

    def _send(self, status: HTTPStatus, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_index(self) -> None:
        """Answer ``/`` with a banner (no newline: acme 5.x's exact body)."""
        self._send(HTTPStatus.OK, self.server_version.encode("ascii"))

    def handle_404(self) -> None:
        """Answer 404 Not Found."""
        self._send(HTTPStatus.NOT_FOUND, b"404 Not Found\n")

    def handle_simple_http_resource(self) -> None:
        """Answer the resource whose path is exactly the request path, else 404."""
        for resource in self._resources():
            try:
                path = resource.chall.path
                validation = resource.validation
            except (AttributeError, errors.Error):
                continue
            if path == self.path and isinstance(validation, (str, bytes)):
                body = validation.encode("utf-8") if isinstance(validation, str) else validation
                logger.debug("Serving http-01 resource %s", path)
                self._send(HTTPStatus.OK, body)
                return
        logger.debug("No http-01 resource for %r", self.path)
        self.handle_404()

    def _resources(self) -> list[Any]:
        for _ in range(3):
            try:
                return list(self.simple_http_resources)  # snapshot of the shared container
            except RuntimeError:  # changed size during the copy; take another
                continue
        return []


class HTTP01Server(HTTPServer):
    """http-01 server: ``resources`` (a set of `HTTP01RequestHandler.HTTP01Resource`) is shared
    by reference; ``timeout`` bounds each socket operation after the request head."""

    def __init__(
        self,
        server_address: tuple[str, int],
        resources: Any,
        ipv6: bool = False,
        timeout: float = 30,
    ) -> None:
        handler = HTTP01RequestHandler.partial_init(
            simple_http_resources=resources, timeout=timeout
        )
        super().__init__(server_address, handler, ipv6=ipv6)


class HTTP01DualNetworkedServers(BaseDualNetworkedServers):
    """`HTTP01Server` on IPv6 and IPv4, same port: ``(server_address, resources, timeout=)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(HTTP01Server, *args, **kwargs)


class _TLSALPN01Handler(socketserver.BaseRequestHandler):
    """One TLS handshake with the certificate the server chooses, then close (RFC 8737 s3)."""

    server: TLSServer

    def handle(self) -> None:
        server = self.server
        initial, deadline = server._acme_take(self.request)
        try:
            conn = _tls_server.accept_handshake(
                self.request, deadline, server.choose_certificate, server.tls_contexts, initial
            )
        except OSError as error:  # also TLS errors, the deadline and refusals
            if isinstance(error.__cause__, errors.Error):
                logger.warning("tls-alpn-01: %s: %s", error, error.__cause__)
            else:
                logger.debug("tls-alpn-01 %s: no handshake: %r", self.client_address, error)
            return
        server._acme_mark_busy(self.request)
        logger.debug(
            "tls-alpn-01 %s: served %r (ALPN %r)",
            self.client_address, conn.hello.server_name, conn.selected_alpn_protocol(),
        )  # fmt: skip
        conn.shutdown()


_CertMapping = Mapping[Any, Any]


class TLSServer(ACMEServerMixin, socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Threaded TLS (>= 1.2) server choosing each connection's certificate by SNI and ALPN.

    ``challenge_certs`` serves handshakes offering ALPN ``acme-tls/1``, ``certs`` all others;
    both map an SNI name (str or bytes, any case; an IP address also answers to its RFC 8738
    reverse name) to a ``(private key, certificate)`` pair (``cryptography`` or pyOpenSSL
    objects), and are read at each handshake (shared by reference).

    The standard library picks the certificate (``sni_callback``) before ALPN and never shows
    the offered protocols, so this server reads the ClientHello itself to make the choice: a
    challenge certificate is only ever sent to a client that offered ``acme-tls/1``.
    The default handler closes right after the handshake (RFC 8737 section 3).
    """

    def __init__(
        self,
        server_address: tuple[str, int],
        RequestHandlerClass: Any = None,
        bind_and_activate: bool = True,
        *,
        ipv6: bool = False,
        certs: _CertMapping | None = None,
        challenge_certs: _CertMapping | None = None,
    ) -> None:
        self.certs: _CertMapping = {} if certs is None else certs
        self.challenge_certs: _CertMapping = {} if challenge_certs is None else challenge_certs
        self.tls_contexts = _tls.ContextCache()
        handler = _TLSALPN01Handler if RequestHandlerClass is None else RequestHandlerClass
        super().__init__(server_address, handler, bind_and_activate, ipv6=ipv6)

    def _acme_head_complete(self, data: bytes) -> bool:
        return _tls.client_hello_complete(data)

    def choose_certificate(self, hello: _tls.ClientHello) -> tuple[Any, Any, str | None] | int:
        """``(key, cert, alpn)`` for this ClientHello, or the TLS alert to refuse it with."""
        name = hello.server_name
        if _tls.ACME_TLS_1.encode("ascii") in hello.alpn_protocols:
            pair = _tls_server.lookup(self.challenge_certs, name)
            if pair is None:
                return _tls.ALERT_UNRECOGNIZED_NAME
            return (*_tls_server.key_and_cert(pair), _tls.ACME_TLS_1)
        pair = _tls_server.lookup(self.certs, name)
        if pair is not None:
            return (*_tls_server.key_and_cert(pair), None)
        if hello.alpn_protocols and _tls_server.lookup(self.challenge_certs, name) is not None:
            return _tls.ALERT_NO_APPLICATION_PROTOCOL  # RFC 7301 section 3.2
        return _tls.ALERT_UNRECOGNIZED_NAME


class TLSALPN01Server(TLSServer):
    """tls-alpn-01 server (RFC 8737), on stdlib ``ssl``.

    ``TLSALPN01Server(addr, certs)`` serves the challenge certificates in ``certs`` to
    ``acme-tls/1`` handshakes only and refuses every other handshake. With both mappings
    (the 1.x form), ``challenge_certs`` go to ``acme-tls/1`` handshakes and ``certs`` to others.
    """

    #: The ALPN protocol of RFC 8737 section 6.2, as bytes (acme 1.x's attribute).
    ACME_TLS_1_PROTOCOL = _tls.ACME_TLS_1.encode("ascii")

    def __init__(
        self,
        server_address: tuple[str, int],
        certs: _CertMapping | None = None,
        challenge_certs: _CertMapping | None = None,
        ipv6: bool = False,
    ) -> None:
        if challenge_certs is None:
            certs, challenge_certs = None, certs
        super().__init__(
            server_address,
            _TLSALPN01Handler,
            ipv6=ipv6,
            certs=certs,
            challenge_certs=challenge_certs,
        )


class TLSALPN01DualNetworkedServers(BaseDualNetworkedServers):
    """`TLSALPN01Server` on IPv6 and IPv4, same port: ``(server_address, certs, ...)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(TLSALPN01Server, *args, **kwargs)
