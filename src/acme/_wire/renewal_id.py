"""ACME Renewal Information (RFC 9773): the certificate identifier and renewalInfo URL.

The identifier names a certificate both in the renewalInfo GET path (RFC 9773 section 4.1) and in
an order's ``replaces`` field (section 5). It is pure data derived from the certificate, so it
lives here, below the flows that use it.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from josepy import b64

from acme import errors
from acme._wire.coercion import coerce_certificate

__all__ = ["certificate_identifier", "renewal_info_url"]


def _der_integer_content(value: int) -> bytes:
    """The content octets of a DER INTEGER: minimal big-endian two's complement (X.690 8.3).

    A positive value whose top bit is set gets a leading zero byte, as in RFC 9773's example
    serial ``00:87:65:43:21``.
    """
    length = (~value if value < 0 else value).bit_length() // 8 + 1
    return value.to_bytes(length, "big", signed=True)


def certificate_identifier(cert: Any) -> str:
    """The RFC 9773 section 4.1 unique identifier of ``cert``.

    ``base64url(AKI keyIdentifier) || "." || base64url(DER serial content)``, both unpadded.

    :param cert: a ``cryptography`` ``x509.Certificate``, the certificate as PEM (or DER) bytes,
        or a legacy pyOpenSSL ``X509``.
    :raises acme.errors.ClientError: if the certificate cannot be parsed or has no Authority Key
        Identifier keyIdentifier (RFC 9773 section 2 assumes every certificate has one).
    """
    certificate = coerce_certificate(cert)
    try:
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        raise errors.ClientError(
            "Certificate has no Authority Key Identifier extension, so it has no RFC 9773 "
            f"renewal identifier (serial {certificate.serial_number:#x})"
        ) from None
    key_identifier = aki.value.key_identifier
    if key_identifier is None:
        raise errors.ClientError(
            "Certificate's Authority Key Identifier has no keyIdentifier field, so it has no "
            f"RFC 9773 renewal identifier (serial {certificate.serial_number:#x})"
        )
    serial = _der_integer_content(certificate.serial_number)
    # RFC 9773 section 4.1: base64url, all trailing "=" stripped (josepy's b64encode adds none).
    aki_part = b64.b64encode(key_identifier).decode("ascii")
    serial_part = b64.b64encode(serial).decode("ascii")
    return f"{aki_part}.{serial_part}"


def renewal_info_url(base_url: str, cert: Any) -> str:
    """The URL of ``cert``'s RenewalInfo resource: ``renewalInfo || "/" || identifier``.

    :param base_url: the directory's ``renewalInfo`` URL (RFC 9773 section 3); a trailing "/"
        is tolerated, so the result always has exactly one "/" before the identifier.
    """
    if not isinstance(base_url, str) or not base_url:
        raise errors.ClientError(f"Expected the directory's renewalInfo URL, got {base_url!r:.80}")
    return f"{base_url.rstrip('/')}/{certificate_identifier(cert)}"
