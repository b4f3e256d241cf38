"""The asyncio client's transports on loopback: decoding, caps, deadlines, construction."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json

import pytest

from acme import errors
from acme._core.http import HTTPRequest
from acme._net.async_transport import AiohttpTransport, HttpxTransport
from acme.asyncio_client import AsyncClientNetwork

TRANSPORTS = [HttpxTransport, AiohttpTransport]


async def _serve(body: bytes, headers: bytes, drip: float = 0.0) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\n" + headers + b"Connection: close\r\n\r\n")
            if drip:
                for byte in body:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(drip)
            else:
                writer.write(body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up, as the deadline test wants
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _run(transport_cls: type, body: bytes, headers: bytes, **options: float) -> object:
    async def scenario() -> object:
        server = await _serve(body, headers, options.pop("drip", 0.0))
        port = server.sockets[0].getsockname()[1]
        transport = transport_cls(False, options.get("timeout", 5.0), int(options.get("cap", 1e6)))
        try:
            return await transport.send(HTTPRequest("GET", f"http://127.0.0.1:{port}/"))
        finally:
            await transport.close()
            server.close()
            await server.wait_closed()

    return asyncio.run(scenario())


@pytest.mark.parametrize("transport_cls", TRANSPORTS)
def test_compressed_bodies_are_decoded(transport_cls: type) -> None:
    body = gzip.compress(json.dumps({"newNonce": "https://x/n"}).encode())
    headers = b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
    headers += b"Content-Length: %d\r\n" % len(body)
    response = _run(transport_cls, body, headers)
    assert response.json() == {"newNonce": "https://x/n"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport_cls", TRANSPORTS)
def test_bodies_over_the_cap_are_refused(transport_cls: type) -> None:
    with pytest.raises(errors.NetworkError, match="exceeds"):
        _run(transport_cls, b"x" * 5000, b"Content-Length: 5000\r\n", cap=1000)


@pytest.mark.parametrize("transport_cls", TRANSPORTS)
def test_a_dripping_body_hits_the_total_deadline(transport_cls: type) -> None:
    loop_start = asyncio.run(_now())
    with pytest.raises(errors.NetworkError, match="no complete response"):
        _run(transport_cls, b"y" * 100, b"Content-Length: 100\r\n", drip=0.05, timeout=0.5)
    assert asyncio.run(_now()) - loop_start < 3.0


async def _now() -> float:
    return asyncio.get_running_loop().time()


def test_the_network_object_can_be_built_outside_an_event_loop() -> None:
    net = AsyncClientNetwork()  # aiohttp by default: its session starts on first use
    asyncio.run(net.close())
