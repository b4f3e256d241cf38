"""Tests for acme.crypto_util: CSRs, name extraction, self-signed certificates, chains."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from acme import crypto_util, errors

_KEY_MAKERS: dict[str, Any] = {
    "rsa2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rsa4096": lambda: rsa.generate_private_key(public_exponent=65537, key_size=4096),
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "p521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}
# The signature hash chosen for each key (matched to the curve; none for EdDSA).
_EXPECTED_HASH: dict[str, type[hashes.HashAlgorithm] | None] = {
    "rsa2048": hashes.SHA256,
    "rsa4096": hashes.SHA256,
    "p256": hashes.SHA256,
    "p384": hashes.SHA384,
    "p521": hashes.SHA512,
    "ed25519": None,
}
_KEYS: dict[str, Any] = {}


def _key(kind: str) -> Any:
    if kind not in _KEYS:
        _KEYS[kind] = _KEY_MAKERS[kind]()
    return _KEYS[kind]


def _pem(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _csr(pem: bytes) -> x509.CertificateSigningRequest:
    assert pem.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    csr = x509.load_pem_x509_csr(pem)
    assert csr.is_signature_valid
    return csr


def _san(obj: x509.Certificate | x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    return list(obj.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def test_exported_names() -> None:
    assert set(crypto_util.__all__) >= {
        "Format",
        "dump_cryptography_chain",
        "dump_pyopenssl_chain",
        "gen_ss_cert",
        "get_identifiers_from_x509",
        "get_names_from_subject_and_extensions",
        "make_csr",
        "make_self_signed_cert",
    }
    for name in crypto_util.__all__:
        if name != "Format":  # accessing Format warns; tested below
            assert callable(getattr(crypto_util, name)), name


@pytest.mark.parametrize("kind", sorted(_KEY_MAKERS))
def test_make_csr_every_key_type(kind: str) -> None:
    key = _key(kind)
    csr = _csr(crypto_util.make_csr(_pem(key), ["example.com", "www.example.com"]))
    assert csr.public_key() == key.public_key()
    expected = _EXPECTED_HASH[kind]
    if expected is None:
        assert csr.signature_hash_algorithm is None
    else:
        assert isinstance(csr.signature_hash_algorithm, expected)
    assert _san(csr) == [x509.DNSName("example.com"), x509.DNSName("www.example.com")]
    assert len(csr.subject) == 0


def test_make_csr_key_forms() -> None:
    from OpenSSL import crypto

    key = _key("p256")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for form in (key, der, crypto.PKey.from_cryptography_key(key)):
        csr = _csr(crypto_util.make_csr(form, ["example.com"]))
        assert csr.public_key() == key.public_key()


def test_make_csr_idn_and_wildcard() -> None:
    csr = _csr(crypto_util.make_csr(_pem(_key("p256")), ["Bücher.example", "*.ÉXAMPLE.com"]))
    assert _san(csr) == [
        x509.DNSName("xn--bcher-kva.example"),
        x509.DNSName("*.xn--xample-9ua.com"),
    ]


def test_make_csr_150_names() -> None:
    names = [f"host{i}.example.com" for i in range(150)]
    csr = _csr(crypto_util.make_csr(_pem(_key("p256")), names))
    assert _san(csr) == [x509.DNSName(name) for name in names]
    found = crypto_util.get_names_from_subject_and_extensions(csr.subject, csr.extensions)
    assert found == names


def test_make_csr_ip_addresses() -> None:
    csr = _csr(
        crypto_util.make_csr(
            _pem(_key("p256")),
            ["example.com"],
            ipaddrs=[ipaddress.ip_address("192.0.2.1"), "2001:DB8:0:0::1", "2001:db8::1"],
        )
    )
    # IPs are iPAddress entries (RFC 8738 section 3.1), duplicates dropped.
    assert _san(csr) == [
        x509.DNSName("example.com"),
        x509.IPAddress(ipaddress.IPv4Address("192.0.2.1")),
        x509.IPAddress(ipaddress.IPv6Address("2001:db8::1")),
    ]
    only_ip = _csr(crypto_util.make_csr(_pem(_key("p256")), ipaddrs=["::1"]))
    assert _san(only_ip) == [x509.IPAddress(ipaddress.IPv6Address("::1"))]


def test_make_csr_ip_literal_in_domains_becomes_ip_entry() -> None:
    csr = _csr(crypto_util.make_csr(_pem(_key("p256")), ["192.0.2.9"]))
    assert _san(csr) == [x509.IPAddress(ipaddress.IPv4Address("192.0.2.9"))]


def test_make_csr_must_staple() -> None:
    pem = _pem(_key("p256"))
    csr = _csr(crypto_util.make_csr(pem, ["example.com"], must_staple=True))
    ext = csr.extensions.get_extension_for_oid(ExtensionOID.TLS_FEATURE)
    assert ext.oid.dotted_string == "1.3.6.1.5.5.7.1.24"  # id-pe-tlsfeature (RFC 7633)
    assert list(ext.value) == [x509.TLSFeatureType.status_request]  # type: ignore[call-overload]
    # DER: SEQUENCE { INTEGER 5 } (RFC 7633 section 4).
    assert ext.value.public_bytes() == b"\x30\x03\x02\x01\x05"
    # Negative control: not added unless asked.
    plain = _csr(crypto_util.make_csr(pem, ["example.com"]))
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_oid(ExtensionOID.TLS_FEATURE)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "at least one"),
        ({"domains": [], "ipaddrs": []}, "at least one"),
        ({"domains": "example.com"}, "list"),
        ({"domains": ["bad name.example"]}, "domain"),
        ({"domains": ["☃.example"]}, "A-label"),
        ({"domains": [42]}, "domain"),
        ({"ipaddrs": ["300.1.1.1"]}, "IP address"),
    ],
)
def test_make_csr_bad_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.Error, match=match) as info:
        crypto_util.make_csr(_pem(_key("p256")), **kwargs)
    assert isinstance(info.value, ValueError)  # what acme 5.x raised


def test_make_csr_bad_key() -> None:
    with pytest.raises(errors.Error, match="private key"):
        crypto_util.make_csr(b"-----BEGIN PRIVATE KEY-----\ngarbage\n", ["example.com"])
    dsa_key = dsa.generate_private_key(key_size=2048)
    with pytest.raises(errors.Error, match="RSA, ECDSA"):
        crypto_util.make_csr(_pem(dsa_key), ["example.com"])


def _cert_with(subject_cn: str | None, sans: list[x509.GeneralName] | None) -> x509.Certificate:
    key = _key("p256")
    attrs = [] if subject_cn is None else [x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]
    name = x509.Name(attrs)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_names_cn_first_then_sans_deduplicated() -> None:
    cert = _cert_with(
        "b.example",
        [
            x509.DNSName("a.example"),
            x509.DNSName("b.example"),
            x509.IPAddress(ipaddress.IPv4Address("192.0.2.1")),
            x509.DNSName("c.example"),
            x509.DNSName("a.example"),
        ],
    )
    names = crypto_util.get_names_from_subject_and_extensions(cert.subject, cert.extensions)
    assert names == ["b.example", "a.example", "c.example"]


def test_names_without_cn_or_san() -> None:
    no_cn = _cert_with(None, [x509.DNSName("a.example")])
    assert crypto_util.get_names_from_subject_and_extensions(no_cn.subject, no_cn.extensions) == [
        "a.example"
    ]
    no_san = _cert_with("only.example", None)
    names = crypto_util.get_names_from_subject_and_extensions(no_san.subject, no_san.extensions)
    assert names == ["only.example"]


def test_names_bad_input() -> None:
    with pytest.raises(errors.Error, match=r"x509\.Name"):
        crypto_util.get_names_from_subject_and_extensions("CN=x", [])  # type: ignore[arg-type]


def test_identifiers_dns_and_ip() -> None:

    sans: list[x509.GeneralName] = [x509.DNSName(f"h{i}.example") for i in range(120)]
    sans += [
        x509.IPAddress(ipaddress.IPv4Address("192.0.2.1")),
        x509.IPAddress(ipaddress.IPv6Address("2001:db8:0:0:0:0:0:1")),
        x509.DNSName("H0.EXAMPLE"),
    ]
    cert = _cert_with("h5.example", sans)
    dns, ips = crypto_util.get_identifiers_from_x509(cert.subject, cert.extensions)
    assert dns == ["h5.example"] + [f"h{i}.example" for i in range(120) if i != 5]
    assert ips == [ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("2001:db8::1")]
    assert str(ips[1]) == "2001:db8::1"  # RFC 5952 text form for IPv6


def test_identifiers_ip_common_name() -> None:
    cert = _cert_with("192.0.2.7", [x509.IPAddress(ipaddress.IPv4Address("192.0.2.7"))])
    assert crypto_util.get_identifiers_from_x509(cert.subject, cert.extensions) == (
        [],
        [ipaddress.IPv4Address("192.0.2.7")],
    )


def _self_signed(*args: Any, **kwargs: Any) -> x509.Certificate:
    """`make_self_signed_cert`, which warns on every call (deprecated, as in acme 5.1+)."""
    with pytest.warns(DeprecationWarning, match=r"make_self_signed_cert is deprecated"):
        return crypto_util.make_self_signed_cert(*args, **kwargs)


def test_make_self_signed_cert_is_deprecated() -> None:
    """Every call warns, a failing one too (acme 5.9's tests expect the warning there)."""
    key = _key("p256")
    with pytest.warns(DeprecationWarning, match="make_self_signed_cert") as record:
        crypto_util.make_self_signed_cert(key, ["a.example"])
    assert [str(w.message) for w in record] == [
        "acme.crypto_util.make_self_signed_cert is deprecated and will be removed: build the "
        "certificate with cryptography.x509.CertificateBuilder"
    ]
    assert record[0].filename == __file__  # attributed to the caller
    with (
        pytest.warns(DeprecationWarning, match="make_self_signed_cert is deprecated"),
        pytest.raises(errors.Error, match="at least one"),
    ):
        crypto_util.make_self_signed_cert(key)


def test_identifiers_from_make_csr() -> None:
    """The acme 5.x form certbot unpacks: ``dns_names, ip_addresses = ...``."""
    csr = _csr(crypto_util.make_csr(_pem(_key("p256")), ["example.com"], ipaddrs=["2001:db8::a"]))
    dns_names, ips = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
    assert dns_names == ["example.com"]
    assert ips == [ipaddress.IPv6Address("2001:db8::a")]


@pytest.mark.parametrize("kind", ["rsa2048", "p384", "ed25519"])
def test_make_self_signed_cert(kind: str) -> None:
    key = _key(kind)
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    cert = _self_signed(key, ["a.example", "b.example"])
    after = datetime.datetime.now(datetime.timezone.utc)
    assert isinstance(cert, x509.Certificate)
    cert.verify_directly_issued_by(cert)
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a.example"
    assert _san(cert) == [x509.DNSName("a.example"), x509.DNSName("b.example")]
    assert before <= cert.not_valid_before_utc <= after
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=7)


