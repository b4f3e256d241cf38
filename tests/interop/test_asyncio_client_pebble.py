"""The asyncio client against Pebble: the same flows as the sync client, plus concurrency."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, crypto_util, errors, messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from interop.pebble_harness import PebbleInstance, require_binaries, start_pebble

pytestmark = pytest.mark.pebble

LIBRARIES: list[Literal["httpx", "aiohttp"]] = ["httpx", "aiohttp"]


@pytest.fixture(scope="module")
def peb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    require_binaries()
    with start_pebble(
        tmp_path_factory.mktemp("pebble-async"), challenge_responder="challtestsrv"
    ) as instance:
        yield instance


def _key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def _csr(names: list[str]) -> bytes:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return crypto_util.make_csr(pem, names)


async def _client(peb: PebbleInstance, net: AsyncClientNetwork) -> AsyncClientV2:
    acme = AsyncClientV2(await AsyncClientV2.get_directory(peb.directory_url, net), net)
    await acme.new_account(
        messages.NewRegistration.from_data(email="a@example.com", terms_of_service_agreed=True)
    )
    return acme


async def _issue(
    peb: PebbleInstance, acme: AsyncClientV2, names: list[str], kind: type = challenges.HTTP01
) -> messages.OrderResource:
    key = acme.net.key
    assert key is not None
    orderr = await acme.new_order(_csr(names))
    for authzr in orderr.authorizations:
        challb = next(c for c in authzr.body.challenges if isinstance(c.chall, kind))
        chall: Any = challb.chall  # one of the three kinds
        name = authzr.body.identifier.value
        if kind is challenges.HTTP01:
            peb.challtestsrv.add_http01(challb.chall.encode("token"), challb.validation(key))
        elif kind is challenges.DNS01:
            record = chall.validation_domain_name(name) + "."
            peb.challtestsrv.add_txt(record, challb.validation(key))
        else:
            peb.challtestsrv.add_tlsalpn01(name, chall.key_authorization(key))
        await acme.answer_challenge(challb, challb.response(key))
    deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=60)
    return await acme.poll_and_finalize(orderr, deadline)


def _sans(orderr: messages.OrderResource) -> set[str]:
    assert orderr.fullchain_pem is not None
    leaf = x509.load_pem_x509_certificates(orderr.fullchain_pem.encode())[0]
    ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName))


@pytest.mark.parametrize("library", LIBRARIES)
def test_issue_each_challenge_type_and_revoke(
    peb: PebbleInstance, library: Literal["httpx", "aiohttp"]
) -> None:
    async def scenario() -> None:
        async with AsyncClientNetwork(
            _key(), verify_ssl=peb.ca_bundle, http_library=library
        ) as net:
            acme = await _client(peb, net)
            http = await _issue(peb, acme, [f"http-{library}.example.com"])
            assert _sans(http) == {f"http-{library}.example.com"}
            dns = await _issue(peb, acme, [f"*.dns-{library}.example.com"], challenges.DNS01)
            assert _sans(dns) == {f"*.dns-{library}.example.com"}
            alpn = await _issue(peb, acme, [f"alpn-{library}.example.com"], challenges.TLSALPN01)
            assert _sans(alpn) == {f"alpn-{library}.example.com"}
            leaf = x509.load_pem_x509_certificates((http.fullchain_pem or "").encode())[0]
            await acme.revoke(leaf, 0)
            with pytest.raises(messages.Error) as again:
                await acme.revoke(leaf, 0)
            assert again.value.code == "alreadyRevoked"

    asyncio.run(scenario())


def test_account_lifecycle_and_key_rollover(peb: PebbleInstance) -> None:
    async def scenario() -> None:
        key = _key()
        async with AsyncClientNetwork(key, verify_ssl=peb.ca_bundle) as net:
            acme = await _client(peb, net)
            regr = net.account
            assert regr is not None
            with pytest.raises(errors.ConflictError) as conflict:
                await acme.new_account(messages.NewRegistration.from_data(email="b@example.com"))
            assert conflict.value.location == regr.uri
            updated = await acme.update_registration(
                regr, messages.Registration.from_data(email="c@example.com")
            )
            assert updated.body.emails == ("c@example.com",)
            new_key = _key()
            await acme.change_key(new_key)
            assert net.key is new_key
            gone = await acme.deactivate_registration(updated)
            assert gone.body.status == messages.STATUS_DEACTIVATED

    asyncio.run(scenario())


def test_concurrent_orders_on_one_account(peb: PebbleInstance) -> None:
    """One network object, one pool, one nonce pool: 16 coroutines issuing at once.

    (Pebble 2.4 can deadlock internally under much higher concurrency; the hundreds-of-orders
    proof runs against acme.testing in test_asyncio_client_test_server.py.)
    """

    async def scenario() -> list[messages.OrderResource]:
        async with AsyncClientNetwork(_key(), verify_ssl=peb.ca_bundle) as net:
            acme = await _client(peb, net)
            jobs = [_issue(peb, acme, [f"c{i}.concurrent.example.com"]) for i in range(16)]
            results = await asyncio.gather(*jobs)
            # Fewer requests than 16 separate clients: nonces are shared, not re-fetched.
            assert net.transport.requests_sent < 16 * 9
            return results

    results = asyncio.run(scenario())
    assert [_sans(o) for o in results] == [{f"c{i}.concurrent.example.com"} for i in range(16)]


def test_network_errors_are_acme_errors(peb: PebbleInstance) -> None:
    async def scenario() -> None:
        async with AsyncClientNetwork(_key()) as net:  # Pebble's CA is not trusted
            with pytest.raises(errors.NetworkError) as failed:
                await AsyncClientV2.get_directory(peb.directory_url, net)
            assert failed.value.__cause__ is not None

    asyncio.run(scenario())
