"""Real challenge validation for the test server, confined to loopback.

FOR TESTS AND DEMOS ONLY. http-01 is an HTTP GET (RFC 8555 section 8.3), tls-alpn-01 a TLS
handshake offering only ALPN ``acme-tls/1`` (RFC 8737 section 3), dns-01 a lookup in an
in-memory TXT record store (RFC 8555 section 8.4), `DNSRecordStore`, that tests fill directly
or other processes through the server's management API (``/set-txt``).
Names resolve through a small table to loopback addresses; the validator refuses to connect
anywhere else, so a test can never make it reach the network.
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Mapping

from cryptography import x509
from josepy import b64, jwk

from acme import challenges, errors, messages
from acme._core.challenges import http01_body_matches
from acme._net.tls import client_context
from acme._wire import identifiers

__all__ = ["ChallengeValidator", "DNSRecordStore", "check_loopback"]

_MAX_BODY = 8192
_MAX_REDIRECTS = 5


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback IP address (127.0.0.0/8 or ::1), else an
    `acme.errors.InvalidArgument` (a ``ValueError``) that says so: a test CA must never be
    reachable from another machine, and a name such as ``localhost`` could resolve anywhere."""
    if not identifiers.is_loopback(host):
        raise errors.InvalidArgument(
            f"acme.testing listens on a loopback address only (127.0.0.1 or ::1), not {host!r}"
        )
    return host


class DNSRecordStore:
    """Thread-safe in-memory TXT records, keyed by lower-case name without a final dot."""

    def __init__(self) -> None:
        self._records: dict[str, list[str]] = collections.defaultdict(list)
        self._lock = threading.Lock()

    @staticmethod
    def _key(name: str) -> str:
        return name.rstrip(".").lower()

    def add_txt(self, name: str, value: str) -> None:
        """Publish a TXT record (e.g. ``_acme-challenge.example.org``, RFC 8555 8.4)."""
        with self._lock:
            self._records[self._key(name)].append(value)

    def remove_txt(self, name: str, value: str | None = None) -> None:
        """Remove one value (or every value, when ``value`` is None) at ``name``."""
        with self._lock:
            values = self._records.get(self._key(name), [])
            if value is None:
                values.clear()
            elif value in values:
                values.remove(value)

    def txt(self, name: str) -> list[str]:
        """The TXT values published at ``name``."""
        with self._lock:
            return list(self._records.get(self._key(name), []))


def _problem(code: str, detail: str, identifier: messages.Identifier) -> messages.Error:
    return messages.Error.with_code(
        code, detail=f"{identifier.typ} identifier {identifier.value}: {detail}"
    )


