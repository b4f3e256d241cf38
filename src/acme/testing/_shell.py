"""`ACMETestServer`: the test ACME server behind a loopback HTTPS listener.

FOR TESTS AND DEMOS ONLY -- NEVER PRODUCTION. It listens on 127.0.0.1 or ::1 only, with a
certificate from its own throwaway root (`ca_cert_pem`, `ca_bundle_path`), and validates
challenges against loopback only.

The shell is thin: it turns each HTTP request into an `HTTPRequest`, asks the shared
`ACMEServerCore`, and writes the answer back. The only behaviour it adds is the two faults a
pure function cannot show: a delayed response and a dropped one (the connection closes after
the request took effect). A body it will not read (over 1 MiB, or without a Content-Length)
is refused like any other request: a ``malformed`` problem with a ``Replay-Nonce``.

Optional companions on the same loopback address: a management API (pebble-challtestsrv's
``/set-txt`` and ``/clear-txt``, plus ``/set-renewal-window`` and ``/renewal-drill``, see
`acme.testing._management`) so other processes can publish dns-01 records and steer
renewals, a DNS responder serving those records (`acme.testing._dns`), and a request log of
one ``METHOD PATH STATUS`` line per request.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from acme._core.http import HTTPRequest, HTTPResponse
from acme.testing._ca import CertificateAuthority
from acme.testing._dns import DNSResponder
from acme.testing._faults import Faults
from acme.testing._management import ManagementAPI
from acme.testing._server_core import ACMEServerCore, Validator
from acme.testing._server_core import always_valid as _always_valid
from acme.testing._validation import ChallengeValidator, DNSRecordStore, check_loopback

__all__ = ["ACMETestServer"]

logger = logging.getLogger(__name__)
_MAX_BODY = 1024 * 1024
_MAX_DRAIN = 16 * 1024 * 1024  # a refused body up to this size is read and dropped, see _refuse
_IDLE_TIMEOUT = 10.0  # seconds a keep-alive connection may sit idle


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(_IDLE_TIMEOUT)
        self.request.do_handshake()
        super().setup()

    def _serve(self) -> None:
        owner = self.server.owner
        length_text = self.headers.get("Content-Length", "0")
        length = int(length_text) if length_text.isdigit() else -1
        if length < 0 or length > _MAX_BODY or "Transfer-Encoding" in self.headers:
            self._refuse(length)
            return
        body = self.rfile.read(length) if length else b""
        request = HTTPRequest(
            self.command,
            owner.base_url + self.path,
            dict(self.headers.items()),
            body if self.command in ("POST", "PUT", "PATCH") else None,
        )
        core = owner.core
        resource = core.resource_of(request.url) or "unknown"
        response = core.handle(request)
        faults = core.faults
        if faults.delay_seconds and core.dice.roll("delay", 1.0, resource):
            owner._closing.wait(faults.delay_seconds)
        if core.dice.roll("drop", faults.drop_response_rate, resource):
            self.close_connection = True  # the request took effect; the answer is lost
            owner._log(self.command, self.path, response.status_code, " (response dropped)")
            return
        self._write(response)

    def _refuse(self, length: int) -> None:
        """A body we will not read, answered as every refusal: an RFC 7807 ``malformed``
        problem with a fresh ``Replay-Nonce`` (RFC 8555 sections 6.5, 6.7), then the connection
        closes. A body of known, bounded size is read and dropped first: closing a socket with
        unread data resets it, and the client could lose the answer."""
        if length > _MAX_BODY:
            status, detail = 413, f"The request body is {length} bytes; at most {_MAX_BODY}"
        else:
            status, detail = 411, "The request needs a Content-Length (no Transfer-Encoding)"
        request = HTTPRequest(self.command, self.server.owner.base_url + self.path, {}, None)
        response = self.server.owner.core.problem_response(request, "malformed", detail, status)
        self.close_connection = True
        with contextlib.suppress(OSError, ValueError):
            if "Transfer-Encoding" in self.headers:
                self._drain_chunked()
            elif _MAX_BODY < length <= _MAX_DRAIN:
                self._drain(length)
        response.headers["Connection"] = "close"  # RFC 9112 section 9.6: say we close it
        self._write(response)

    def _drain(self, length: int) -> int:
        """Read and drop ``length`` body bytes (fewer if the peer stops); return the count."""
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)
        return length - left

    def _drain_chunked(self) -> None:
        """Read and drop a chunked body (RFC 9112 section 7.1), at most `_MAX_DRAIN` bytes."""
        total = 0
        while total <= _MAX_DRAIN:
            size = int(self.rfile.readline(100).split(b";", 1)[0].strip() or b"x", 16)
            if size < 0 or total + size > _MAX_DRAIN:
                return
            if size == 0:
                while self.rfile.readline(1000).strip():  # trailer fields, then an empty line
                    pass
                return
            total += self._drain(size + 2)  # the chunk and its CRLF

    def _write(self, response: HTTPResponse) -> None:
        self.send_response(response.status_code)  # logs the request (log_request)
        for name in response.headers:
            for value in response.headers.get_all(name):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.content)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.server.owner._log(self.command, self.path, int(code) if str(code).isdigit() else 0)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("acme.testing %s: " + format, self.address_string(), *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins every handler thread

    def __init__(self, address: tuple[str, int], owner: ACMETestServer, ctx: ssl.SSLContext):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.owner = owner
        self.ssl_context = ctx
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no getfqdn(): no DNS lookups on loopback
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        # Headers and body go out as two writes: without this, Nagle's algorithm and the
        # peer's delayed ACK add ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.connections_lock:
            self.connections.add(tls)
        return tls, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("acme.testing: connection from %s failed", client_address, exc_info=True)

    def cut_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self.connections_lock:
            live = list(self.connections)
        for conn in live:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)


class ACMETestServer:
    """A running test ACME server on loopback HTTPS. FOR TESTS AND DEMOS ONLY.

    :param host: ``127.0.0.1`` or ``::1`` (other addresses are refused).
    :param port: 0 picks a free port.
    :param always_valid: accept every answered challenge without checking it.
    :param http_port: port where http-01 responses are fetched (your standalone server).
    :param tls_port: port where tls-alpn-01 handshakes go.
    :param hosts: name to loopback address overrides for validation (default 127.0.0.1).
    :param validator: a custom validator (overrides ``always_valid`` and the ports).
    :param alternate_chains: extra roots cross-signing the intermediate (alternate chains).
    :param management_port: also serve the management API (`management_url`) on this port
        of ``host`` (0 picks a free one); None (the default) serves none.
    :param dns_port: also answer DNS queries for the dns-01 records on this UDP and TCP port of
        ``host`` (`dns_address`; 0 picks a free one); None (the default) serves none.
    :param request_log: write one ``METHOD PATH STATUS`` line per request answered (ACME and
        management API) to this text stream.
    :param core_options: passed to `ACMEServerCore` (profiles, eab_keys, renewal_window,
        renewal_retry_after, ...).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        always_valid: bool = False,
        http_port: int = 80,
        tls_port: int = 443,
        hosts: Mapping[str, str] | None = None,
        validator: Validator | None = None,
        alternate_chains: int = 0,
        faults: Faults | None = None,
        management_port: int | None = None,
        dns_port: int | None = None,
        request_log: TextIO | None = None,
        **core_options: Any,
    ) -> None:
        check_loopback(host)
        self.ca = CertificateAuthority(alternate_chains=alternate_chains)
        self.dns = DNSRecordStore()
        self.challenge_validator = ChallengeValidator(
            http_port=http_port, tls_port=tls_port, hosts=hosts, dns=self.dns
        )
        chosen = validator or (_always_valid if always_valid else self.challenge_validator)
        if chosen is self.challenge_validator:  # the draft DNS challenges read the same store
            core_options.setdefault("dns_lookup", self.dns.txt)
        self._closing = threading.Event()
        self._request_log = request_log
        self._log_lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="acme-testing-")
        try:
            chain_pem, key_pem = self.ca.server_certificate([host, "localhost"])
            cert_path = os.path.join(self._tmp.name, "listener.pem")
            with open(cert_path, "w", encoding="ascii") as handle:
                handle.write(chain_pem + key_pem)
            self.ca_bundle_path = os.path.join(self._tmp.name, "ca-bundle.pem")
            with open(self.ca_bundle_path, "w", encoding="ascii") as handle:
                handle.write("".join(self.ca.root_pems))
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert_path)
            self._httpd = _Server((host, port), self, ctx)
        except BaseException:
            self._tmp.cleanup()
            raise
        authority = f"[{host}]" if ":" in host else host
        self.base_url = f"https://{authority}:{self._httpd.server_port}"
        try:
            self.core = ACMEServerCore(
                self.base_url, validator=chosen, ca=self.ca, faults=faults, **core_options
            )
        except BaseException:  # a refused option: release the socket and files made above
            self._httpd.server_close()
            self._tmp.cleanup()
            raise
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"acme-test-server-{self._httpd.server_port}",
            daemon=True,
        )
        self._thread.start()
        self._closed = False
        self.management: ManagementAPI | None = None
        self.dns_responder: DNSResponder | None = None
        try:
            if management_port is not None:
                self.management = ManagementAPI(
                    host,
                    management_port,
                    self.dns,
                    self.core.set_renewal_window,
                    self._log,
                    renewal_drill=self.core.move_windows_into_past,
                )
            if dns_port is not None:
                self.dns_responder = DNSResponder(host, dns_port, self.dns, self._resolve)
        except BaseException:
            self.close()
            raise

    @property
    def directory_url(self) -> str:
        """The directory URL to give your client."""
        return self.core.directory_url

    @property
    def ca_cert_pem(self) -> str:
        """The root certificate (PEM text) that the listener and issued chains lead to."""
        return self.ca.root_pem

    @property
    def port(self) -> int:
        """The port listened on."""
        return self._httpd.server_port

    @property
    def management_url(self) -> str | None:
        """The management API's base URL (``http://127.0.0.1:PORT``), if one is served."""
        return self.management.url if self.management is not None else None

    @property
    def dns_address(self) -> tuple[str, int] | None:
        """(host, port) of the DNS responder, if one is served."""
        return self.dns_responder.address if self.dns_responder is not None else None

    def _resolve(self, name: str) -> str:
        return self.challenge_validator.resolve("dns", name)

    def _log(self, method: str, path: str, status: int, note: str = "") -> None:
        """One request log line (the path as sent, so query strings show too)."""
        if self._request_log is None:
            return
        line = f"{method} {path} {status}{note}\n"
        with self._log_lock:
            try:
                self._request_log.write(line)
                self._request_log.flush()
            except (OSError, ValueError):  # a closed or broken log must not break the server
                logger.debug("acme.testing: cannot write the request log", exc_info=True)

    def add_txt(self, name: str, value: str) -> None:
        """Publish a TXT record for dns-01 (e.g. ``_acme-challenge.example.org``)."""
        self.dns.add_txt(name, value)

    def remove_txt(self, name: str, value: str | None = None) -> None:
        """Remove one TXT value at ``name``, or all of them when ``value`` is None."""
        self.dns.remove_txt(name, value)

    def close(self) -> None:
        """Stop listening, close every connection and join every thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        for companion in (self.management, self.dns_responder):
            if companion is not None:
                companion.close()
        self._httpd.shutdown()
        self._httpd.cut_connections()
        self._httpd.server_close()
        self._thread.join(timeout=10)
        self._tmp.cleanup()

    def __enter__(self) -> ACMETestServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ACMETestServer {self.directory_url} (FOR TESTS ONLY)>"
