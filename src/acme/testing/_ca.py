"""A throwaway certificate authority for the test server: root, intermediate, leaves.

FOR TESTS AND DEMOS ONLY. Keys live in memory, are generated per instance and nothing is
audited; never trust this CA outside a test.

Layout: one root and one intermediate issue every leaf, so the default chain is
``leaf, intermediate``. With ``alternate_chains=n`` there are ``n`` more roots, each of which
cross-signs the same intermediate (same subject and key, RFC 5280 section 6.1), so the same
leaf also chains as ``leaf, cross-signed intermediate`` to another root: the alternate chains of
RFC 8555 section 7.4.2.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from acme import errors
from acme._wire.identifiers import is_ip
from acme._wire.timestamps import utcnow

__all__ = ["CertificateAuthority", "PublicKey"]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
_CA_LIFETIME = datetime.timedelta(days=3650)
_BACKDATE = datetime.timedelta(days=1)  # CA certificates start early: tolerate clock skew


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "acme.testing (NOT A REAL CA)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
    path_length: int | None,
) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


class CertificateAuthority:
    """An in-memory root and intermediate (P-256) that issue leaf certificates.

    :param now: the creation time (aware UTC); CA certificates are valid from a day before
        it for ten years.
    :param alternate_chains: how many extra roots cross-sign the intermediate.
    :param name: a label put in the CA names, to tell several test CAs apart.
    """

    def __init__(
        self,
        *,
        now: datetime.datetime | None = None,
        alternate_chains: int = 0,
        name: str = "acme.testing",
    ) -> None:
        now = now or utcnow()
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name(f"{name} root")
        self.root = _ca_certificate(root_name, self.root_key, root_name, self.root_key, now, None)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self._intermediate_name = _name(f"{name} intermediate")
        self.intermediate = _ca_certificate(
            self._intermediate_name, self.intermediate_key, root_name, self.root_key, now, 0
        )
        #: ``(root, cross-signed intermediate)`` for each alternate chain.
        self.alternates: list[tuple[x509.Certificate, x509.Certificate]] = []
        for index in range(alternate_chains):
            key = ec.generate_private_key(ec.SECP256R1())
            alt_name = _name(f"{name} alternate root {index + 1}")
            alt_root = _ca_certificate(alt_name, key, alt_name, key, now, None)
            cross = _ca_certificate(
                self._intermediate_name, self.intermediate_key, alt_name, key, now, 0
            )
            self.alternates.append((alt_root, cross))

    @property
    def root_pem(self) -> str:
        """The main root certificate (PEM): the trust anchor of the default chain."""
        return _pem(self.root)

    @property
    def root_pems(self) -> list[str]:
        """Every root (PEM): the main one first, then one per alternate chain."""
        return [self.root_pem] + [_pem(root) for root, _ in self.alternates]

    def issue(
        self,
        public_key: PublicKey,
        dns_names: Sequence[str],
        ip_addresses: Sequence[str],
        not_before: datetime.datetime,
        not_after: datetime.datetime,
        serial: int,
    ) -> x509.Certificate:
        """A TLS server certificate for the names, signed by the intermediate."""
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if not names:
            raise errors.InvalidArgument("A certificate needs at least one DNS name or IP address")
        subject = x509.Name([])
        if dns_names and len(dns_names[0]) <= 64:  # RFC 5280 ub-common-name
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])])
        key_usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        issuer_ski = self.intermediate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._intermediate_name)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            # RFC 5280 section 4.2.1.6: the SAN is critical when the subject is empty.
            .add_extension(x509.SubjectAlternativeName(names), critical=not subject)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            # RFC 9773 section 4.1 names certificates by this AKI keyIdentifier.
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
                critical=False,
            )
            .sign(self.intermediate_key, hashes.SHA256())
        )

    def chains(self, leaf: x509.Certificate) -> list[str]:
        """PEM chains for ``leaf``: the default one, then one per alternate root."""
        default = _pem(leaf) + _pem(self.intermediate)
        return [default] + [_pem(leaf) + _pem(cross) for _, cross in self.alternates]

    def server_certificate(
        self, hosts: Sequence[str], now: datetime.datetime | None = None
    ) -> tuple[str, str]:
        """A certificate for the listener itself: ``(chain PEM, private key PEM)``."""
        now = now or utcnow()
        key = ec.generate_private_key(ec.SECP256R1())
        dns = [host for host in hosts if not is_ip(host)]
        ips = [host for host in hosts if is_ip(host)]
        cert = self.issue(
            key.public_key(),
            dns,
            ips,
            now - _BACKDATE,
            now + datetime.timedelta(days=30),
            x509.random_serial_number(),
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return self.chains(cert)[0], key_pem