class ChallengeValidator:
    """Validates challenges against servers on loopback; an `acme.testing.Validator`.

    :param hosts: name to address overrides; every other DNS name resolves to
        ``default_address``. IP identifiers are their own address. Only loopback addresses
        are ever contacted.
    :param http_port: where http-01 is checked (RFC 8555 says 80; tests use their
        standalone server's port).
    :param tls_port: where tls-alpn-01 is checked (RFC 8737 says 443).
    :param dns: the TXT records dns-01 reads.
    """

    def __init__(
        self,
        *,
        http_port: int = 80,
        tls_port: int = 443,
        hosts: Mapping[str, str] | None = None,
        default_address: str = "127.0.0.1",
        dns: DNSRecordStore | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.http_port = http_port
        self.tls_port = tls_port
        self.hosts = dict(hosts or {})
        self.default_address = default_address
        self.dns = dns or DNSRecordStore()
        self.timeout = timeout

    def resolve(self, identifier_type: str, value: str) -> str:
        """The loopback address to contact for an identifier (``ValueError`` otherwise)."""
        address = value if identifier_type == "ip" else self.hosts.get(value, self.default_address)
        if not identifiers.is_loopback(address):
            raise ValueError(f"{address} is not a loopback address; acme.testing stays local")
        return address

    def __call__(
        self,
        challenge_type: str,
        identifier: messages.Identifier,
        token: str,
        key_authorization: str,
        account_key: jwk.JWK,
    ) -> messages.Error | None:
        if challenge_type == "dns-01":
            return self._dns01(identifier, key_authorization)
        try:
            address = self.resolve(str(identifier.typ), identifier.value)
        except ValueError as error:
            return _problem("dns", str(error), identifier)
        if challenge_type == "http-01":
            return self._http01(identifier, address, token, key_authorization)
        if challenge_type == "tls-alpn-01":
            return self._tls_alpn01(identifier, address, key_authorization)
        return _problem("malformed", f"cannot validate {challenge_type!r}", identifier)

    def _dns01(
        self, identifier: messages.Identifier, key_authorization: str
    ) -> messages.Error | None:
        """RFC 8555 section 8.4: a TXT record holding base64url(SHA-256(key authorization))."""
        name = f"_acme-challenge.{identifier.value}"
        expected = b64.b64encode(hashlib.sha256(key_authorization.encode()).digest()).decode()
        records = self.dns.txt(name)
        if not records:
            return _problem("dns", f"no TXT record at {name}", identifier)
        if expected not in records:
            return _problem("incorrectResponse", f"no TXT record at {name} matches", identifier)
        return None

    def _http01(
        self, identifier: messages.Identifier, address: str, token: str, key_authorization: str
    ) -> messages.Error | None:
        """RFC 8555 section 8.3: GET the key authorization, following a few redirects."""
        host = identifier.value
        path = f"/.well-known/acme-challenge/{token}"
        port = self.http_port
        for _ in range(_MAX_REDIRECTS + 1):
            conn = http.client.HTTPConnection(address, port, timeout=self.timeout)
            try:
                # RFC 8738 section 5: the Host header is the IP address itself for IPs.
                host_header = f"[{host}]" if ":" in host else host
                conn.request("GET", path, headers={"Host": host_header, "Accept": "*/*"})
                response = conn.getresponse()
                body = response.read(_MAX_BODY)
                location = response.getheader("Location")
            except (OSError, http.client.HTTPException) as error:
                return _problem(
                    "connection", f"GET {path} on {address}:{port}: {error}", identifier
                )
            finally:
                conn.close()
            if response.status in (301, 302, 303, 307, 308) and location:
                target = urllib.parse.urlsplit(
                    urllib.parse.urljoin(f"http://{host}{path}", location)
                )
                if target.scheme != "http" or not target.hostname:
                    return _problem("connection", f"unsupported redirect to {location}", identifier)
                try:
                    kind = "ip" if identifiers.is_ip(target.hostname) else "dns"
                    address = self.resolve(kind, target.hostname)
                except ValueError as error:
                    return _problem("connection", str(error), identifier)
                host, port = target.hostname, target.port or 80
                path = target.path or "/"
                continue
            if response.status != 200:
                return _problem(
                    "unauthorized", f"GET {path} answered {response.status}", identifier
                )
            cutset = challenges.HTTP01Response.WHITESPACE_CUTSET
            if not http01_body_matches(body, key_authorization, cutset):
                return _problem(
                    "incorrectResponse", f"GET {path} returned {body[:100]!r}", identifier
                )
            return None
        return _problem("connection", "too many redirects", identifier)

    def _tls_alpn01(
        self, identifier: messages.Identifier, address: str, key_authorization: str
    ) -> messages.Error | None:
        """RFC 8737 section 3: handshake with ALPN acme-tls/1 and SNI, check the certificate."""
        protocol = challenges.TLSALPN01Response.ACME_TLS_1_PROTOCOL
        context = client_context([protocol])  # unverified: the certificate is self-signed
        is_ip = str(identifier.typ) == "ip"
        server_name = identifiers.reverse_name(identifier.value) if is_ip else identifier.value
        try:
            with (
                socket.create_connection((address, self.tls_port), timeout=self.timeout) as raw,
                context.wrap_socket(raw, server_hostname=server_name) as tls,
            ):
                chosen = tls.selected_alpn_protocol()
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as error:
            return _problem("tls", f"handshake with {address}:{self.tls_port}: {error}", identifier)
        if chosen != protocol:
            return _problem("tls", f"the server did not negotiate {protocol}", identifier)
        if not der:
            return _problem("tls", "the server sent no certificate", identifier)
        response = challenges.TLSALPN01Response(key_authorization=key_authorization)
        if not response.verify_cert(identifier.value, x509.load_der_x509_certificate(der)):
            return _problem("incorrectResponse", "wrong tls-alpn-01 certificate", identifier)
        return None
