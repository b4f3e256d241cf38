"""ClientV2 speaks to its network object only through ``post``/``get``/``head`` (acme 5.x):
a `ClientNetwork` subclass sees every request, a plain object with those methods is a whole
network, and protocol situations are met against the test CA (acme.testing) on loopback."""

from __future__ import annotations

import asyncio
import datetime
import io
from collections.abc import Callable
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.testing import ACMETestServer, Faults

UTC = datetime.timezone.utc


def _key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def _csr(names: list[str]) -> bytes:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return crypto_util.make_csr(pem, names)


def _answer_all(acme: client.ClientV2, orderr: messages.OrderResource) -> None:
    key = acme.net.key
    for authzr in orderr.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue
        challb = next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))
        acme.answer_challenge(challb, challb.response(key))


def _deadline(seconds: float = 30) -> datetime.datetime:
    return datetime.datetime.now(UTC) + datetime.timedelta(seconds=seconds)


class CountingNetwork(client.ClientNetwork):
    """What programs do with acme 5.x: subclass the network to watch or change requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, str]] = []

    def post(self, url: str, obj: Any, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls.append(("POST", url))
        return super().post(url, obj, *args, **kwargs)

    def get(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls.append(("GET", url))
        return super().get(url, *args, **kwargs)


def test_a_subclass_sees_every_request_of_an_issuance(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> None:
    log = io.StringIO()
    server = acme_test_server_factory(always_valid=True, request_log=log)
    with CountingNetwork(_key(), verify_ssl=server.ca_bundle_path) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
        acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        orderr = acme.new_order(_csr(["seen.test"]))
        _answer_all(acme, orderr)
        done = acme.poll_and_finalize(orderr, _deadline())
        assert done.fullchain_pem is not None
        acme.revoke(x509.load_pem_x509_certificate(done.fullchain_pem.encode()), 0)
        requests_sent = net.transport.requests_sent
    # Every request the server answered went through the subclass's methods, except the
    # HEAD newNonce the signing layer sends inside post() (RFC 8555 section 7.2).
    served = [line.split()[:2] for line in log.getvalue().splitlines()]
    asked = [(method, path) for method, path in served if method != "HEAD"]
    assert [(m, u.split("/", 3)[3]) for m, u in net.calls] == [(m, p[1:]) for m, p in asked]
    assert requests_sent == len(served)
    kinds = [path for method, path in asked if method == "POST"]
    assert any("finalize" in path for path in kinds)
    assert len(net.calls) >= 8


class PlainNetwork:
    """No ClientNetwork at all: an object with acme 5.x's network methods and attributes,
    backed by a real ClientNetwork (so the requests are real), that records each call."""

    def __init__(self, inner: client.ClientNetwork) -> None:
        self.inner = inner
        self.key = inner.key
        self.alg = inner.alg
        self.account: Any = None
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.accounts_seen: list[Any] = []

    def post(self, url: str, obj: Any, content_type: str = client.ClientNetwork.JOSE_CONTENT_TYPE,
             **kwargs: Any) -> requests.Response:  # fmt: skip
        self.calls.append(("post", url, kwargs))
        self.accounts_seen.append(self.account)
        self.inner.account = self.account  # sign as this object's state says
        return self.inner.post(url, obj, content_type=content_type, **kwargs)

    def get(self, url: str, content_type: str = client.ClientNetwork.JSON_CONTENT_TYPE,
            **kwargs: Any) -> requests.Response:  # fmt: skip
        self.calls.append(("get", url, kwargs))
        return self.inner.get(url, content_type=content_type, **kwargs)

    def head(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls.append(("head", url, kwargs))
        return self.inner.head(url)


def test_a_plain_object_with_the_network_methods_is_a_network(
    acme_test_server: ACMETestServer,
) -> None:
    with client.ClientNetwork(_key(), verify_ssl=acme_test_server.ca_bundle_path) as inner:
        net = PlainNetwork(inner)
        directory = client.ClientV2.get_directory(acme_test_server.directory_url, net)
        acme = client.ClientV2(directory, net)
        old = messages.RegistrationResource(body=messages.Registration(), uri="https://x/old")
        net.account = old
        regr = acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        # newAccount must be signed with the key (jwk): the client cleared net.account for
        # that call, as acme 5.x does with a network it does not know, then set the new one.
        assert net.accounts_seen[-1] is None
        assert net.account is regr
        orderr = acme.new_order(_csr(["plain.test"]))
        _answer_all(acme, orderr)
        done = acme.poll_and_finalize(orderr, _deadline())
    assert done.fullchain_pem is not None
    assert net.calls[0][:2] == ("get", acme_test_server.directory_url)
    posts = [call for call in net.calls if call[0] == "post"]
    assert all(call[2] == {"new_nonce_url": directory["newNonce"]} for call in posts)
    assert {call[1] for call in posts} >= {directory["newAccount"], directory["newOrder"]}
    assert net.accounts_seen[1:] == [regr] * (len(net.accounts_seen) - 1)


def test_an_exception_from_the_network_reaches_the_caller_unchanged() -> None:
    class Broken(PlainNetwork):
        def post(self, url: str, obj: Any, *args: Any, **kwargs: Any) -> requests.Response:
            raise requests.exceptions.ConnectionError("the wire is cut")

    directory = messages.Directory.from_json(
        {"newNonce": "https://ca.invalid/nonce", "newOrder": "https://ca.invalid/order"}
    )
    with client.ClientNetwork(_key()) as inner:
        acme = client.ClientV2(directory, Broken(inner))
        with pytest.raises(requests.exceptions.ConnectionError, match="wire is cut"):
            acme.new_order(_csr(["cut.test"]))


# Protocol situations on the test CA.


def _registered(server: ACMETestServer) -> client.ClientV2:
    net = client.ClientNetwork(_key(), verify_ssl=server.ca_bundle_path)
    acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    return acme


def test_finalize_before_the_order_is_ready_waits_for_it(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> None:
    """Finalizing right after answering the challenges, while the CA still validates: it
    answers orderNotReady (RFC 8555 section 7.4) and the client waits for the order."""
    server = acme_test_server_factory(always_valid=True, validation_delay_polls=3)
    acme = _registered(server)
    try:
        orderr = acme.new_order(_csr(["early.test"]))
        _answer_all(acme, orderr)
        done = acme.finalize_order(orderr, _deadline())
        assert done.body.status == messages.STATUS_VALID
        assert done.fullchain_pem is not None
    finally:
        acme.net.close()


def test_a_finalize_whose_answer_was_lost_is_retried_from_where_the_order_is(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> None:
    server = acme_test_server_factory(always_valid=True)
    acme = _registered(server)
    try:
        orderr = acme.new_order(_csr(["lost.test"]))
        _answer_all(acme, orderr)
        orderr = acme.poll_authorizations(orderr, _deadline())
        server.core.faults = Faults(drop_response_rate=1.0, resources={"finalize"})
        with pytest.raises(errors.NetworkError):
            acme.finalize_order(orderr, _deadline())
        server.core.faults = Faults()
        done = acme.finalize_order(orderr, _deadline())  # the same (stale) order object
        assert done.body.status == messages.STATUS_VALID
        assert done.fullchain_pem is not None
    finally:
        acme.net.close()


def test_a_stale_saved_account_url_is_replaced_by_the_current_one(
    acme_test_server: ACMETestServer,
) -> None:
    acme = _registered(acme_test_server)
    try:
        regr = acme.net.account
        stale = regr.update(uri=regr.uri + "-from-an-old-file")
        acme.net.account = stale
        updated = acme.update_registration(stale, messages.Registration.from_data(email="a@b.c"))
        assert updated.uri == regr.uri
        assert acme.net.account.uri == regr.uri
        assert updated.body.emails == ("a@b.c",)
        deactivated = acme.deactivate_registration(stale)
        assert deactivated.body.status == messages.STATUS_DEACTIVATED
    finally:
        acme.net.close()


def test_no_renewal_information_request_for_an_expired_certificate(
    acme_test_server: ACMETestServer,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired.test")])
    now = datetime.datetime.now(UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - datetime.timedelta(days=91))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.AuthorityKeyIdentifier(b"\x03" * 20, None, None), critical=False)
        .sign(key, hashes.SHA256())
    )
    net = CountingNetwork(_key(), verify_ssl=acme_test_server.ca_bundle_path)
    with net:
        acme = client.ClientV2(
            client.ClientV2.get_directory(acme_test_server.directory_url, net), net
        )
        before = net.transport.requests_sent
        with pytest.raises(errors.ClientError, match="expired"):
            acme.renewal_info(expired)
        when, _ = acme.renewal_time(expired.public_bytes(serialization.Encoding.PEM))
        assert when == expired.not_valid_after_utc
        assert net.transport.requests_sent == before
        assert net.calls == [("GET", acme_test_server.directory_url)]


class AsyncPlainNetwork:
    """The async form: an object whose ``post``/``get``/``head`` are coroutines."""

    def __init__(self, inner: AsyncClientNetwork) -> None:
        self.inner = inner
        self.key = inner.key
        self.alg = inner.alg
        self.account: Any = None
        self.calls: list[str] = []

    async def post(self, url: str, obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(url)
        self.inner.account = self.account
        return await self.inner.post(url, obj, *args, **kwargs)

    async def get(self, url: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(url)
        return await self.inner.get(url, *args, **kwargs)

    async def head(self, url: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(url)
        return await self.inner.head(url)


def test_the_async_client_speaks_to_a_plain_async_network(
    acme_test_server: ACMETestServer,
) -> None:
    async def scenario() -> tuple[AsyncPlainNetwork, messages.OrderResource]:
        inner = AsyncClientNetwork(_key(), verify_ssl=acme_test_server.ca_bundle_path)
        async with inner:
            net = AsyncPlainNetwork(inner)
            directory = await AsyncClientV2.get_directory(acme_test_server.directory_url, net)
            acme = AsyncClientV2(directory, net)
            assert acme.acme_version == 2
            await acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            orderr = await acme.new_order(_csr(["async-plain.test"]))
            key = net.key
            for authzr in orderr.authorizations:
                challb = next(
                    c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
                )
                await acme.answer_challenge(challb, challb.response(key))
            return net, await acme.poll_and_finalize(orderr, _deadline())

    net, done = asyncio.run(scenario())
    assert done.fullchain_pem is not None
    assert net.calls[0] == acme_test_server.directory_url
    assert net.account is not None
    assert len(net.calls) >= 7
