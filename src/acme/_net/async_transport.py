"""The async shell's transports: aiohttp (default) or httpx, one keep-alive pool each.

Each request has a total deadline (connect plus whole body) enforced with ``asyncio.wait_for``,
also through a proxy; bodies are size-capped, redirects are never followed, and every foreign
exception becomes `acme.errors.NetworkError` chained to its cause.

Both take ``proxy`` (one proxy URL for every request), ``trust_env`` (honour the proxy
variables of the environment when no proxy is given) and ``source_address`` (bind outgoing
connections to a local address). httpx reads the environment only when neither ``proxy`` nor
``source_address`` is given (its own rule for clients built on an explicit transport).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import ssl
import time
from typing import Any

from acme import errors
from acme._core.http import Headers, HTTPRequest, HTTPResponse

__all__ = ["AiohttpTransport", "AsyncTransport", "HttpxTransport", "ssl_context"]

logger = logging.getLogger(__name__)
_CHUNK = 64 * 1024


def ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """An SSL context trusting ``verify`` (a CA bundle path), the system store (True), or
    nothing (False, for loopback tests only)."""
    if verify is False:
        return False
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()


def _source(address: str | tuple[str, int] | None) -> tuple[str, int] | None:
    if address is None or isinstance(address, tuple):
        return address
    return (address, 0)


class AsyncTransport(abc.ABC):
    """Interface: ``await send(request) -> HTTPResponse`` and ``await close()``."""

    requests_sent = 0
    verify: bool | str = True
    proxy: str | None = None
    source_address: tuple[str, int] | None = None

    @abc.abstractmethod
    def set_verify(self, verify: bool | str) -> None:
        """Use ``verify`` (see `ssl_context`) for the requests sent from now on."""

    @abc.abstractmethod
    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request``; transport failures raise `acme.errors.NetworkError`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection pool."""

    async def _bounded(self, request: HTTPRequest, timeout: float, coro: Any) -> HTTPResponse:
        """Await ``coro`` within ``timeout``; logs method, URL, status and time at DEBUG."""
        self.requests_sent += 1
        started = time.monotonic()
        try:
            result: HTTPResponse = await self._translated(request, timeout, coro)
        except errors.NetworkError as error:
            elapsed = (time.monotonic() - started) * 1000
            logger.debug(
                "%s %s failed after %.0f ms: %s", request.method, request.url, elapsed, error.reason
            )
            raise
        elapsed = (time.monotonic() - started) * 1000
        logger.debug(
            "%s %s -> %d (%d bytes, %.0f ms)",
            request.method,
            request.url,
            result.status_code,
            len(result.content),
            elapsed,
        )
        return result

    @staticmethod
    async def _translated(request: HTTPRequest, timeout: float, coro: Any) -> HTTPResponse:
        try:
            result: HTTPResponse = await asyncio.wait_for(coro, timeout)
        except errors.NetworkError:
            raise
        except asyncio.TimeoutError as error:
            raise errors.NetworkError(
                request.url, f"no complete response in {timeout} s"
            ) from error
        except (OSError, ssl.SSLError, ValueError) as error:
            raise errors.NetworkError(request.url, f"{type(error).__name__}: {error}") from error
        return result


def _cap(url: str, body: bytearray, max_body: int) -> None:
    if len(body) > max_body:
        raise errors.NetworkError(url, f"body exceeds {max_body} bytes")


