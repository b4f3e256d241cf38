"""ACME identifier validation challenges (RFC 8555 section 8, RFC 8737, RFC 8738, drafts).

A challenge is what the server sends inside an authorization; a challenge response is what the
client POSTs back to the challenge URL to say "ready". For the key authorization challenges
(http-01, dns-01, tls-alpn-01) that response body is the empty JSON object (RFC 8555 section
7.5.1): the proof lives in the provisioned resource, computed by ``validation()``.

The draft challenges dns-account-01 (draft-ietf-acme-dns-account-label) and dns-persist-01
(draft-ietf-acme-dns-persist, a persistent record checked read-only, without a token) are
defined in ``acme._dns_challenges`` and exported here.

Unknown challenge types parse as `UnrecognizedChallenge`, which keeps the server's JSON
untouched, so that a client can skip challenge types it does not know (RFC 8555 section 7.1.4).

This module does no I/O; the network checks (``simple_verify``, ``probe_cert``) are added by the
network layer.
"""

from __future__ import annotations

import abc
import copy
import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from josepy import b64, json_util, jwk
from josepy import errors as jose_errors

from acme import _x509, errors

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

# RFC 8555 section 8.3: tokens use only the base64url alphabet, without "=" padding.
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+\Z")
# RFC 8555 section 11.3: at least 128 bits of entropy, i.e. at least 16 decoded bytes.
_TOKEN_BYTES = 128 // 8


def _decode_token(value: Any) -> bytes:
    """Decode a challenge token, refusing what RFC 8555 sections 8.3 and 11.3 forbid."""
    if not isinstance(value, str):
        raise jose_errors.DeserializationError(
            f"Challenge token must be a string, got {type(value).__name__}"
        )
    if "=" in value:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} contains base64 padding ('=')"
        )
    if not _BASE64URL.match(value) or len(value) % 4 == 1:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} is not base64url (RFC 8555 section 8.3)"
        )
    decoded = b64.b64decode(value)
    if len(decoded) < _TOKEN_BYTES:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} has fewer than 128 bits of entropy "
            "(RFC 8555 section 11.3)"
        )
    # The key authorization re-encodes the token; a non-canonical encoding (stray low bits in
    # the last character) would not survive that, so the key authorization would be wrong.
    if b64.b64encode(decoded).decode("ascii") != value:
        raise jose_errors.DeserializationError(
            f"Challenge token {value!r:.80} is not canonical base64url"
        )
    return decoded


def _decode_key_authorization(value: Any) -> str:
    if not isinstance(value, str):
        raise jose_errors.DeserializationError(
            f"keyAuthorization must be a string, got {type(value).__name__}"
        )
    return value


def _require_mapping(jobj: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(jobj, Mapping):
        raise jose_errors.DeserializationError(
            f"{what} must be a JSON object, got {type(jobj).__name__}"
        )
    return jobj


def _require_jwk(account_key: Any) -> jwk.JWK:
    if not isinstance(account_key, jwk.JWK):
        raise errors.Error(
            f"The account key must be a josepy JWK, got {type(account_key).__name__}"
        )
    return account_key


def _rebuild(cls: type[Any], fields: dict[str, Any]) -> Any:
    """Unpickle helper: josepy's immutable objects refuse the default attribute setting."""
    return cls(**fields)


class Challenge(json_util.TypedJSONObjectWithFields):
    """An ACME challenge; ``Challenge.from_json`` picks the class registered for its type."""

    TYPES: dict[str, type[Any]] = {}

    @classmethod
    def from_json(cls, jobj: Mapping[str, Any]) -> Challenge:
        """Parse a challenge; an unknown type gives `UnrecognizedChallenge`."""
        jobj = _require_mapping(jobj, "A challenge")
        typ = jobj.get(cls.type_field_name)
        if not isinstance(typ, str):
            raise jose_errors.DeserializationError(
                f"A challenge needs a string 'type' field, got {typ!r:.80}"
            )
        type_cls = cls.TYPES.get(typ)
        if type_cls is None and cls is Challenge:
            return UnrecognizedChallenge(jobj)
        if type_cls is None or not issubclass(type_cls, cls):
            raise jose_errors.DeserializationError(
                f"Expected a {cls.__name__} challenge, got type {typ!r:.80}"
            )
        challenge: Challenge = type_cls(**type_cls.fields_from_json(jobj), **_parsed(type_cls))
        return challenge

    def __eq__(self, other: object) -> bool:
        # Mapping equality ignores the class: an http-01 and a dns-01 with one token differ.
        return type(self) is type(other) and super().__eq__(other)

    __hash__ = json_util.TypedJSONObjectWithFields.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), dict(self))


