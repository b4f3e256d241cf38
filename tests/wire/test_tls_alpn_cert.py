"""The tls-alpn-01 challenge certificate (RFC 8737 section 3, RFC 8738 section 6).

Every property verify_cert checks has a positive case and a certificate that differs only in
that property (built by ``_build``), which must fail.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from josepy import jwk

from acme import challenges, errors

ACME_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"


@pytest.fixture(scope="module")
def account_key() -> jwk.JWK:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def cert_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def chall() -> challenges.TLSALPN01:
    parsed = challenges.Challenge.from_json({"type": "tls-alpn-01", "token": TOKEN})
    assert isinstance(parsed, challenges.TLSALPN01)
    return parsed


@pytest.fixture(scope="module")
def response(chall: challenges.TLSALPN01, account_key: jwk.JWK) -> challenges.TLSALPN01Response:
    resp = chall.response(account_key)
    assert isinstance(resp, challenges.TLSALPN01Response)
    return resp


def _build(
    key: rsa.RSAPrivateKey,
    sans: list[x509.GeneralName] | None,
    ext_value: bytes | None,
    critical: bool = True,
    oid: x509.ObjectIdentifier = ACME_OID,
) -> x509.Certificate:
    """A self-signed certificate with exactly the given SANs and acmeIdentifier extension."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ext_value is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, ext_value), critical)
    return builder.sign(key, hashes.SHA256())


def _acme_ext(cert: x509.Certificate) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_oid(ACME_OID)


def test_certificate_for_dns_name(
    response: challenges.TLSALPN01Response, chall: challenges.TLSALPN01, account_key: jwk.JWK
) -> None:
    cert, key = response.gen_cert("example.com")
    assert isinstance(cert, x509.Certificate)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert cert.public_key() == key.public_key()
    cert.verify_directly_issued_by(cert)  # self-signed, signature valid

    digest = hashlib.sha256(chall.key_authorization(account_key).encode()).digest()
    assert response.h == digest
    ext = _acme_ext(cert)
    assert ext.oid.dotted_string == "1.3.6.1.5.5.7.1.31"
    assert ext.critical is True
    assert isinstance(ext.value, x509.UnrecognizedExtension)
    # DER OCTET STRING: tag 0x04, length 32, the SHA-256 digest of the key authorization.
    assert ext.value.value == bytes([0x04, 0x20]) + digest
    assert ext.value.public_bytes() == bytes([0x04, 0x20]) + digest

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.DNSName("example.com")]
    assert response.verify_cert("example.com", cert)


@pytest.mark.parametrize("ip", ["192.0.2.1", "2001:db8::1"])
def test_certificate_for_ip_address(
    response: challenges.TLSALPN01Response, cert_key: rsa.RSAPrivateKey, ip: str
) -> None:
    cert, _ = response.gen_cert(ip, key=cert_key)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # RFC 8738 section 6: a single iPAddress entry, not a dNSName.
    assert list(san) == [x509.IPAddress(ipaddress.ip_address(ip))]
    assert san.get_values_for_type(x509.DNSName) == []
    assert response.verify_cert(ip, cert)
    assert response.verify_cert(ipaddress.ip_address(ip), cert)  # type: ignore[arg-type]
    assert not response.verify_cert("example.com", cert)


def test_validation_on_challenge(
    chall: challenges.TLSALPN01, account_key: jwk.JWK, cert_key: rsa.RSAPrivateKey
) -> None:
    cert, key = chall.validation(account_key, domain="example.org", cert_key=cert_key)
    assert key is cert_key
    assert cert.public_key() == cert_key.public_key()
    assert chall.response(account_key).verify_cert("example.org", cert)
    response, (cert2, _) = chall.response_and_validation(
        account_key, domain="example.org", cert_key=cert_key
    )
    assert isinstance(response, challenges.TLSALPN01Response)
    assert response.verify_cert("example.org", cert2)


def test_helper_positive_control(
    response: challenges.TLSALPN01Response, cert_key: rsa.RSAPrivateKey
) -> None:
    # The hand-built certificate passes when every property is right, so each failure below
    # is caused by the one property that differs.
    good = _build(cert_key, [x509.DNSName("example.com")], b"\x04\x20" + response.h)
    assert response.verify_cert("example.com", good)
    good_ip = _build(
        cert_key, [x509.IPAddress(ipaddress.ip_address("192.0.2.1"))], b"\x04\x20" + response.h
    )
    assert response.verify_cert("192.0.2.1", good_ip)


