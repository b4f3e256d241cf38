"""ACME identifier validation challenges (RFC 8555 section 8, RFC 8737, RFC 8738, drafts).

A challenge is what the server sends inside an authorization; a challenge response is what the
client POSTs back to the challenge URL to say "ready". For the key authorization challenges
(http-01, dns-01, tls-alpn-01) that response body is the empty JSON object (RFC 8555 section
7.5.1): the proof lives in the provisioned resource, computed by ``validation()``.

The draft challenges dns-account-01 (draft-ietf-acme-dns-account-label) and dns-persist-01
(draft-ietf-acme-dns-persist, a persistent record checked read-only, without a token) are
defined in ``acme._wire.dns_challenges`` and exported here.

Unknown challenge types parse as `UnrecognizedChallenge`, which keeps the server's JSON
untouched, so that a client can skip challenge types it does not know (RFC 8555 section 7.1.4).

Building and checking challenges and responses is pure; only the self-checks
(``HTTP01Response.simple_verify``, ``TLSALPN01Response.probe_cert`` and its ``simple_verify``)
touch the network, through `acme._net.probes`, imported when first called.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from typing import Any

from cryptography import x509
from josepy import json_util, jwk

from acme import errors
from acme._wire import coercion, identifiers
from acme._wire import x509 as _x509
from acme._wire.challenge_base import (
    Challenge,
    ChallengeResponse,
    KeyAuthorizationChallenge,
    KeyAuthorizationChallengeResponse,
    UnrecognizedChallenge,
)
from acme._wire.dns_challenges import (  # the drafts' dns-account-01 and dns-persist-01
    DNSAccount01,
    DNSAccount01Response,
    DNSPersist01,
    DNSPersist01Record,
    DNSPersist01Response,
)
from acme._wire.legacy_dns import DNS, DNSResponse  # the pre-RFC "dns" challenge (acme 1.x)

__all__ = [
    "DNS",
    "DNS01",
    "HTTP01",
    "TLSALPN01",
    "Challenge",
    "ChallengeResponse",
    "DNS01Response",
    "DNSAccount01",
    "DNSAccount01Response",
    "DNSPersist01",
    "DNSPersist01Record",
    "DNSPersist01Response",
    "DNSResponse",
    "HTTP01Response",
    "KeyAuthorizationChallenge",
    "KeyAuthorizationChallengeResponse",
    "TLSALPN01Response",
    "UnrecognizedChallenge",
]

logger = logging.getLogger(__name__)


@ChallengeResponse.register
class HTTP01Response(KeyAuthorizationChallengeResponse):
    """http-01 response (RFC 8555 section 8.3)."""

    typ = "http-01"
    # RFC 8555 section 8.3: the server connects to port 80.
    PORT = 80
    # Trailing whitespace the validator ignores around the served key authorization.
    WHITESPACE_CUTSET = "\n\r\t "

    def simple_verify(
        self,
        chall: HTTP01,
        domain: str,
        account_public_key: jwk.JWK,
        port: int | None = None,
        timeout: float = 30,
    ) -> bool:
        """Self-check: GET the resource (``port`` overrides 80) within ``timeout`` seconds
        and compare it to the key authorization; False (logged) on any failure."""
        from acme._net import probes as _probes  # network code: loaded only when used

        return _probes.http01_simple_verify(self, chall, domain, account_public_key, port, timeout)


@Challenge.register
class HTTP01(KeyAuthorizationChallenge):
    """http-01: serve the key authorization over plain HTTP (RFC 8555 section 8.3)."""

    typ = "http-01"
    response_cls = HTTP01Response

    def response(self, account_key: jwk.JWK) -> HTTP01Response:
        """The ``http-01`` response (its JSON is ``{}``), holding the key authorization."""
        return HTTP01Response(key_authorization=self.key_authorization(account_key))

    # RFC 8555 section 8.3: "/.well-known/acme-challenge/" followed by the token.
    URI_ROOT_PATH = ".well-known/acme-challenge"

    @property
    def path(self) -> str:
        """The path of the resource to provision, starting with ``/``."""
        return f"/{self.URI_ROOT_PATH}/{self._token_text}"

    def uri(self, identifier: str | None = None, *, domain: str | None = None) -> str:
        """``http://{identifier}/.well-known/acme-challenge/{token}``; IPv6 in brackets (RFC
        8738). ``identifier`` is acme 5.x's name for the argument, ``domain`` acme 1.x's."""
        if domain is not None:
            if identifier is not None:
                raise errors.InvalidArgument(
                    "Give HTTP01.uri() an identifier or a domain, not both"
                )
            identifier = domain
        if not isinstance(identifier, str) or not identifier:
            raise errors.InvalidArgument(f"Not a domain name or IP address: {identifier!r:.100}")
        host = identifier
        if not identifier.startswith("[") and isinstance(
            identifiers.parse_ip(identifier), ipaddress.IPv6Address
        ):
            host = f"[{identifier}]"  # RFC 3986 section 3.2.2 IP-literal
        return f"http://{host}{self.path}"

    def validation(self, account_key: jwk.JWK, **unused_kwargs: Any) -> str:
        """The body to serve at `path`: the key authorization."""
        return self.key_authorization(account_key)


@ChallengeResponse.register
class DNS01Response(KeyAuthorizationChallengeResponse):
    """dns-01 response (RFC 8555 section 8.4)."""

    typ = "dns-01"

    def simple_verify(self, chall: DNS01, domain: str, account_public_key: jwk.JWK) -> bool:
        """Check the key authorization only (as acme 5.x): DNS is not queried."""
        from acme._net import probes as _probes

        return _probes.dns01_simple_verify(self, chall, domain, account_public_key)


@Challenge.register
class DNS01(KeyAuthorizationChallenge):
    """dns-01: publish a TXT record under ``_acme-challenge`` (RFC 8555 section 8.4)."""

    typ = "dns-01"
    response_cls = DNS01Response

    def response(self, account_key: jwk.JWK) -> DNS01Response:
        """The ``dns-01`` response (its JSON is ``{}``), holding the key authorization."""
        return DNS01Response(key_authorization=self.key_authorization(account_key))

    # RFC 8555 section 8.4: the record lives at "_acme-challenge." + the domain name.
    LABEL = "_acme-challenge"

    def validation(self, account_key: jwk.JWK, **unused_kwargs: Any) -> str:
        """The TXT record value: base64url(SHA-256(key authorization)), no padding (8.4)."""
        digest = hashlib.sha256(self.key_authorization(account_key).encode("ascii")).digest()
        return json_util.encode_b64jose(digest)

    def validation_domain_name(self, name: str) -> str:
        """``_acme-challenge.<name>``; a wildcard is validated on its base name (RFC 8555 7.1.3)."""
        if not isinstance(name, str) or not name:
            raise errors.InvalidArgument(f"Not a domain name: {name!r:.100}")
        if name.startswith("*."):
            name = name[2:]
        return f"{self.LABEL}.{name}"


@ChallengeResponse.register
class TLSALPN01Response(KeyAuthorizationChallengeResponse):
    """tls-alpn-01 response and challenge certificate (RFC 8737)."""

    typ = "tls-alpn-01"
    # RFC 8737 section 3: the server connects to port 443 ...
    PORT = 443
    # ... and offers only the "acme-tls/1" ALPN protocol (RFC 8737 sections 3 and 6.2).
    ACME_TLS_1_PROTOCOL = "acme-tls/1"
    # id-pe-acmeIdentifier, id-pe 31 (RFC 8737 sections 3 and 6.1).
    ID_PE_ACME_IDENTIFIER_V1 = _x509.ACME_IDENTIFIER_OID

    @property
    def h(self) -> bytes:
        """SHA-256 digest of the key authorization, the acmeIdentifier value (section 3)."""
        if not isinstance(self.key_authorization, str):
            raise errors.Error("This tls-alpn-01 response has no key authorization")
        return hashlib.sha256(self.key_authorization.encode("ascii")).digest()

    def gen_cert(
        self, domain: str, key: Any = None, bits: int = 2048
    ) -> tuple[x509.Certificate, _x509.PrivateKey]:
        """Make the challenge certificate for ``domain`` (a DNS name or an IP address).

        :param key: private key to certify (``cryptography`` or pyOpenSSL ``PKey``); a fresh
            RSA key of ``bits`` bits when None.
        :returns: ``(certificate, private key)`` as ``cryptography`` objects.
        """
        if key is None:
            private_key: _x509.PrivateKey = _x509.generate_rsa_key(bits)
        else:
            private_key = coercion.coerce_private_key(key)
        return _x509.tls_alpn01_cert(domain, self.h, private_key), private_key

    def verify_cert(self, domain: str, cert: Any) -> bool:
        """Whether ``cert`` (``cryptography`` or pyOpenSSL) is the right challenge certificate.

        RFC 8737 section 3: exactly one subjectAltName entry, ``domain`` (iPAddress for an IP,
        RFC 8738 section 6), and a critical acmeIdentifier extension holding `h`.
        """
        certificate = coercion.coerce_certificate(cert)
        return _x509.check_tls_alpn01_cert(domain, self.h, certificate)

    def probe_cert(
        self, domain: str, host: str | None = None, port: int | None = None
    ) -> x509.Certificate:
        """The certificate served for ``domain`` over ALPN acme-tls/1 at ``host:port``."""
        from acme._net import probes as _probes

        return _probes.tlsalpn01_probe_cert(domain, host, port)

    def simple_verify(
        self,
        chall: TLSALPN01,
        domain: str,
        account_public_key: jwk.JWK,
        cert: Any = None,
        host: str | None = None,
        port: int | None = None,
    ) -> bool:
        """Self-check: key authorization, then ``cert`` (probed when None) via `verify_cert`."""
        from acme._net import probes as _probes

        return _probes.tlsalpn01_simple_verify(
            self, chall, domain, account_public_key, cert, host, port
        )


@Challenge.register
class TLSALPN01(KeyAuthorizationChallenge):
    """tls-alpn-01: present a special certificate over ALPN ``acme-tls/1`` (RFC 8737)."""

    typ = "tls-alpn-01"
    response_cls = TLSALPN01Response

    def response(self, account_key: jwk.JWK) -> TLSALPN01Response:
        """The ``tls-alpn-01`` response (its JSON is ``{}``), holding the key authorization."""
        return TLSALPN01Response(key_authorization=self.key_authorization(account_key))

    def validation(
        self,
        account_key: jwk.JWK,
        domain: str | None = None,
        cert_key: Any = None,
        **unused_kwargs: Any,
    ) -> tuple[x509.Certificate, _x509.PrivateKey]:
        """The challenge certificate and its key for ``domain`` (required).

        :param cert_key: key to certify (``cryptography`` or pyOpenSSL); fresh RSA when None.
        """
        if domain is None:
            raise errors.InvalidArgument(
                "tls-alpn-01 validation needs the domain (or IP) being validated"
            )
        return self.response(account_key).gen_cert(domain, key=cert_key)

    @classmethod
    def is_supported(cls) -> bool:
        """Always True: the certificate is built with ``cryptography``, ALPN by stdlib ``ssl``."""
        return True


# The base classes live in acme._wire.challenge_base; they are documented and pickled here.
for _cls in (
    Challenge,
    ChallengeResponse,
    KeyAuthorizationChallenge,
    KeyAuthorizationChallengeResponse,
    UnrecognizedChallenge,
):
    _cls.__module__ = __name__
del _cls
