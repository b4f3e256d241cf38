"""The input forms the public API accepts, as types: what acme 1.x and 5.x callers pass.

Each alias names every form one parameter takes; `acme._wire.coercion` turns them into the
`cryptography` and josepy objects the rest of the library uses. pyOpenSSL objects are described
by the one method we call on them, so pyOpenSSL is never imported.
"""

from __future__ import annotations

import datetime
from typing import Any, Protocol, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import jwk

__all__ = [
    "AccountKeyInput",
    "CSRInput",
    "CertificateInput",
    "DeadlineInput",
    "PyOpenSSLCertificate",
    "PyOpenSSLKey",
]


class PyOpenSSLKey(Protocol):
    """pyOpenSSL's ``crypto.PKey`` (acme 1.x callers): converted by ``to_cryptography_key``."""

    def to_cryptography_key(self) -> Any: ...


class PyOpenSSLCertificate(Protocol):
    """pyOpenSSL's ``crypto.X509`` / ``X509Req``: converted by ``to_cryptography``."""

    def to_cryptography(self) -> Any: ...


#: An account key: a josepy JWK, a cryptography RSA or ECDSA private key, or a pyOpenSSL key.
AccountKeyInput: TypeAlias = jwk.JWK | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | PyOpenSSLKey
#: A certificate: cryptography's, PEM or DER (bytes, or PEM text), or pyOpenSSL's ``X509``
#: (also wrapped in josepy 1.x's ``ComparableX509``, which has a ``wrapped`` attribute).
CertificateInput: TypeAlias = x509.Certificate | bytes | str | PyOpenSSLCertificate
#: A CSR: PEM bytes or text (as acme 5.x), cryptography's CSR, or pyOpenSSL's ``X509Req``.
CSRInput: TypeAlias = bytes | str | x509.CertificateSigningRequest | PyOpenSSLCertificate
#: When to give up: an aware datetime, a naive one (local time, as acme 5.x callers pass),
#: seconds from now, or None for the default timeout.
DeadlineInput: TypeAlias = datetime.datetime | float | int | None