def test_make_self_signed_cert_san_rules() -> None:
    key = _key("p256")
    single = _self_signed(key, ["a.example"], force_san=False)
    with pytest.raises(x509.ExtensionNotFound):
        single.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    forced = _self_signed(key, ["a.example"])
    assert _san(forced) == [x509.DNSName("a.example")]
    two = _self_signed(key, ["a.example", "b.example"], force_san=False)
    assert len(_san(two)) == 2
    with_ip = _self_signed(key, ["a.example"], force_san=False, ips=[ipaddress.ip_address("::1")])
    assert _san(with_ip) == [x509.DNSName("a.example"), x509.IPAddress(ipaddress.ip_address("::1"))]
    ip_only = _self_signed(key, ips=[ipaddress.ip_address("127.0.0.1")])
    assert _san(ip_only) == [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


def test_make_self_signed_cert_times_and_extensions() -> None:
    key = _key("p256")
    start = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    basic = x509.Extension(
        ExtensionOID.BASIC_CONSTRAINTS, True, x509.BasicConstraints(ca=True, path_length=0)
    )
    cert = _self_signed(
        key,
        ["a.example"],
        not_before=start,
        validity=datetime.timedelta(hours=5),
        extensions=[basic],
    )
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start + datetime.timedelta(hours=5)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints) == basic
    # A naive not_before means UTC (as in acme 5.x).
    naive = _self_signed(key, ["a.example"], not_before=start.replace(tzinfo=None))
    assert naive.not_valid_before_utc == start
    # A caller's SAN replaces the default one.
    own_san = x509.Extension(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        False,
        x509.SubjectAlternativeName([x509.DNSName("z.example")]),
    )
    replaced = _self_signed(key, ["a.example"], extensions=[own_san])
    assert _san(replaced) == [x509.DNSName("z.example")]


