"""The asyncio client runs hundreds of orders concurrently on one account (against acme.testing)."""

from __future__ import annotations

import asyncio
import datetime
from typing import Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, crypto_util, messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.testing import ACMETestServer

ORDERS = 200


@pytest.mark.parametrize("library", ["aiohttp", "httpx"])
def test_two_hundred_concurrent_orders_on_one_account(
    acme_test_server: ACMETestServer, library: Literal["aiohttp", "httpx"]
) -> None:
    csr_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    async def issue(acme: AsyncClientV2, name: str) -> messages.OrderResource:
        key = acme.net.key
        assert key is not None
        orderr = await acme.new_order(crypto_util.make_csr(csr_key, [name]))
        for authzr in orderr.authorizations:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            await acme.answer_challenge(challb, challb.response(key))
        deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=120)
        return await acme.poll_and_finalize(orderr, deadline)

    async def scenario() -> tuple[list[messages.OrderResource], int]:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        async with AsyncClientNetwork(
            key, verify_ssl=acme_test_server.ca_bundle_path, http_library=library
        ) as net:
            directory = await AsyncClientV2.get_directory(acme_test_server.directory_url, net)
            acme = AsyncClientV2(directory, net)
            await acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            results = await asyncio.gather(*(issue(acme, f"n{i}.test") for i in range(ORDERS)))
            return list(results), net.transport.requests_sent

    results, requests_sent = asyncio.run(scenario())
    names = []
    for orderr in results:
        leaf = x509.load_pem_x509_certificates((orderr.fullchain_pem or "").encode())[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names.extend(san.get_values_for_type(x509.DNSName))
    assert sorted(names) == sorted(f"n{i}.test" for i in range(ORDERS))
    # Nonces are pooled across coroutines: newNonce is almost never needed.
    assert requests_sent < ORDERS * 8
    assert acme_test_server.core.internal_errors == []
