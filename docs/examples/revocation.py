"""Revocation (RFC 8555 section 7.6): by the account, or by the certificate's own key
(docs/guide/revocation.md)."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, messages
from acme.testing import ACMETestServer

#: RFC 5280 section 5.3.1 reason codes a subscriber may give.
UNSPECIFIED, KEY_COMPROMISE, SUPERSEDED, CESSATION_OF_OPERATION = 0, 1, 4, 5


def revoke_with_certificate_key(
    directory_url: str,
    cert: x509.Certificate,
    cert_key: ec.EllipticCurvePrivateKey,
    verify_ssl: bool | str = True,
) -> None:
    """Revoke ``cert`` signing with its own private key: no account needed (e.g. a leaked key)."""
    with client.ClientNetwork(jwk.JWKEC(key=cert_key), verify_ssl=verify_ssl) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
        acme.revoke(cert, KEY_COMPROMISE)


def issue(acme: client.ClientV2, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_key = ec.generate_private_key(ec.SECP256R1())
    key_pem = cert_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    order = acme.new_order(crypto_util.make_csr(key_pem, [name]))
    for authzr in order.authorizations:
        if authzr.body.status != messages.STATUS_VALID:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            acme.answer_challenge(challb, challb.response(acme.net.key))
    deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)
    order = acme.poll_and_finalize(order, deadline)
    return x509.load_pem_x509_certificates(order.fullchain_pem.encode("ascii"))[0], cert_key


def main() -> None:
    with ACMETestServer(always_valid=True) as ca:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        with client.ClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net:
            acme = client.ClientV2(client.ClientV2.get_directory(ca.directory_url, net), net)
            acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            cert, _ = issue(acme, "old.example.com")
            acme.revoke(cert, SUPERSEDED)  # signed by the account that ordered it
            print("revoked by the account:", ca.core.is_revoked(cert))
            cert, cert_key = issue(acme, "leaked.example.com")
        revoke_with_certificate_key(ca.directory_url, cert, cert_key, ca.ca_bundle_path)
        print("revoked by the certificate key:", ca.core.is_revoked(cert))


if __name__ == "__main__":
    main()
