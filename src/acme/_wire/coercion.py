"""Accept the input forms of acme 1.x and 5.x at the API boundary; return `cryptography` ones.

pyOpenSSL objects are converted through their own ``to_cryptography`` methods, so pyOpenSSL is
never imported here.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import jwk

from acme import errors

__all__ = ["coerce_certificate", "coerce_csr_pem", "coerce_jwk"]


def coerce_jwk(key: Any) -> jwk.JWK:
    """A josepy JWK from a JWK, a cryptography private key, or a pyOpenSSL ``PKey``."""
    if isinstance(key, jwk.JWK):
        return key
    if hasattr(key, "to_cryptography_key"):
        key = key.to_cryptography_key()
    if isinstance(key, rsa.RSAPrivateKey):
        return jwk.JWKRSA(key=key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return jwk.JWKEC(key=key)
    raise errors.ClientError(
        f"Unsupported account key {type(key).__name__}: use an RSA or ECDSA key (or its JWK)"
    )


def coerce_certificate(cert: Any) -> x509.Certificate:
    """A cryptography certificate from one, from PEM/DER bytes, or from pyOpenSSL's ``X509``."""
    if isinstance(cert, x509.Certificate):
        return cert
    if hasattr(cert, "to_cryptography"):
        converted = cert.to_cryptography()
        if isinstance(converted, x509.Certificate):
            return converted
    wrapped = getattr(cert, "wrapped", None)  # josepy 1.x ComparableX509
    if wrapped is not None and wrapped is not cert:
        return coerce_certificate(wrapped)
    if isinstance(cert, str):
        cert = cert.encode()
    if isinstance(cert, bytes):
        try:
            if b"-----BEGIN" in cert:
                return x509.load_pem_x509_certificate(cert)
            return x509.load_der_x509_certificate(cert)
        except ValueError as error:
            raise errors.ClientError(f"Unreadable certificate: {error}") from None
    raise errors.ClientError(f"Expected a certificate, got {type(cert).__name__}")


def coerce_csr_pem(csr: Any) -> bytes:
    """PEM bytes of a CSR given as PEM bytes/str, a cryptography CSR, or pyOpenSSL's ``X509Req``."""
    if hasattr(csr, "to_cryptography"):
        csr = csr.to_cryptography()
    if isinstance(csr, x509.CertificateSigningRequest):
        return csr.public_bytes(serialization.Encoding.PEM)
    if isinstance(csr, str):
        csr = csr.encode()
    if isinstance(csr, bytes):
        return csr
    raise errors.ClientError(f"Expected a PEM CSR, got {type(csr).__name__}")
