"""acme 1.x's ``ClientBase(directory, net, acme_version)`` and its methods, and ``acme_version``
on the clients, against the test CA (acme.testing) on loopback."""

from __future__ import annotations

import datetime
import inspect
import warnings

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, messages
from acme.asyncio_client import AsyncClientV2
from acme.testing import ACMETestServer


def _csr(names: list[str]) -> bytes:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return crypto_util.make_csr(pem, names)


def test_client_base_signature_and_methods(acme_test_server: ACMETestServer) -> None:
    assert list(inspect.signature(client.ClientBase).parameters) == [
        "directory",
        "net",
        "acme_version",
    ]
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    with client.ClientNetwork(key, verify_ssl=acme_test_server.ca_bundle_path) as net:
        directory = client.ClientV2.get_directory(acme_test_server.directory_url, net)
        v2 = client.ClientV2(directory, net)
        assert v2.acme_version == 2
        regr = v2.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        orderr = v2.new_order(_csr(["base.test", "gone.test"]))

        base = client.ClientBase(directory, net, 2)
        assert (base.directory, base.net, base.acme_version) == (directory, net, 2)
        first, second = orderr.authorizations
        challb = next(c for c in first.body.challenges if isinstance(c.chall, challenges.HTTP01))
        answered = base.answer_challenge(challb, challb.response(key))
        assert answered.uri == challb.uri
        assert answered.authzr_uri == first.uri
        gone = base.deactivate_authorization(second)
        assert gone.body.status == messages.STATUS_DEACTIVATED
        updated = base.update_registration(regr, messages.Registration.from_data(email="x@y.z"))
        assert updated.body.emails == ("x@y.z",)
        done = base.deactivate_registration(updated)
        assert done.body.status == messages.STATUS_DEACTIVATED

    class Response:
        headers = {"Retry-After": "30"}

    when = client.ClientBase.retry_after(Response(), 10)
    assert when.tzinfo is None
    delta = when - datetime.datetime.now()
    assert datetime.timedelta(seconds=25) < delta <= datetime.timedelta(seconds=30)


def test_acme_version_on_every_client(acme_test_server: ACMETestServer) -> None:
    assert AsyncClientV2.acme_version == 2
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    with client.ClientNetwork(verify_ssl=acme_test_server.ca_bundle_path) as net:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            legacy = client.BackwardsCompatibleClientV2(net, key, acme_test_server.directory_url)
        assert legacy.acme_version == 2
        assert net.key == key
