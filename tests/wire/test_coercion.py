"""acme._wire.coercion: every accepted input form of keys, certificates and CSRs, one error.

The public entry points (crypto_util, challenges, the clients, the messages, the standalone
servers) all convert through this family, so the accepted forms are asserted here once.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from josepy import jwk

from acme import crypto_util, errors, messages
from acme._wire import coercion
from acme._wire import x509 as x509_helpers

KEY = ec.generate_private_key(ec.SECP256R1())
KEY_PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
CERT = x509_helpers.tls_alpn01_cert("a.test", bytes(32), KEY)  # any self-signed certificate
CSR = x509.load_pem_x509_csr(crypto_util.make_csr(KEY_PEM, ["a.test"]))
PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


class LegacyWrapper:
    """What pyOpenSSL's ``X509Req`` was (pyOpenSSL 25 removed it): ``to_cryptography()``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def to_cryptography(self) -> Any:
        return self.value


class ComparableLike:
    """What josepy 1.x ``ComparableX509`` was: the object it holds in ``wrapped``."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped


def _pyopenssl() -> Any:
    from OpenSSL import crypto

    return crypto


def _key_forms() -> list[Any]:
    pem = KEY.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = KEY.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = _pyopenssl().PKey.from_cryptography_key(KEY)
    return [KEY, pem, pem.decode(), der, bytearray(der), memoryview(der), legacy]


@pytest.mark.parametrize("form", _key_forms(), ids=lambda f: type(f).__name__)
def test_private_key_forms(form: Any) -> None:
    key = coercion.coerce_private_key(form)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.private_numbers() == KEY.private_numbers()


def test_eddsa_keys_are_private_keys_too() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    assert coercion.coerce_private_key(key) is key


def _cert_forms() -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = _pyopenssl().X509.from_cryptography(CERT)
    pem, der = CERT.public_bytes(PEM), CERT.public_bytes(DER)
    return [
        CERT,
        pem,
        pem.decode(),
        b"leading text\n" + pem,
        der,
        bytearray(der),
        legacy,
        ComparableLike(legacy),
        ComparableLike(CERT),
    ]


@pytest.mark.parametrize("form", _cert_forms(), ids=lambda f: type(f).__name__)
def test_certificate_forms(form: Any) -> None:
    assert coercion.coerce_certificate(form) == CERT


@pytest.mark.parametrize(
    "form",
    [
        CSR,
        CSR.public_bytes(PEM),
        CSR.public_bytes(PEM).decode(),
        CSR.public_bytes(DER),
        LegacyWrapper(CSR),
    ],
    ids=lambda f: type(f).__name__,
)
def test_csr_forms(form: Any) -> None:
    assert coercion.coerce_csr(form) == CSR
    pem = coercion.coerce_csr_pem(form)
    assert x509.load_pem_x509_csr(pem) == CSR


def test_csr_pem_given_as_pem_is_kept_byte_for_byte() -> None:
    """The order keeps the caller's own PEM (acme 5.x ``OrderResource.csr_pem``)."""
    pem = b"\n" + CSR.public_bytes(PEM)
    assert coercion.coerce_csr_pem(pem) == pem
    assert coercion.coerce_csr_pem(pem.decode()) == pem


@pytest.mark.parametrize(
    ("key", "kind"),
    [(KEY, jwk.JWKEC), (rsa.generate_private_key(65537, 2048), jwk.JWKRSA)],
)
def test_account_key_forms(key: Any, kind: type[jwk.JWK]) -> None:
    made = coercion.coerce_jwk(key)
    assert isinstance(made, kind)
    assert coercion.coerce_jwk(made) is made
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = _pyopenssl().PKey.from_cryptography_key(key)
    assert coercion.coerce_jwk(legacy) == made


def test_from_legacy_leaves_everything_else_alone() -> None:
    for value in (CERT, CSR, KEY, b"bytes", "text", None, 3):
        assert coercion.from_legacy(value) is value


BAD: list[tuple[Any, Any, str]] = [
    (coercion.coerce_private_key, b"-----BEGIN PRIVATE KEY-----\nxx", "Cannot load the private"),
    (coercion.coerce_private_key, KEY.public_key(), "must be an RSA, ECDSA"),
    (coercion.coerce_private_key, None, "must be an RSA, ECDSA"),
    (coercion.coerce_certificate, b"not a certificate", "Cannot load the certificate"),
    (coercion.coerce_certificate, CSR, "must be an X.509 certificate, got"),
    (coercion.coerce_certificate, 42, "must be an X.509 certificate, got int"),
    (coercion.coerce_csr, CERT.public_bytes(PEM), "Cannot load the CSR"),
    (coercion.coerce_csr, None, "must be a certificate signing request"),
    (coercion.coerce_csr_pem, b"-----BEGIN CERTIFICATE REQUEST-----\nxx", "Cannot load"),
    (coercion.coerce_jwk, ed25519.Ed25519PrivateKey.generate(), "Unsupported account key"),
    (coercion.coerce_jwk, "a key", "Unsupported account key str"),
]


@pytest.mark.parametrize(("function", "value", "message"), BAD)
def test_bad_input_is_invalid_argument(function: Any, value: Any, message: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=message):
        function(value)


def test_messages_take_legacy_objects_through_the_same_family() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = _pyopenssl().X509.from_cryptography(CERT)
    assert messages.Revocation(certificate=legacy).certificate == CERT
    assert messages.CertificateResource(body=ComparableLike(CERT)).body == CERT
    assert messages.CertificateRequest(csr=LegacyWrapper(CSR)).csr == CSR
