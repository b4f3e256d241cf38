"""Accept the input forms of acme 1.x and 5.x at the API boundary; return `cryptography` ones.

One family, one error: every function here refuses bad input with
`acme.errors.InvalidArgument` naming what was wrong. Legacy objects are converted in one
place, `from_legacy`: pyOpenSSL ``PKey``, ``X509`` and ``X509Req`` through their own
``to_cryptography*`` methods (so pyOpenSSL is never imported), and josepy 1.x
``ComparableX509`` through the object it wraps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import jwk

from acme import errors
from acme._wire.x509 import PRIVATE_KEY_TYPES, PrivateKey

__all__ = [
    "coerce_certificate",
    "coerce_csr",
    "coerce_csr_pem",
    "coerce_jwk",
    "coerce_private_key",
    "from_legacy",
]

Loader = Callable[[bytes], Any]


def from_legacy(value: Any) -> Any:
    """``value`` as its `cryptography` object if it is a legacy wrapper, else unchanged."""
    for method in ("to_cryptography_key", "to_cryptography"):  # pyOpenSSL (acme 1.x API)
        convert = getattr(value, method, None)
        if callable(convert):
            return convert()
    wrapped = getattr(value, "wrapped", None)  # josepy 1.x ComparableX509
    if wrapped is not None and wrapped is not value:
        return from_legacy(wrapped)
    return value


def _bytes(value: Any) -> bytes | None:
    """``value`` as bytes if it is text or bytes-like (PEM may come as ``str``), else None."""
    if isinstance(value, str):
        return value.encode("ascii", "replace")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return None


def _is_pem(data: bytes) -> bool:
    return b"-----BEGIN" in data


def _load(value: Any, pem: Loader, der: Loader, what: str) -> Any:
    """``value`` converted from a legacy wrapper, or loaded if it is PEM/DER text or bytes."""
    value = from_legacy(value)
    data = _bytes(value)
    if data is None:
        return value
    try:
        return (pem if _is_pem(data) else der)(data)
    except (ValueError, TypeError) as error:  # TypeError: an encrypted key
        raise errors.InvalidArgument(f"Cannot load the {what} (PEM or DER): {error}") from None


def _refuse(value: Any, what: str, expected: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(f"The {what} must be {expected}, got {type(value).__name__}")


def coerce_private_key(key: Any, what: str = "private key") -> PrivateKey:
    """A private key from itself, a pyOpenSSL ``PKey`` or unencrypted PEM/DER.

    RSA, ECDSA, Ed25519 and Ed448 keys are accepted; others cannot sign an ACME certificate.
    """
    key = _load(key, _pem_private_key, _der_private_key, what)
    if isinstance(key, PRIVATE_KEY_TYPES):
        return key
    raise _refuse(key, what, "an RSA, ECDSA, Ed25519 or Ed448 private key")


def coerce_certificate(cert: Any, what: str = "certificate") -> x509.Certificate:
    """A certificate from itself, a pyOpenSSL ``X509``, a ``ComparableX509`` or PEM/DER."""
    cert = _load(cert, x509.load_pem_x509_certificate, x509.load_der_x509_certificate, what)
    if isinstance(cert, x509.Certificate):
        return cert
    raise _refuse(cert, what, "an X.509 certificate")


def coerce_csr(csr: Any, what: str = "CSR") -> x509.CertificateSigningRequest:
    """A CSR from itself, a pyOpenSSL ``X509Req`` or PEM/DER."""
    csr = _load(csr, x509.load_pem_x509_csr, x509.load_der_x509_csr, what)
    if isinstance(csr, x509.CertificateSigningRequest):
        return csr
    raise _refuse(csr, what, "a certificate signing request")


def _pem_private_key(data: bytes) -> Any:
    return serialization.load_pem_private_key(data, password=None)


def _der_private_key(data: bytes) -> Any:
    return serialization.load_der_private_key(data, password=None)


def coerce_csr_pem(csr: Any) -> bytes:
    """PEM bytes of a CSR in any form `coerce_csr` accepts; PEM input is checked, kept as is."""
    parsed = coerce_csr(csr)
    data = _bytes(csr)
    if data is not None and _is_pem(data):
        return data
    return parsed.public_bytes(serialization.Encoding.PEM)


def coerce_jwk(key: Any) -> jwk.JWK:
    """An account JWK from a JWK, a cryptography RSA/ECDSA private key or a pyOpenSSL ``PKey``."""
    if isinstance(key, jwk.JWK):
        return key
    key = from_legacy(key)
    if isinstance(key, rsa.RSAPrivateKey):
        return jwk.JWKRSA(key=key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return jwk.JWKEC(key=key)
    raise errors.InvalidArgument(
        f"Unsupported account key {type(key).__name__}: use an RSA or ECDSA key (or its JWK)"
    )