def test_make_self_signed_cert_bad_input() -> None:
    key = _key("p256")
    with pytest.raises(errors.Error, match="at least one"):
        _self_signed(key)
    with pytest.raises(errors.Error, match="validity"):
        _self_signed(key, ["a.example"], validity=datetime.timedelta(0))
    with pytest.raises(errors.Error, match="not_before"):
        _self_signed(key, ["a.example"], not_before="now")  # deliberately not a datetime
    with pytest.raises(errors.Error, match="Extension"):
        _self_signed(key, ["a.example"], extensions=["x"])  # deliberately not an Extension


def test_dump_cryptography_chain() -> None:
    first = _self_signed(_key("p256"), ["a.example"])
    second = _self_signed(_key("p256"), ["b.example"])
    pem = crypto_util.dump_cryptography_chain([first, second])
    assert x509.load_pem_x509_certificates(pem) == [first, second]
    der = crypto_util.dump_cryptography_chain([first, second], serialization.Encoding.DER)
    assert der == first.public_bytes(serialization.Encoding.DER) + second.public_bytes(
        serialization.Encoding.DER
    )
    assert crypto_util.dump_cryptography_chain([]) == b""
    with pytest.raises(errors.Error, match="PEM or DER"):
        crypto_util.dump_cryptography_chain([first], serialization.Encoding.Raw)


