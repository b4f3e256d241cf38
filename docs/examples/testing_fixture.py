"""Testing your own ACME code with ``acme.testing`` and its pytest fixtures (docs/testing.md).

With acme-protocol installed, pytest offers the fixtures without any import or conftest.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.testing import ACMETestServer, Faults


# The code under test: yours. Here, a function that obtains a certificate.
def obtain_certificate(directory_url: str, names: list[str], verify_ssl: bool | str) -> str:
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    with client.ClientNetwork(key, verify_ssl=verify_ssl) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
        acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        order = acme.new_order(crypto_util.make_csr(key_pem, names))
        for authzr in order.authorizations:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            acme.answer_challenge(challb, challb.response(key))
        deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
        order = acme.poll_and_finalize(order, deadline)
        assert order.fullchain_pem is not None
        return order.fullchain_pem


def test_obtains_a_certificate(acme_test_server: ACMETestServer) -> None:
    # An always-valid CA on loopback: every answered challenge passes.
    chain = obtain_certificate(
        acme_test_server.directory_url, ["app.example.com"], acme_test_server.ca_bundle_path
    )
    leaf = x509.load_pem_x509_certificates(chain.encode("ascii"))[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["app.example.com"]
    assert acme_test_server.core.is_revoked(leaf) is False


def test_survives_a_flaky_ca(acme_test_server_factory: Callable[..., ACMETestServer]) -> None:
    # Any ACMETestServer option: here 30% of nonces rejected (badNonce) and slow validation.
    server = acme_test_server_factory(
        always_valid=True,
        faults=Faults(seed=1, bad_nonce_rate=0.3),
        validation_delay_polls=2,
    )
    chain = obtain_certificate(server.directory_url, ["flaky.example.com"], server.ca_bundle_path)
    assert chain.startswith("-----BEGIN CERTIFICATE-----")


def test_reports_failed_validation(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> None:
    # Real validation, and nothing serves http-01 on port 9: the CA must refuse.
    server = acme_test_server_factory(http_port=9)
    with pytest.raises(errors.ValidationError):
        obtain_certificate(server.directory_url, ["down.example.com"], server.ca_bundle_path)
