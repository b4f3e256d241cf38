"""RFC 9773 section 4.1 certificate identifiers, checked against the RFC's own example."""

from __future__ import annotations

import datetime
import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from josepy import b64

from acme import errors

# RFC 9773 section 4.1 example, and Appendix A's certificate that it was computed from.
from acme._wire import renewal_id as _ari

RFC_ID = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
RFC_AKI_HEX = "69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4"
RFC_SERIAL_DER_HEX = "00:87:65:43:21"
RFC_APPENDIX_A_PEM = b"""-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
"""

_KEY = ec.generate_private_key(ec.SECP256R1())


def _make_cert(serial: int, key_identifier: bytes | None, *, aki: bool = True) -> x509.Certificate:
    """A certificate with the given serial and AKI keyIdentifier (or no AKI at all)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(
                key_identifier=key_identifier,
                authority_cert_issuer=None if key_identifier else [x509.DNSName("ca.example")],
                authority_cert_serial_number=None if key_identifier else 1,
            ),
            critical=False,
        )
    return builder.sign(_KEY, hashes.SHA256())


def _der_serial_content(cert: x509.Certificate) -> bytes:
    """The serial's INTEGER content octets as they appear in the certificate's own DER.

    An oracle independent of the code under test: walk TBSCertificate ::= SEQUENCE {
    [0] EXPLICIT version, serialNumber INTEGER, ... } (RFC 5280 section 4.1).
    """
    der = cert.tbs_certificate_bytes

    def header(pos: int) -> tuple[int, int, int]:
        tag, first = der[pos], der[pos + 1]
        pos += 2
        if first < 0x80:
            return tag, first, pos
        count = first & 0x7F
        return tag, int.from_bytes(der[pos : pos + count], "big"), pos + count

    tag, _, pos = header(0)
    assert tag == 0x30
    tag, length, body = header(pos)
    if tag == 0xA0:  # version
        pos = body + length
        tag, length, body = header(pos)
    assert tag == 0x02
    return der[body : body + length]


def test_rfc_example_certificate() -> None:
    cert = x509.load_pem_x509_certificate(RFC_APPENDIX_A_PEM)
    assert _ari.certificate_identifier(cert) == RFC_ID
    # PEM bytes and PEM text are accepted too.
    assert _ari.certificate_identifier(RFC_APPENDIX_A_PEM) == RFC_ID
    assert _ari.certificate_identifier(RFC_APPENDIX_A_PEM.decode()) == RFC_ID
    assert _ari.certificate_identifier(cert.public_bytes(serialization.Encoding.DER)) == RFC_ID


def test_legacy_pyopenssl_certificate() -> None:
    from OpenSSL import crypto

    legacy = crypto.load_certificate(crypto.FILETYPE_PEM, RFC_APPENDIX_A_PEM)
    assert _ari.certificate_identifier(legacy) == RFC_ID


def test_rfc_vector_rebuilt_from_its_parts() -> None:
    aki_part, serial_part = RFC_ID.split(".")
    key_identifier = b64.b64decode(aki_part)
    serial_der = b64.b64decode(serial_part)
    # The vector agrees with the hexadecimal bytes in the RFC text.
    assert key_identifier == bytes.fromhex(RFC_AKI_HEX.replace(":", ""))
    assert serial_der == bytes.fromhex(RFC_SERIAL_DER_HEX.replace(":", ""))
    serial = int.from_bytes(serial_der, "big", signed=True)
    assert serial == 0x87654321

    cert = _make_cert(serial, key_identifier)
    assert _ari.certificate_identifier(cert) == RFC_ID
    assert "=" not in _ari.certificate_identifier(cert)


def test_different_serial_or_aki_gives_different_id() -> None:
    key_identifier = bytes.fromhex(RFC_AKI_HEX.replace(":", ""))
    base = _ari.certificate_identifier(_make_cert(0x87654321, key_identifier))
    other_serial = _ari.certificate_identifier(_make_cert(0x87654322, key_identifier))
    other_aki = _ari.certificate_identifier(_make_cert(0x87654321, b"\x01" * 20))
    assert len({base, other_serial, other_aki}) == 3
    assert other_serial.split(".")[0] == base.split(".")[0]
    assert other_aki.split(".")[1] == base.split(".")[1]


@pytest.mark.parametrize(
    ("serial", "expected_der"),
    [
        (0x01, "01"),
        (0x7F, "7f"),
        (0x80, "0080"),  # high bit set: a leading zero keeps it positive (X.690 8.3)
        (0xFF, "00ff"),
        (0x0100, "0100"),
        (0x87654321, "0087654321"),
        (0x7FFFFFFF, "7fffffff"),
    ],
)
def test_serial_encoding(serial: int, expected_der: str) -> None:
    cert = _make_cert(serial, b"\xaa" * 20)
    expected = b64.b64encode(bytes.fromhex(expected_der)).decode()
    assert _ari.certificate_identifier(cert) == f"qqqqqqqqqqqqqqqqqqqqqqqqqqo.{expected}"
    assert _der_serial_content(cert) == bytes.fromhex(expected_der)


def test_random_serials_match_certificate_der() -> None:
    # Serials of 1 to 19 bytes, alternately with and without the top bit set.
    for i in range(38):
        nbytes = 1 + i // 2
        top = 1 << (8 * nbytes - 1)
        serial = secrets.randbits(8 * nbytes) | 1
        # Without the top bit, set the next one so the value still needs all nbytes bytes.
        serial = serial | top if i % 2 else (serial & ~top) | (top >> 1)
        cert = _make_cert(serial, secrets.token_bytes(20))
        key_identifier = cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
        assert key_identifier is not None
        got_aki, got_serial = _ari.certificate_identifier(cert).split(".")
        assert b64.b64decode(got_aki) == key_identifier
        assert b64.b64decode(got_serial) == _der_serial_content(cert)
        assert len(b64.b64decode(got_serial)) == nbytes + (i % 2)


def test_high_bit_long_serial() -> None:
    # 19 significant bytes with the top bit set: 20 content bytes, the first one zero
    # (cryptography refuses serials of 160 bits or more, RFC 5280 section 4.1.2.2).
    serial = (1 << 151) | 0x1234
    cert = _make_cert(serial, b"\x01" * 20)
    serial_bytes = b64.b64decode(_ari.certificate_identifier(cert).split(".")[1])
    assert len(serial_bytes) == 20
    assert serial_bytes[0] == 0
    assert serial_bytes[1] == 0x80
    assert serial_bytes == _der_serial_content(cert)


def test_no_aki_is_a_client_error() -> None:
    cert = _make_cert(0x1234, None, aki=False)
    with pytest.raises(errors.ClientError, match="Authority Key Identifier"):
        _ari.certificate_identifier(cert)


def test_aki_without_key_identifier_is_a_client_error() -> None:
    cert = _make_cert(0x1234, None)
    with pytest.raises(errors.ClientError, match="keyIdentifier"):
        _ari.certificate_identifier(cert)


@pytest.mark.parametrize("bad", [b"not a certificate", "-----BEGIN CERTIFICATE-----\nxx", 42, None])
def test_bad_input_is_an_invalid_argument(bad: object) -> None:
    with pytest.raises(errors.InvalidArgument):
        _ari.certificate_identifier(bad)


@pytest.mark.parametrize(
    "base",
    [
        "https://acme.example.com/renewal-info",
        "https://acme.example.com/renewal-info/",
        "https://acme.example.com/renewal-info//",
    ],
)
def test_renewal_info_url(base: str) -> None:
    url = _ari.renewal_info_url(base, RFC_APPENDIX_A_PEM)
    assert url == f"https://acme.example.com/renewal-info/{RFC_ID}"


def test_renewal_info_url_bad_base() -> None:
    with pytest.raises(errors.ClientError, match="renewalInfo"):
        _ari.renewal_info_url("", RFC_APPENDIX_A_PEM)