class ChallengeResponse(json_util.TypedJSONObjectWithFields):
    """The client's answer to a challenge, POSTed to the challenge URL."""

    TYPES: dict[str, type[Any]] = {}

    @classmethod
    def from_json(cls, jobj: Mapping[str, Any]) -> ChallengeResponse:
        """Parse a response; the RFC 8555 ``{}`` (no type) parses too (section 7.5.1)."""
        jobj = _require_mapping(jobj, "A challenge response")
        typ = jobj.get(cls.type_field_name)
        if typ is None:
            # Every RFC 8555 / RFC 8737 response body is ``{}``: without a type, the class
            # asked for is used, or the generic key authorization response.
            target: type[Any] = (
                KeyAuthorizationChallengeResponse if cls is ChallengeResponse else cls
            )
        elif not isinstance(typ, str):
            raise jose_errors.DeserializationError(f"Invalid challenge response type {typ!r:.80}")
        else:
            if typ not in cls.TYPES:
                raise jose_errors.UnrecognizedTypeError(typ, jobj)
            target = cls.TYPES[typ]
            if not issubclass(target, cls):
                raise jose_errors.DeserializationError(
                    f"Expected a {cls.__name__}, got type {typ!r:.80}"
                )
        response: ChallengeResponse = target(**target.fields_from_json(jobj), **_parsed(target))
        return response

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and super().__eq__(other)

    __hash__ = json_util.TypedJSONObjectWithFields.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), dict(self))


class UnrecognizedChallenge(Challenge):
    """A challenge of a type this library does not know; its JSON is kept unchanged.

    :ivar dict jobj: the original JSON object (a private copy).
    """

    __slots__ = ("jobj",)
    jobj: dict[str, Any]

    def __init__(self, jobj: Mapping[str, Any]) -> None:
        jobj = _require_mapping(jobj, "A challenge")
        object.__setattr__(self, "jobj", copy.deepcopy(dict(jobj)))

    def to_partial_json(self) -> dict[str, Any]:
        """The original JSON object (a copy, so the challenge stays immutable)."""
        return copy.deepcopy(self.jobj)

    @property
    def typ(self) -> Any:  # type: ignore[override]
        """The challenge's own ``type`` string (the class has none of its own)."""
        return self.jobj.get("type")

    @classmethod
    def from_json(cls, jobj: Mapping[str, Any]) -> UnrecognizedChallenge:
        return cls(jobj)

    def __reduce__(self) -> tuple[Any, ...]:
        return UnrecognizedChallenge, (self.jobj,)

    def __hash__(self) -> int:
        return hash(json.dumps(self.jobj, sort_keys=True, default=repr))


class _TokenChallenge(Challenge):
    """A challenge carrying a random ``token`` (bytes; base64url in JSON)."""

    token: bytes = json_util.field("token", encoder=json_util.encode_b64jose, decoder=_decode_token)

    @property
    def good_token(self) -> bool:
        """Whether the token has the 128 bits of entropy RFC 8555 section 11.3 requires."""
        return isinstance(self.token, bytes) and len(self.token) >= _TOKEN_BYTES

    @property
    def _token_text(self) -> str:
        if not isinstance(self.token, bytes):
            raise errors.Error(f"Challenge token must be bytes, got {type(self.token).__name__}")
        return json_util.encode_b64jose(self.token)


class KeyAuthorizationChallengeResponse(ChallengeResponse):
    """Response to a key authorization challenge.

    ``key_authorization`` is kept locally but never sent: the JSON is ``{}`` (RFC 8555
    section 7.5.1), because the server recomputes the key authorization itself.
    """

    key_authorization: str | None = json_util.field(
        "keyAuthorization", omitempty=True, decoder=_decode_key_authorization
    )

    def verify(self, chall: KeyAuthorizationChallenge, account_public_key: jwk.JWK) -> bool:
        """Whether ``key_authorization`` is the one ``chall`` and the account key give."""
        if not isinstance(self.key_authorization, str):
            logger.debug("No key authorization to verify")
            return False
        if not isinstance(chall, KeyAuthorizationChallenge):
            raise errors.Error(f"Expected a key authorization challenge, got {chall!r:.100}")
        expected = chall.key_authorization(account_public_key)
        if self.key_authorization != expected:
            logger.debug("Key authorization %r is not %r", self.key_authorization, expected)
            return False
        return True

    def to_partial_json(self) -> dict[str, Any]:
        """``{}``: RFC 8555 section 7.5.1 sends an empty object, without ``type``."""
        return {}


