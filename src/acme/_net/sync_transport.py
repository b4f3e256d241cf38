"""The sync shell's transport: one `requests.Session` (keep-alive pool) per network object.

Foreign exceptions are translated here, and only here, into `acme.errors.NetworkError`
(also a `requests.exceptions.RequestException`, as acme 5.x callers catch).
"""

from __future__ import annotations

import logging
import os
import time
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import requests
import requests.adapters

if TYPE_CHECKING:  # pragma: no cover
    from requests.sessions import _Settings

from acme import errors
from acme._core.http import DEFAULT_MAX_BODY, Headers, HTTPRequest, HTTPResponse
from acme._net.deadline import Watchdog, watched_pool_classes

__all__ = [
    "DEFAULT_MAX_BODY",
    "DeadlineAdapter",
    "EnvironmentCachingSession",
    "RequestsNetworkError",
    "RequestsTransport",
]

logger = logging.getLogger(__name__)
_CHUNK = 64 * 1024


class RequestsNetworkError(errors.NetworkError, requests.exceptions.RequestException):
    """A transport failure of the sync client: catchable both ways."""

    def __init__(self, url: str, reason: str) -> None:
        errors.NetworkError.__init__(self, url, reason)

    def __str__(self) -> str:
        return errors.NetworkError.__str__(self)


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An `HTTPAdapter` whose connections, direct or through an HTTP proxy, join the running
    request's total deadline (`Watchdog`), never retried, optionally bound to a local address.

    SOCKS proxies keep urllib3's own connection classes: only the per-read timeouts apply.
    """

    def __init__(self, source_address: tuple[str, int] | None = None) -> None:
        self.source_address = source_address  # before super().__init__: it builds the pool
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        if self.source_address is not None:
            pool_kwargs["source_address"] = self.source_address
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = watched_pool_classes()

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        new = proxy not in self.proxy_manager
        if self.source_address is not None:
            proxy_kwargs.setdefault("source_address", self.source_address)
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if new and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = watched_pool_classes()
        return manager

    __attrs__ = [*requests.adapters.HTTPAdapter.__attrs__, "source_address"]  # pickling


class EnvironmentCachingSession(requests.Session):
    """A `requests.Session` that reads the proxy and CA bundle variables once per host.

    requests reads them from the environment on every request while ``trust_env`` is true
    (about 0.8 ms each); this keeps the same meaning (``trust_env``, ``proxies``, ``NO_PROXY``
    and ``REQUESTS_CA_BUNDLE`` as requests documents them) at the cost of one lookup per host.
    """

    _MAX_HOSTS = 256

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self._env_verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        env_proxies = self._environment.get(key)
        if env_proxies is None:
            if len(self._environment) >= self._MAX_HOSTS:
                self._environment.clear()
            env_proxies = self._environment[key] = requests.utils.get_environ_proxies(
                url, no_proxy=no_proxy
            )
        if proxies is not None:
            for name, value in env_proxies.items():
                proxies.setdefault(name, value)
        if (verify is True or verify is None) and self._env_verify:
            verify = self._env_verify
        settings: Any = {
            "proxies": _merge(proxies, self.proxies),
            "stream": _merge(stream, self.stream),
            "verify": _merge(verify, self.verify),
            "cert": _merge(cert, self.cert),
        }
        return cast("_Settings", settings)


def _merge(request_value: Any, session_value: Any) -> Any:
    """A request's setting over the session's (requests' rule): a mapping is the session's
    updated with the request's, keys the request sets to ``None`` removed."""
    if request_value is None:
        return session_value
    if session_value is None or not (
        isinstance(request_value, Mapping) and isinstance(session_value, Mapping)
    ):
        return request_value
    merged = {**session_value, **request_value}
    return {key: value for key, value in merged.items() if value is not None}


def _source(address: str | tuple[str, int] | None) -> tuple[str, int] | None:
    if address is None or isinstance(address, tuple):
        return address
    return (address, 0)


class RequestsTransport:
    """Send `HTTPRequest` values with ``requests``, within a total deadline per request.

    ``timeout`` bounds connect plus the whole response (a `Watchdog` shuts the socket down
    when it passes), not only each read, directly and through HTTP proxies; bodies over
    ``max_body`` bytes are refused. Redirects are never followed here (the core decides).
    ``session`` is the `requests.Session` (proxies, hooks, adapters are the caller's to set);
    ``source_address`` binds outgoing connections to a local address.
    """

    def __init__(
        self,
        verify: bool | str = True,
        timeout: float = 45.0,
        max_body: int = DEFAULT_MAX_BODY,
        *,
        source_address: str | tuple[str, int] | None = None,
    ) -> None:
        self.verify = verify
        self.timeout = timeout
        self.max_body = max_body
        self.source_address = _source(source_address)
        self.session: requests.Session = EnvironmentCachingSession()
        adapter = DeadlineAdapter(self.source_address)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.watchdog = Watchdog()
        self.requests_sent = 0

    def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request``; logs method, URL, status and time at DEBUG (never the body)."""
        self.requests_sent += 1
        started = time.monotonic()
        try:
            response = self._send_within_deadline(request)
        except RequestsNetworkError as error:
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
            response.status_code,
            len(response.content),
            elapsed,
        )
        return response

    def _send_within_deadline(self, request: HTTPRequest) -> HTTPResponse:
        with self.watchdog.request(self.timeout) as record:
            try:
                response = self._send(request)
            except RequestsNetworkError:
                if record.expired:
                    raise self._late(request) from None
                raise
        if record.expired:  # cut short: what arrived may look complete but is not the answer
            raise self._late(request)
        return response

    def _late(self, request: HTTPRequest) -> RequestsNetworkError:
        return RequestsNetworkError(request.url, f"no complete response in {self.timeout} s")

    def _send(self, request: HTTPRequest) -> HTTPResponse:
        try:
            raw = self.session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                allow_redirects=False,
                stream=True,
                verify=self.verify,
                timeout=(self.timeout, self.timeout),
            )
        except (requests.exceptions.RequestException, OSError) as error:
            # OSError: requests raises it bare for a CA bundle path that does not exist.
            raise RequestsNetworkError(request.url, _reason(error)) from error
        try:
            content = self._read_body(raw, request.url)
        finally:
            raw.close()
        raw._content = content  # so 5.x callers can still use .json() / .text
        headers = Headers(list(raw.headers.items()))
        return HTTPResponse(raw.status_code, headers, content, request.url, raw)

    def _read_body(self, raw: requests.Response, url: str) -> bytes:
        declared = raw.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise RequestsNetworkError(url, f"body of {declared} bytes exceeds {self.max_body}")
        body = bytearray()
        try:
            for chunk in raw.iter_content(_CHUNK):
                body += chunk
                if len(body) > self.max_body:
                    raise RequestsNetworkError(url, f"body exceeds {self.max_body} bytes")
        except requests.exceptions.RequestException as error:
            if isinstance(error, RequestsNetworkError):
                raise
            raise RequestsNetworkError(url, _reason(error)) from error
        return bytes(body)

    def close(self) -> None:
        self.session.close()
        self.watchdog.close()

    def release(self) -> None:
        """`close` for a finalizer: the deadline thread is told to stop, not waited for."""
        self.session.close()
        self.watchdog.stop()


def _reason(error: Exception) -> str:
    kind = type(error).__name__
    text = str(error)
    return f"{kind}: {text[:300]}" if text else kind
