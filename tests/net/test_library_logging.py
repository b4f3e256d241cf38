"""The library's DEBUG log: every request (method, URL, status), nonce retries, polls and
waits, through ``logging.getLogger("acme...")``, and never a secret: no key, no signed body.

Runs the sync and async clients against the test CA on loopback, with rejected nonces and
slow validation switched on so that every kind of record is produced.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.testing import ACMETestServer, Faults

UTC = datetime.timezone.utc


def _csr(names: list[str]) -> tuple[bytes, bytes]:
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, crypto_util.make_csr(key_pem, names)


def _messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]


def test_requests_nonce_retries_polls_and_waits_are_logged_without_secrets(
    acme_test_server_factory: Callable[..., ACMETestServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = acme_test_server_factory(
        always_valid=True,
        faults=Faults(seed=7, bad_nonce_rate=0.4),
        validation_delay_polls=2,
        processing_polls=1,
    )
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    cert_key_pem, csr_pem = _csr(["log.example.com"])
    caplog.set_level(logging.DEBUG, logger="acme")
    with client.ClientNetwork(key, verify_ssl=server.ca_bundle_path) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
        acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        order = acme.new_order(csr_pem)
        for authzr in order.authorizations:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            acme.answer_challenge(challb, challb.response(key))
        order = acme.poll_and_finalize(order, datetime.datetime.now(UTC) + datetime.timedelta(1))
    assert order.fullchain_pem is not None
    records = _messages(caplog)
    text = "\n".join(message for _, _, message in records)
    base = re.escape(server.base_url)

    # Requests: method, URL, status, from the sync transport's logger.
    transport = [m for name, _, m in records if name == "acme._net.sync_transport"]
    assert any(
        re.fullmatch(rf"GET {base}/directory -> 200 \(\d+ bytes, \d+ ms\)", m) for m in transport
    )
    assert any(
        re.fullmatch(rf"POST {base}/new-order -> 201 \(\d+ bytes, \d+ ms\)", m) for m in transport
    )
    assert any(re.fullmatch(rf"POST {base}/\S+ -> 400 \(\d+ bytes, \d+ ms\)", m) for m in transport)
    # Nonce retries, polls and waits, from the core's loggers.
    assert re.search(r"POST \S+: badNonce, signing again .* \(attempt 2 of 5\)", text)
    assert re.search(r"polled authorization \S+ for log\.example\.com: pending", text)
    assert re.search(r"polled authorization \S+ for log\.example\.com: valid", text)
    assert re.search(r"polled order \S+: (processing|valid)", text)
    assert re.search(r"waiting \d+\.\d{3} s before polling the authorization again", text)
    assert {level for _, level, _ in records} == {logging.DEBUG}
    assert all(name.startswith("acme.") for name, _, _ in records)

    # Never a secret: no private key, no signed JWS, no key authorization.
    private = key.key.private_numbers().private_value
    assert "PRIVATE KEY" not in text
    assert str(private) not in text
    assert f"{private:x}" not in text
    assert cert_key_pem.decode() not in text
    for marker in ('"protected"', '"signature"', '"payload"', "eyJ"):
        assert marker not in text


def test_a_failed_request_and_a_wait_that_gives_up_are_logged(
    acme_test_server_factory: Callable[..., ACMETestServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = acme_test_server_factory(always_valid=True, validation_delay_polls=1000)
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    caplog.set_level(logging.DEBUG, logger="acme")
    with client.ClientNetwork(key, verify_ssl=server.ca_bundle_path) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
        acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        order = acme.new_order(_csr(["slow.example.com"])[1])
        with pytest.raises(errors.TimeoutError):
            acme.poll_authorizations(order, datetime.datetime.now(UTC))
        server.close()
        with pytest.raises(errors.NetworkError):
            client.ClientV2.get_directory(server.directory_url, net)
    text = "\n".join(m for _, _, m in _messages(caplog))
    assert re.search(
        r"waiting for authorization: the deadline is -?\d+\.\d{3} s away, giving up", text
    )
    assert re.search(rf"GET {re.escape(server.directory_url)} failed after \d+ ms: \S+", text)


def test_the_async_client_logs_its_requests(
    acme_test_server: ACMETestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="acme")

    async def register() -> None:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        async with AsyncClientNetwork(key, verify_ssl=acme_test_server.ca_bundle_path) as net:
            url = acme_test_server.directory_url
            acme = AsyncClientV2(await AsyncClientV2.get_directory(url, net), net)
            await acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))

    asyncio.run(register())
    base = re.escape(acme_test_server.base_url)
    logged = [m for name, _, m in _messages(caplog) if name == "acme._net.async_transport"]
    assert any(
        re.fullmatch(rf"GET {base}/directory -> 200 \(\d+ bytes, \d+ ms\)", m) for m in logged
    )
    assert any(
        re.fullmatch(rf"POST {base}/new-account -> 201 \(\d+ bytes, \d+ ms\)", m) for m in logged
    )