class HttpxTransport(AsyncTransport):
    """httpx.AsyncClient transport (HTTP/1.1, or HTTP/2 with ``http2=True`` and ``h2``).

    The client is built on first use; changing ``verify`` builds a new one for later
    requests (httpx fixes TLS settings per client), and `close` closes them all.
    """

    def __init__(
        self,
        verify: bool | str,
        timeout: float,
        max_body: int,
        http2: bool = False,
        *,
        source_address: str | tuple[str, int] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        import httpx

        self._httpx = httpx
        self.verify = verify
        self.timeout = timeout
        self.max_body = max_body
        self.http2 = http2
        self.source_address = _source(source_address)
        self.proxy = proxy
        self.trust_env = trust_env
        self._client: Any = None
        self._retired: list[Any] = []

    def set_verify(self, verify: bool | str) -> None:
        self.verify = verify
        if self._client is not None:
            self._retired.append(self._client)
            self._client = None

    @property
    def client(self) -> Any:
        if self._client is None:
            httpx = self._httpx
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            context = ssl_context(self.verify)
            transport = None
            if self.proxy is not None or self.source_address is not None:
                transport = httpx.AsyncHTTPTransport(
                    verify=context,
                    http2=self.http2,
                    limits=limits,
                    proxy=self.proxy,
                    local_address=self.source_address[0] if self.source_address else None,
                    trust_env=self.trust_env,
                )
            self._client = httpx.AsyncClient(
                verify=context,
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=False,
                http2=self.http2,
                limits=limits,
                transport=transport,
                trust_env=self.trust_env,
            )
        return self._client

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        try:
            return await self._bounded(request, self.timeout, self._send(request))
        except self._httpx.HTTPError as error:
            raise errors.NetworkError(request.url, f"{type(error).__name__}: {error}") from error

    async def _send(self, request: HTTPRequest) -> HTTPResponse:
        async with self.client.stream(
            request.method, request.url, headers=dict(request.headers), content=request.body
        ) as raw:
            body = bytearray()
            async for chunk in raw.aiter_bytes(_CHUNK):  # decoded: gzip is undone (and capped)
                body += chunk
                _cap(request.url, body, self.max_body)
            headers = Headers(list(raw.headers.multi_items()))
            return HTTPResponse(raw.status_code, headers, bytes(body), request.url, raw)

    async def close(self) -> None:
        clients = [*self._retired, *([self._client] if self._client is not None else [])]
        self._retired, self._client = [], None
        for client in clients:
            await client.aclose()


class AiohttpTransport(AsyncTransport):
    """aiohttp.ClientSession transport (HTTP/1.1).

    The session is created on the first request, inside the running event loop, so the
    network object itself may be built anywhere. Proxy variables are honoured while
    ``trust_env`` is true, as the sync client and httpx do; TLS settings go with each request,
    so ``verify`` may change at any time.
    """

    def __init__(
        self,
        verify: bool | str,
        timeout: float,
        max_body: int,
        *,
        source_address: str | tuple[str, int] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self.timeout = timeout
        self.max_body = max_body
        self.source_address = _source(source_address)
        self.proxy = proxy
        self.trust_env = trust_env
        self.set_verify(verify)
        self._client: aiohttp.ClientSession | None = None

    def set_verify(self, verify: bool | str) -> None:
        self.verify = verify
        self._ssl = ssl_context(verify)

    @property
    def client(self) -> Any:
        if self._client is None:
            connector = self._aiohttp.TCPConnector(limit=64, local_addr=self.source_address)
            self._client = self._aiohttp.ClientSession(
                connector=connector,
                timeout=self._aiohttp.ClientTimeout(total=self.timeout),
                trust_env=self.trust_env,
            )
        return self._client

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        try:
            return await self._bounded(request, self.timeout, self._send(request))
        except self._aiohttp.ClientError as error:
            raise errors.NetworkError(request.url, f"{type(error).__name__}: {error}") from error

    async def _send(self, request: HTTPRequest) -> HTTPResponse:
        async with self.client.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body,
            allow_redirects=False,
            ssl=self._ssl,
            proxy=self.proxy,
        ) as raw:
            body = bytearray()
            async for chunk in raw.content.iter_chunked(_CHUNK):
                body += chunk
                _cap(request.url, body, self.max_body)
            headers = Headers(list(raw.headers.items()))
            return HTTPResponse(raw.status, headers, bytes(body), request.url, raw)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