@pytest.mark.parametrize(
    "variant",
    [
        "non-critical",
        "two-sans",
        "wrong-digest",
        "raw-digest-without-der-header",
        "truncated-digest",
        "no-acme-extension",
        "other-oid",
        "no-san",
        "wrong-name",
        "ip-as-dnsname",
    ],
)
def test_verify_cert_refuses(
    response: challenges.TLSALPN01Response, cert_key: rsa.RSAPrivateKey, variant: str
) -> None:
    domain = "example.com"
    sans: list[x509.GeneralName] | None = [x509.DNSName(domain)]
    value: bytes | None = b"\x04\x20" + response.h
    critical = True
    oid = ACME_OID
    if variant == "non-critical":
        critical = False
    elif variant == "two-sans":
        sans = [x509.DNSName(domain), x509.DNSName("other.example.com")]
    elif variant == "wrong-digest":
        value = b"\x04\x20" + hashlib.sha256(b"another key authorization").digest()
    elif variant == "raw-digest-without-der-header":
        value = response.h
    elif variant == "truncated-digest":
        value = b"\x04\x1f" + response.h[:31]
    elif variant == "no-acme-extension":
        value = None
    elif variant == "other-oid":
        oid = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.30")  # the neighbouring id-pe arc
    elif variant == "no-san":
        sans = None
    elif variant == "wrong-name":
        sans = [x509.DNSName("example.net")]
    elif variant == "ip-as-dnsname":
        domain = "192.0.2.1"
        sans = [x509.DNSName("192.0.2.1")]
    cert = _build(cert_key, sans, value, critical=critical, oid=oid)
    assert response.verify_cert(domain, cert) is False


def test_verify_cert_other_key_authorization(
    chall: challenges.TLSALPN01, cert_key: rsa.RSAPrivateKey
) -> None:
    cert, _ = chall.validation(jwk.JWKRSA(key=cert_key), domain="example.com", cert_key=cert_key)
    other_account = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    assert not chall.response(other_account).verify_cert("example.com", cert)


def test_dns_name_case_insensitive_and_idn(
    response: challenges.TLSALPN01Response, cert_key: rsa.RSAPrivateKey
) -> None:
    cert, _ = response.gen_cert("Example.COM", key=cert_key)
    assert response.verify_cert("example.com", cert)
    # RFC 8737 section 3: ACME identifiers are A-labels.
    idn, _ = response.gen_cert("bücher.example", key=cert_key)
    san = idn.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xn--bcher-kva.example"]
    assert response.verify_cert("xn--bcher-kva.example", idn)
    assert response.verify_cert("bücher.example", idn)


def test_long_domain_gets_empty_subject_and_critical_san(
    response: challenges.TLSALPN01Response, cert_key: rsa.RSAPrivateKey
) -> None:
    domain = ".".join(["a" * 60, "b" * 60, "example"])
    cert, _ = response.gen_cert(domain, key=cert_key)
    assert len(cert.subject) == 0
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    assert response.verify_cert(domain, cert)


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()),
        lambda: ec.generate_private_key(ec.SECP384R1()),
        ed25519.Ed25519PrivateKey.generate,
    ],
)
def test_other_key_types(response: challenges.TLSALPN01Response, make_key: Any) -> None:
    key = make_key()
    cert, returned = response.gen_cert("example.com", key=key)
    assert returned is key
    cert.verify_directly_issued_by(cert)
    assert response.verify_cert("example.com", cert)


def test_bits(response: challenges.TLSALPN01Response) -> None:
    _, key = response.gen_cert("example.com", bits=3072)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 3072


def test_pyopenssl_inputs_accepted(
    response: challenges.TLSALPN01Response, cert_key: rsa.RSAPrivateKey
) -> None:
    from OpenSSL import crypto

    pkey = crypto.PKey.from_cryptography_key(cert_key)
    cert, key = response.gen_cert("example.com", key=pkey)
    assert isinstance(cert, x509.Certificate)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.private_numbers() == cert_key.private_numbers()
    legacy_cert = crypto.X509.from_cryptography(cert)
    assert response.verify_cert("example.com", legacy_cert)
    assert not response.verify_cert("example.org", legacy_cert)


def test_bad_inputs_raise_acme_errors(response: challenges.TLSALPN01Response) -> None:
    with pytest.raises(errors.Error, match="private key"):
        response.gen_cert("example.com", key="not a key")
    with pytest.raises(errors.Error, match="certificate"):
        response.verify_cert("example.com", object())
    with pytest.raises(errors.Error, match="domain"):
        response.gen_cert(None)  # type: ignore[arg-type]
    with pytest.raises(errors.Error, match="domain"):
        response.gen_cert("bad name.example")


def test_certificate_loads_into_ssl_context(
    response: challenges.TLSALPN01Response, tmp_path: Path
) -> None:
    cert, key = response.gen_cert("example.com")
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols([challenges.TLSALPN01Response.ACME_TLS_1_PROTOCOL])
