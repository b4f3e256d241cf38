"""Network self-checks and probes: the I/O halves of ``acme.challenges`` and ``acme.crypto_util``.

Each function is the body of a public method or function, wired in as a thin wrapper:

- ``HTTP01Response.simple_verify`` -> `http01_simple_verify`
- ``DNS01Response.simple_verify`` -> `dns01_simple_verify`
- ``TLSALPN01Response.probe_cert`` / ``simple_verify`` -> `tlsalpn01_probe_cert` /
  `tlsalpn01_simple_verify`
- ``crypto_util.probe_sni`` -> `probe_sni`

Rules: a self-check (``*_simple_verify``) returns False and logs why, never raises for a network
or content failure; a probe raises `acme.errors.Error` with the cause chained. Every network wait
is bounded by one *total* deadline: a peer dripping one byte at a time cannot stretch it. The
only wait we cannot cut short is the system resolver's (``getaddrinfo``), which has its own.
This module does not import ``acme.challenges`` (which imports it): challenge and response are
duck-typed.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
import urllib.parse
import warnings
from collections.abc import Mapping
from typing import Any

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions
from cryptography import x509

from acme import errors
from acme._core.challenges import http01_body_matches
from acme._net import tls as _tls
from acme._net import tls_server as _tls_server
from acme._net.deadline import Watchdog, watched_pool_classes
from acme._wire import identifiers

logger = logging.getLogger(__name__)

# RFC 8737 section 3: the validation server connects to port 443 for tls-alpn-01.
TLSALPN01_PORT = 443
# A key authorization is ~90 bytes; anything much larger is not one.
MAX_HTTP01_BODY = 16 * 1024
_MAX_REDIRECTS = 10


def _text(value: Any, what: str) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("ascii")
        except UnicodeDecodeError:
            raise errors.InvalidArgument(f"The {what} must be ASCII, got {value!r:.100}") from None
    if isinstance(value, str):
        return value
    raise errors.InvalidArgument(f"The {what} must be str or bytes, got {type(value).__name__}")


def _check_port(port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise errors.InvalidArgument(f"Not a TCP port: {port!r:.100}")
    return port


def _check_timeout(timeout: Any) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise errors.InvalidArgument(
            f"The timeout must be a positive number of seconds, got {timeout!r}"
        )
    return float(timeout)


# --- HTTP GET with a total deadline -----------------------------------------------------------


class _BodyTooLarge(Exception):
    pass


def http_get(url: str, timeout: float, max_body: int) -> tuple[int, bytes]:
    """``(status, body)`` of a GET of ``url`` completed within ``timeout`` seconds in total.

    Follows up to 10 redirects, ignores proxy settings (the CA connects directly), asks for no
    content coding. Raises ``TimeoutError`` when the deadline passes, `_BodyTooLarge` over
    ``max_body`` bytes, and ``requests`` / ``OSError`` exceptions for the rest.
    """
    watchdog = Watchdog()
    with watchdog.request(timeout) as record:
        try:
            with requests.Session() as session:
                session.trust_env = False
                session.max_redirects = _MAX_REDIRECTS
                adapter = requests.adapters.HTTPAdapter(max_retries=0)
                adapter.poolmanager.pool_classes_by_scheme = watched_pool_classes()
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                with session.get(
                    url, timeout=timeout, stream=True, headers={"Accept-Encoding": "identity"}
                ) as response:
                    body = bytearray()
                    for chunk in response.iter_content(chunk_size=4096):
                        body += chunk
                        if len(body) > max_body:
                            raise _BodyTooLarge(f"body over {max_body} bytes")
                    status = response.status_code
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            if record.expired:
                raise TimeoutError(f"no complete answer within {timeout:g} s") from error
            raise
        finally:
            watchdog.close()
    if record.expired:  # cut short: what arrived may look complete but is not the answer
        raise TimeoutError(f"no complete answer within {timeout:g} s")
    return status, bytes(body)


def _with_port(uri: str, port: int | None) -> str:
    if port is None:
        return uri
    parts = urllib.parse.urlsplit(uri)
    host = parts.hostname
    if not host:
        raise errors.InvalidArgument(f"No host in {uri!r}")
    if ":" in host:  # RFC 3986 section 3.2.2: an IPv6 literal goes in brackets
        host = f"[{host}]"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{host}:{port}"))


def http01_simple_verify(
    response: Any,
    chall: Any,
    domain: str,
    account_public_key: Any,
    port: int | None = None,
    timeout: float = 30,
) -> bool:
    """``HTTP01Response.simple_verify``: is the key authorization served at ``chall.uri``?

    Checks the response's key authorization against ``chall`` and the key, then GETs
    ``chall.uri(domain)`` (on ``port`` if given, IPv6 literals bracketed) within ``timeout``
    seconds in total, and compares the body to it by the rule of RFC 8555 section 8.3
    (`acme._core.challenges.http01_body_matches`: trailing whitespace ignored). False, with
    the reason logged, on any mismatch or failure.
    """
    if port is not None:
        port = _check_port(port)
    timeout = _check_timeout(timeout)
    if not response.verify(chall, account_public_key):
        logger.info("http-01 self-check for %s: key authorization does not match", domain)
        return False
    uri = _with_port(chall.uri(domain), port)
    try:
        status, body = http_get(uri, timeout, MAX_HTTP01_BODY)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        logger.info("http-01 self-check: cannot fetch %s: %s", uri, error)
        return False
    except _BodyTooLarge as error:
        logger.info("http-01 self-check: %s answered a %s", uri, error)
        return False
    if status != 200:
        logger.info("http-01 self-check: %s answered HTTP %d", uri, status)
        return False
    expected = response.key_authorization
    if not http01_body_matches(body, expected, response.WHITESPACE_CUTSET):
        logger.info("http-01 self-check: %s served %r, expected %r", uri, body[:200], expected)
        return False
    return True


def dns01_simple_verify(response: Any, chall: Any, domain: str, account_public_key: Any) -> bool:
    """``DNS01Response.simple_verify``: only the key authorization check (no DNS query)."""
    verified = bool(response.verify(chall, account_public_key))
    if not verified:
        logger.info("dns-01 self-check for %s: key authorization does not match", domain)
    return verified


# --- TLS probes ------------------------------------------------------------------------------


def _probe(
    name: str | None,
    host: str,
    port: int,
    timeout: float,
    source_address: tuple[str, int] | None,
    alpn_protocols: list[str] | None,
) -> tuple[x509.Certificate, str | None]:
    """The certificate a TLS server presents, and the ALPN protocol it selected."""
    deadline = time.monotonic() + timeout
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with socket.create_connection(
            (host, port), timeout=timeout, source_address=source_address
        ) as sock:
            context = _tls.client_context(alpn_protocols)
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            sslobj = context.wrap_bio(incoming, outgoing, server_hostname=name or None)
            _tls.handshake(sslobj, incoming, outgoing, sock, deadline)
            der = sslobj.getpeercert(binary_form=True)
            alpn = sslobj.selected_alpn_protocol()
            _tls.close_notify(sslobj, outgoing, sock)
    except (OSError, ValueError) as error:  # ssl.SSLError and TimeoutError are OSErrors
        raise errors.Error(f"TLS probe of {name!r} at {where} failed: {error}") from error
    if der is None:
        raise errors.Error(f"TLS probe of {name!r} at {where}: no certificate presented")
    try:
        return x509.load_der_x509_certificate(der), alpn
    except ValueError as error:
        raise errors.Error(f"TLS probe of {name!r} at {where}: bad certificate") from error


def probe_sni(
    name: bytes | str,
    host: bytes | str,
    port: int = 443,
    timeout: float = 300,
    method: Any = None,
    source_address: tuple[str, int] = ("", 0),
    alpn_protocols: Any = None,
) -> x509.Certificate:
    """The certificate ``host:port`` presents for SNI ``name`` (not verified: it is a probe).

    ``timeout`` bounds the whole probe. ``method`` (a pyOpenSSL method in 1.x) is ignored: the
    standard library negotiates TLS 1.2 or newer. ``alpn_protocols``: str or bytes names to
    offer. Raises `acme.errors.Error`, the cause chained.
    """
    del method
    server_name = _text(name, "SNI name")
    target = _text(host, "host").strip("[]")
    protocols = [_text(p, "ALPN protocol") for p in alpn_protocols] if alpn_protocols else None
    source = None if source_address in (None, ("", 0)) else source_address
    return _probe(
        server_name, target, _check_port(port), _check_timeout(timeout), source, protocols
    )[0]


def tlsalpn01_probe_cert(
    domain: str, host: str | None = None, port: int | None = None, timeout: float = 30
) -> x509.Certificate:
    """``TLSALPN01Response.probe_cert``: the certificate served for ``domain`` over acme-tls/1.

    Connects to ``host`` (default: ``domain`` itself) on ``port`` (default 443), sends SNI
    ``domain`` (for an IP address, its ``in-addr.arpa`` / ``ip6.arpa`` name, RFC 8738
    section 6) and offers only ALPN ``acme-tls/1``, which the server must select (RFC 8737
    section 3). Raises `acme.errors.Error`.
    """
    identifier = _text(domain, "domain").strip("[]")
    target = identifier if host is None else _text(host, "host").strip("[]")
    port = TLSALPN01_PORT if port is None else _check_port(port)
    cert, alpn = _probe(
        identifiers.sni_name(identifier),
        target,
        port,
        _check_timeout(timeout),
        None,
        [_tls.ACME_TLS_1],
    )
    if alpn != _tls.ACME_TLS_1:  # RFC 8737 section 3, step 3
        raise errors.Error(f"{target} port {port} did not select ALPN acme-tls/1 (got {alpn!r})")
    return cert


def tlsalpn01_simple_verify(
    response: Any,
    chall: Any,
    domain: str,
    account_public_key: Any,
    cert: Any = None,
    host: str | None = None,
    port: int | None = None,
    timeout: float = 30,
) -> bool:
    """``TLSALPN01Response.simple_verify``: key authorization, then the certificate.

    Without ``cert``, probes it with `tlsalpn01_probe_cert`; then ``response.verify_cert``.
    False, with the reason logged, on any failure.
    """
    if not response.verify(chall, account_public_key):
        logger.info("tls-alpn-01 self-check for %s: key authorization does not match", domain)
        return False
    if cert is None:
        try:
            cert = tlsalpn01_probe_cert(domain, host=host, port=port, timeout=timeout)
        except errors.Error as error:
            logger.info("tls-alpn-01 self-check for %s: %s", domain, error)
            return False
    try:
        verified = bool(response.verify_cert(domain, cert))
    except errors.Error as error:
        logger.info("tls-alpn-01 self-check for %s: %s", domain, error)
        return False
    if not verified:
        logger.info("tls-alpn-01 self-check for %s: not the expected certificate", domain)
    return verified


# --- legacy server socket -------------------------------------------------------------------


class SSLSocket:
    """Deprecated (acme 1.x): wraps a listening socket; `accept` completes a TLS handshake.

    The certificate comes from ``cert_selection(hello)`` if given, else from ``certs`` (SNI name
    -> ``(key, cert)``, read at each handshake); ``hello`` is the parsed ClientHello
    (``get_servername()``, ``alpn_protocols``), because the standard library exposes no
    connection before the certificate is chosen. ``alpn_selection(hello, offered)`` returns the
    protocol to select (bytes or str), or a false value to refuse the handshake. ``method``
    (a pyOpenSSL method in 1.x) is ignored: TLS 1.2 or newer is negotiated. ``timeout`` bounds
    each handshake. A failed handshake raises ``OSError`` (as 1.x raised ``socket.error``).
    """

    def __init__(
        self,
        sock: socket.socket,
        certs: Mapping[Any, Any] | None = None,
        method: Any = None,
        alpn_selection: Any = None,
        cert_selection: Any = None,
        timeout: float = 10.0,
    ) -> None:
        warnings.warn(
            "acme.crypto_util.SSLSocket is deprecated: use acme.standalone.TLSALPN01Server",
            DeprecationWarning,
            stacklevel=2,
        )
        del method
        self.sock = sock
        self.certs: Mapping[Any, Any] = {} if certs is None else certs
        self.alpn_selection = alpn_selection
        self.cert_selection = cert_selection
        self.timeout = timeout
        self._contexts = _tls.ContextCache()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)

    def accept(self) -> tuple[_tls_server.TLSConnection, Any]:
        """Accept a connection and complete its handshake: ``(connection, address)``."""
        conn, address = self.sock.accept()
        try:
            deadline = time.monotonic() + self.timeout
            tls = _tls_server.accept_handshake(conn, deadline, self._choose, self._contexts)
        except BaseException:
            conn.close()
            raise
        conn.settimeout(self.sock.gettimeout())
        return tls, address

    def _choose(self, hello: _tls.ClientHello) -> tuple[Any, Any, str | None] | int:
        if self.cert_selection is not None:
            pair = self.cert_selection(hello)
        else:
            pair = _tls_server.lookup(self.certs, hello.server_name)
        if pair is None:
            return _tls.ALERT_UNRECOGNIZED_NAME
        key, cert = _tls_server.key_and_cert(pair)
        alpn: str | None = None
        if self.alpn_selection is not None and hello.alpn_protocols:
            chosen = self.alpn_selection(hello, list(hello.alpn_protocols))
            if not chosen:
                return _tls.ALERT_NO_APPLICATION_PROTOCOL
            alpn = chosen.decode("ascii") if isinstance(chosen, bytes) else str(chosen)
        return key, cert, alpn
