"""Private X.509 helpers shared by `acme.crypto_util` and `acme.challenges`.

Rules: ``cryptography`` only (legacy input forms are converted before they get here, by
`acme._wire.coercion`); every bad input raises `acme.errors.InvalidArgument` (also a
``ValueError``, what acme 5.x raised), naming what was wrong.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from acme import errors
from acme._wire import identifiers
from acme._wire.timestamps import utcnow

logger = logging.getLogger(__name__)

PrivateKey: TypeAlias = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
#: The key classes of `PrivateKey`, for ``isinstance``.
PRIVATE_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)

# id-pe-acmeIdentifier (RFC 8737 section 3 and section 6.1): id-pe 31.
ACME_IDENTIFIER_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")
# The extnValue is the DER of ``Authorization ::= OCTET STRING (SIZE (32))`` (RFC 8737 section 3):
# tag 0x04, length 0x20, then the SHA-256 digest of the key authorization.
_OCTET_STRING_32 = b"\x04\x20"

# How long the throwaway challenge certificate is valid, and how far back it starts so that a
# validation server with a slow clock still accepts it.
_CHALLENGE_CERT_VALIDITY = datetime.timedelta(days=7)
_CLOCK_SKEW = datetime.timedelta(days=1)


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The hash to sign with: matched to the curve for ECDSA, none for EdDSA (RFC 8410)."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size > 384:
            return hashes.SHA512()
        if key.curve.key_size > 256:
            return hashes.SHA384()
    return hashes.SHA256()


def generate_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """A fresh RSA key of ``bits`` bits."""
    if not isinstance(bits, int) or isinstance(bits, bool) or bits < 1024:
        raise errors.InvalidArgument(
            f"RSA key size must be an integer of at least 1024 bits, got {bits!r}"
        )
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def general_name(identifier: Any) -> x509.GeneralName:
    """The SAN entry for a DNS name or IP address (RFC 8738 section 6 for IPs)."""
    if isinstance(identifier, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return x509.IPAddress(identifier)
    if not isinstance(identifier, str):
        raise errors.InvalidArgument(f"Not a domain name or IP address: {identifier!r:.100}")
    ip = identifiers.parse_ip(identifier)
    if ip is not None:
        return x509.IPAddress(ip)
    return x509.DNSName(identifiers.dns_name(identifier))


def tls_alpn01_cert(identifier: Any, digest: bytes, key: PrivateKey) -> x509.Certificate:
    """The self-signed tls-alpn-01 challenge certificate (RFC 8737 section 3).

    It holds exactly one subjectAltName entry (dNSName, or iPAddress for an IP identifier as
    RFC 8738 section 6 says) and the critical acmeIdentifier extension carrying ``digest``,
    the SHA-256 of the key authorization.
    """
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise errors.InvalidArgument("The acmeIdentifier value must be a 32 byte SHA-256 digest")
    san = general_name(identifier)
    text = str(san.value)
    # A CN longer than 64 characters is not allowed (RFC 5280 ub-common-name); with an empty
    # subject the SAN must then be critical (RFC 5280 section 4.2.1.6).
    name = x509.Name(
        [x509.NameAttribute(x509.NameOID.COMMON_NAME, text)] if len(text) <= 64 else []
    )
    now = utcnow()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _CHALLENGE_CERT_VALIDITY)
        .add_extension(x509.SubjectAlternativeName([san]), critical=not len(name))
        .add_extension(
            x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, _OCTET_STRING_32 + digest),
            critical=True,  # RFC 8737 section 3: MUST be critical
        )
    )
    return builder.sign(key, signature_hash(key))


def check_tls_alpn01_cert(identifier: Any, digest: bytes, cert: x509.Certificate) -> bool:
    """Whether ``cert`` is a valid tls-alpn-01 certificate for ``identifier`` and ``digest``.

    RFC 8737 section 3: the subjectAltName holds the identifier "and no other entries"
    (dNSNames compared case-insensitively); the acmeIdentifier extension is critical and
    carries the DER OCTET STRING of the digest.
    """
    expected = general_name(identifier)
    try:
        extensions = cert.extensions
    except (x509.DuplicateExtension, ValueError) as error:
        logger.debug("tls-alpn-01 certificate has unparseable extensions: %s", error)
        return False
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName)
        acme_ext = extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    except x509.ExtensionNotFound as error:
        logger.debug("tls-alpn-01 certificate lacks an extension: %s", error)
        return False
    names = list(san.value)
    if len(names) != 1:
        logger.debug("tls-alpn-01 certificate has %d SAN entries, not 1", len(names))
        return False
    (found,) = names
    if type(found) is not type(expected):
        logger.debug("tls-alpn-01 SAN is a %s, expected a %s", type(found), type(expected))
        return False
    if isinstance(found, x509.DNSName):
        if found.value.lower() != str(expected.value).lower():
            logger.debug("tls-alpn-01 SAN %r does not match %r", found.value, expected.value)
            return False
    elif found != expected:
        logger.debug("tls-alpn-01 SAN %r does not match %r", found.value, expected.value)
        return False
    if not acme_ext.critical:
        logger.debug("tls-alpn-01 acmeIdentifier extension is not critical")
        return False
    value = acme_ext.value
    if not isinstance(value, x509.UnrecognizedExtension) or value.value != (
        _OCTET_STRING_32 + digest
    ):
        logger.debug("tls-alpn-01 acmeIdentifier does not carry the expected digest")
        return False
    return True