class KeyAuthorizationChallenge(_TokenChallenge):
    """A challenge answered with a key authorization (RFC 8555 section 8.1)."""

    response_cls: type[KeyAuthorizationChallengeResponse] = KeyAuthorizationChallengeResponse

    def key_authorization(self, account_key: jwk.JWK) -> str:
        """``token || '.' || base64url(Thumbprint(accountKey))`` (RFC 8555 section 8.1).

        The thumbprint is RFC 7638's, with SHA-256, over the public part of the key.
        """
        thumbprint = _require_jwk(account_key).thumbprint(hash_function=hashes.SHA256)
        return f"{self._token_text}.{json_util.encode_b64jose(thumbprint)}"

    def response(self, account_key: jwk.JWK) -> KeyAuthorizationChallengeResponse:
        """The response to POST (its JSON is ``{}``), holding the key authorization."""
        return self.response_cls(key_authorization=self.key_authorization(account_key))

    @abc.abstractmethod
    def validation(self, account_key: jwk.JWK, **kwargs: Any) -> Any:
        """What to provision so the server can validate; its type depends on the challenge."""

    def response_and_validation(
        self, account_key: jwk.JWK, *args: Any, **kwargs: Any
    ) -> tuple[KeyAuthorizationChallengeResponse, Any]:
        """``(self.response(account_key), self.validation(account_key, *args, **kwargs))``."""
        return self.response(account_key), self.validation(account_key, *args, **kwargs)


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
        from acme import _probes  # network code: loaded only when used

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

    def uri(self, domain: str) -> str:
        """``http://{domain}/.well-known/acme-challenge/{token}``; IPv6 in brackets (RFC 8738)."""
        if not isinstance(domain, str) or not domain:
            raise errors.Error(f"Not a domain name or IP address: {domain!r:.100}")
        host = domain
        try:
            if isinstance(ipaddress.ip_address(domain), ipaddress.IPv6Address):
                host = f"[{domain}]"  # RFC 3986 section 3.2.2 IP-literal
        except ValueError:
            pass
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
        from acme import _probes

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
            raise errors.Error(f"Not a domain name: {name!r:.100}")
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
            private_key = _x509.coerce_private_key(key)
        return _x509.tls_alpn01_cert(domain, self.h, private_key), private_key

    def verify_cert(self, domain: str, cert: Any) -> bool:
        """Whether ``cert`` (``cryptography`` or pyOpenSSL) is the right challenge certificate.

        RFC 8737 section 3: exactly one subjectAltName entry, ``domain`` (iPAddress for an IP,
        RFC 8738 section 6), and a critical acmeIdentifier extension holding `h`.
        """
        certificate = _x509.coerce_certificate(cert)
        return _x509.check_tls_alpn01_cert(domain, self.h, certificate)

    def probe_cert(
        self, domain: str, host: str | None = None, port: int | None = None
    ) -> x509.Certificate:
        """The certificate served for ``domain`` over ALPN acme-tls/1 at ``host:port``."""
        from acme import _probes

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
        from acme import _probes

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
            raise errors.Error("tls-alpn-01 validation needs the domain (or IP) being validated")
        return self.response(account_key).gen_cert(domain, key=cert_key)

    @classmethod
    def is_supported(cls) -> bool:
        """Always True: the certificate is built with ``cryptography``, ALPN by stdlib ``ssl``."""
        return True


# The pre-RFC "dns" challenge (acme 1.x) lives in its own module; importing it registers it.
# The draft DNS challenges (dns-account-01, dns-persist-01) live in their own module too.
from acme._dns_challenges import (  # noqa: E402
    DNSAccount01,
    DNSAccount01Response,
    DNSPersist01,
    DNSPersist01Record,
    DNSPersist01Response,
)
from acme._legacy_dns import DNS, DNSResponse  # noqa: E402


def _parsed(cls: type[Any]) -> dict[str, Any]:
    """Extra constructor arguments for a class built from JSON: only the legacy classes take
    one, so that what a server sent does not count as the caller's use of a legacy class."""
    return {"_acme_parsed": True} if cls in (DNS, DNSResponse) else {}