def test_format_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match=r"acme\.crypto_util\.Format is deprecated"):
        fmt = crypto_util.Format
    assert fmt.PEM.to_cryptography_encoding() is serialization.Encoding.PEM
    assert fmt.DER.to_cryptography_encoding() is serialization.Encoding.DER
    cert = _self_signed(_key("p256"), ["a.example"])
    assert crypto_util.dump_cryptography_chain([cert], fmt.DER) == cert.public_bytes(  # type: ignore[arg-type]
        serialization.Encoding.DER
    )
    with pytest.raises(AttributeError):
        _ = crypto_util.NoSuchName  # type: ignore[attr-defined]


def test_gen_ss_cert_legacy() -> None:
    from OpenSSL import crypto

    key = _key("rsa2048")
    with pytest.warns(DeprecationWarning, match="gen_ss_cert is deprecated") as record:
        cert = crypto_util.gen_ss_cert(
            crypto.PKey.from_cryptography_key(key), ["a.example"], validity=3600
        )
    assert len(record) == 1  # its own warning, not make_self_signed_cert's as well
    assert isinstance(cert, x509.Certificate)
    assert cert.public_key() == key.public_key()
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(hours=1)
    assert _san(cert) == [x509.DNSName("a.example")]


def test_dump_pyopenssl_chain_legacy() -> None:
    from OpenSSL import crypto

    cert = _self_signed(_key("p256"), ["a.example"])
    legacy = crypto.X509.from_cryptography(cert)
    with pytest.warns(DeprecationWarning, match="dump_pyopenssl_chain is deprecated"):
        pem = crypto_util.dump_pyopenssl_chain([legacy, cert])
    assert x509.load_pem_x509_certificates(pem) == [cert, cert]
    with pytest.warns(DeprecationWarning, match="dump_pyopenssl_chain is deprecated"):
        der = crypto_util.dump_pyopenssl_chain([legacy], crypto.FILETYPE_ASN1)
    assert der == cert.public_bytes(serialization.Encoding.DER)


def test_importing_does_not_warn() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import acme.crypto_util, acme.challenges"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
