"""The network objects' options on loopback: ``session`` is the requests.Session, settable
``verify_ssl`` and ``user_agent``, ``source_address`` (acme 1.x), and proxies (the session's
and the environment's) with the total deadline still enforced; the async network object's
equivalents with aiohttp and httpx."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any, Literal

import pytest
import requests
import requests.adapters
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import client, errors
from acme.asyncio_client import AsyncClientNetwork
from acme.testing import ACMETestServer
from support.loopback_http import ConnectProxy, RecordingHTTPServer

LIBRARIES = ["aiohttp", "httpx"]


def _key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own proxy settings must not leak into these tests."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# The requests.Session, verify_ssl and user_agent.


def test_session_is_the_requests_session_every_request_goes_through(
    acme_test_server: ACMETestServer, no_proxy_env: None
) -> None:
    seen: list[int] = []
    with client.ClientNetwork(_key(), verify_ssl=acme_test_server.ca_bundle_path) as net:
        assert isinstance(net.session, requests.Session)
        net.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.status_code))
        client.ClientV2.get_directory(acme_test_server.directory_url, net)
    assert seen == [200]


def test_verify_ssl_can_be_set_after_construction(
    acme_test_server: ACMETestServer, no_proxy_env: None
) -> None:
    with client.ClientNetwork(_key()) as net:  # system CAs: the test CA is not among them
        with pytest.raises(errors.NetworkError, match=r"SSL|certificate"):
            net.get(acme_test_server.directory_url)
        net.verify_ssl = acme_test_server.ca_bundle_path
        assert net.verify_ssl == acme_test_server.ca_bundle_path
        assert net.get(acme_test_server.directory_url).json()["newNonce"]


def test_user_agent_can_be_set_after_construction(no_proxy_env: None) -> None:
    with RecordingHTTPServer() as server, client.ClientNetwork(allow_insecure_loopback=True) as net:
        net.get(server.url + "/one")
        net.user_agent = "my-program/2.0"
        net.get(server.url + "/two")
    agents = [headers["User-Agent"] for _, _, _, headers in server.requests]
    assert agents == ["acme-python", "my-program/2.0"]


# source_address (acme 1.x): bind outgoing connections to a local address.


@pytest.mark.parametrize("source", ["127.0.0.2", ("127.0.0.3", 0)])
def test_source_address_binds_outgoing_connections(
    source: str | tuple[str, int], no_proxy_env: None
) -> None:
    with RecordingHTTPServer() as server:
        with client.ClientNetwork(source_address=source, allow_insecure_loopback=True) as net:
            net.get(server.url + "/")
            assert net.source_address == ((source, 0) if isinstance(source, str) else source)
        with client.ClientNetwork(allow_insecure_loopback=True) as plain:
            plain.get(server.url + "/")
    peers = [peer for peer, _, _, _ in server.requests]
    assert peers == [source if isinstance(source, str) else source[0], "127.0.0.1"]


# Proxies: the session's, the environment's, and the total deadline through them.


def test_session_proxies_are_used(acme_test_server: ACMETestServer, no_proxy_env: None) -> None:
    port = acme_test_server.directory_url.split(":")[2].split("/")[0]
    with (
        ConnectProxy() as proxy,
        client.ClientNetwork(_key(), verify_ssl=acme_test_server.ca_bundle_path) as net,
    ):
        net.session.proxies = {"https": proxy.url}
        directory = client.ClientV2.get_directory(acme_test_server.directory_url, net)
        assert directory["newNonce"]
    assert proxy.tunnels == [f"127.0.0.1:{port}"]


def test_environment_proxies_follow_trust_env(
    acme_test_server: ACMETestServer, no_proxy_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with client.ClientNetwork(verify_ssl=acme_test_server.ca_bundle_path) as net:
            net.get(acme_test_server.directory_url)
        assert len(proxy.tunnels) == 1
        with client.ClientNetwork(verify_ssl=acme_test_server.ca_bundle_path) as net:
            net.session.trust_env = False
            net.get(acme_test_server.directory_url)
        assert len(proxy.tunnels) == 1  # the second went direct
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with client.ClientNetwork(verify_ssl=acme_test_server.ca_bundle_path) as net:
            net.get(acme_test_server.directory_url)
        assert len(proxy.tunnels) == 1


def test_the_total_deadline_holds_through_a_proxy(
    acme_test_server: ACMETestServer, no_proxy_env: None
) -> None:
    """A proxy that passes the CA's bytes on one every 50 ms: each read succeeds, the
    handshake alone would take minutes; the 1 s total deadline cuts it."""
    with ConnectProxy(drip=0.05) as proxy:
        net = client.ClientNetwork(verify_ssl=acme_test_server.ca_bundle_path, timeout=1.0)
        with net:
            net.session.proxies = {"https": proxy.url}
            started = time.monotonic()
            with pytest.raises(errors.NetworkError, match="no complete response in 1"):
                net.get(acme_test_server.directory_url)
            assert time.monotonic() - started < 3.0
        assert len(proxy.tunnels) == 1


# The async network object.


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize("library", LIBRARIES)
def test_async_source_address(library: Literal["aiohttp", "httpx"], no_proxy_env: None) -> None:
    async def scenario(url: str) -> None:
        async with AsyncClientNetwork(
            source_address="127.0.0.2", allow_insecure_loopback=True, http_library=library
        ) as net:
            await net.get(url + "/")

    with RecordingHTTPServer() as server:
        _run(scenario(server.url))
    assert [peer for peer, _, _, _ in server.requests] == ["127.0.0.2"]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("how", ["argument", "environment"])
def test_async_proxy(
    library: Literal["aiohttp", "httpx"],
    how: str,
    acme_test_server: ACMETestServer,
    no_proxy_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario(proxy_url: str) -> Any:
        options: dict[str, Any] = {"proxy": proxy_url} if how == "argument" else {}
        async with AsyncClientNetwork(
            verify_ssl=acme_test_server.ca_bundle_path, http_library=library, **options
        ) as net:
            response = await net.get(acme_test_server.directory_url)
            return response.json()

    with ConnectProxy() as proxy:
        if how == "environment":
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert _run(scenario(proxy.url))["newNonce"]
    assert len(proxy.tunnels) == 1


@pytest.mark.parametrize("library", LIBRARIES)
def test_async_total_deadline_through_a_proxy(
    library: Literal["aiohttp", "httpx"], acme_test_server: ACMETestServer, no_proxy_env: None
) -> None:
    async def scenario(proxy_url: str) -> float:
        async with AsyncClientNetwork(
            verify_ssl=acme_test_server.ca_bundle_path,
            timeout=1.0,
            http_library=library,
            proxy=proxy_url,
        ) as net:
            started = time.monotonic()
            with pytest.raises(errors.NetworkError, match="no complete response in 1"):
                await net.get(acme_test_server.directory_url)
            return time.monotonic() - started

    with ConnectProxy(drip=0.05) as proxy:
        assert _run(scenario(proxy.url)) < 3.0


@pytest.mark.parametrize("library", LIBRARIES)
def test_async_verify_ssl_and_user_agent_can_be_set(
    library: Literal["aiohttp", "httpx"], acme_test_server: ACMETestServer, no_proxy_env: None
) -> None:
    async def scenario() -> None:
        async with AsyncClientNetwork(http_library=library) as net:
            with pytest.raises(errors.NetworkError):
                await net.get(acme_test_server.directory_url)
            net.verify_ssl = acme_test_server.ca_bundle_path
            net.user_agent = "my-program/3.0"
            assert (await net.get(acme_test_server.directory_url)).json()["newNonce"]
            assert net.user_agent == "my-program/3.0"

    _run(scenario())


def test_a_collected_network_closes_its_session(no_proxy_env: None) -> None:
    """acme 5.x closes the session when the network object is collected; so do we (a safety
    net: programs should still close it), and the deadline thread ends too."""
    with RecordingHTTPServer() as server:
        net = client.ClientNetwork(allow_insecure_loopback=True)
        net.get(server.url + "/")
        adapter = net.session.get_adapter(server.url)
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        pools = adapter.poolmanager.pools
        thread = net.transport.watchdog._thread
        assert len(pools) == 1
        assert thread is not None
        assert thread.is_alive()
        del net
        gc.collect()
        thread.join(5)
        assert len(pools) == 0
        assert not thread.is_alive()
