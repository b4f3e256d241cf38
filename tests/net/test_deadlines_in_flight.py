"""A call's deadline covers the request in flight: a public call returns by its deadline (plus
a small constant) with `acme.errors.TimeoutError` when the CA hangs, though the transport's own
timeout is longer. Sync and async clients, against acme.testing's HTTPS server on loopback
holding its answers (the ``delay_seconds`` fault knob)."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.testing import ACMETestServer, Faults

UTC = datetime.timezone.utc
TRANSPORT_TIMEOUT = 8.0
DEADLINE = 3.0
#: What "returns by its deadline" may add: the driver's and the event loop's own overhead.
SLACK = 0.75
#: The server holds every answer to the hanging resource this long (cut short at close).
HANG = 30.0


def _csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return crypto_util.make_csr(pem, ["hang.test"])


def _key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def _in(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(UTC) + datetime.timedelta(seconds=seconds)


def _http01(authzr: messages.AuthorizationResource) -> messages.ChallengeBody:
    return next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))


def _server(factory: Callable[..., ACMETestServer]) -> ACMETestServer:
    # The order stays "processing" for a few polls, so poll_finalization must ask the order.
    return factory(always_valid=True, processing_polls=5)


@pytest.mark.parametrize("hanging", ["order", "authz"])
def test_sync_call_returns_by_its_deadline_while_the_ca_hangs(
    acme_test_server_factory: Callable[..., ACMETestServer], hanging: str
) -> None:
    server = _server(acme_test_server_factory)
    net = client.ClientNetwork(_key(), verify_ssl=server.ca_bundle_path, timeout=TRANSPORT_TIMEOUT)
    try:
        acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
        acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        orderr = acme.new_order(_csr())
        key = net.key
        assert key is not None
        for authzr in orderr.authorizations:
            acme.answer_challenge(_http01(authzr), _http01(authzr).response(key))
        if hanging == "order":
            orderr = acme.poll_authorizations(orderr, _in(30))
            orderr = acme.begin_finalization(orderr)
        server.core.faults = Faults(delay_seconds=HANG, resources=frozenset({hanging}))
        call = acme.poll_finalization if hanging == "order" else acme.poll_authorizations
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError):
            call(orderr, _in(DEADLINE))
        elapsed = time.monotonic() - started
        assert DEADLINE - 0.1 <= elapsed <= DEADLINE + SLACK
    finally:
        net.close()


@pytest.mark.parametrize("library", ["aiohttp", "httpx"])
def test_async_call_returns_by_its_deadline_while_the_ca_hangs(
    acme_test_server_factory: Callable[..., ACMETestServer], library: str
) -> None:
    server = _server(acme_test_server_factory)

    async def scenario() -> float:
        async with AsyncClientNetwork(
            _key(),
            verify_ssl=server.ca_bundle_path,
            timeout=TRANSPORT_TIMEOUT,
            http_library=library,  # type: ignore[arg-type]
        ) as net:
            acme = AsyncClientV2(await AsyncClientV2.get_directory(server.directory_url, net), net)
            await acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            orderr = await acme.new_order(_csr())
            key = net.key
            assert key is not None
            for authzr in orderr.authorizations:
                await acme.answer_challenge(_http01(authzr), _http01(authzr).response(key))
            orderr = await acme.poll_authorizations(orderr, _in(30))
            orderr = await acme.begin_finalization(orderr)
            server.core.faults = Faults(delay_seconds=HANG, resources=frozenset({"order"}))
            started = time.monotonic()
            with pytest.raises(errors.TimeoutError):
                await acme.poll_finalization(orderr, _in(DEADLINE))
            return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert DEADLINE - 0.1 <= elapsed <= DEADLINE + SLACK
