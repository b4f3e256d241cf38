"""The sync shell's transport: one `requests.Session` (keep-alive pool) per network object.

Foreign exceptions are translated here, and only here, into `acme.errors.NetworkError`
(also a `requests.exceptions.RequestException`, as acme 5.x callers catch).
"""

from __future__ import annotations

import logging
import os
import time
import urllib.parse

import requests

from acme import errors
from acme._core.http import DEFAULT_MAX_BODY, Headers, HTTPRequest, HTTPResponse
from acme._net.deadline import Watchdog, watched_pool_classes

__all__ = ["DEFAULT_MAX_BODY", "RequestsNetworkError", "RequestsTransport"]

logger = logging.getLogger(__name__)
_CHUNK = 64 * 1024


class RequestsNetworkError(errors.NetworkError, requests.exceptions.RequestException):
    """A transport failure of the sync client: catchable both ways."""

    def __init__(self, url: str, reason: str) -> None:
        errors.NetworkError.__init__(self, url, reason)

    def __str__(self) -> str:
        return errors.NetworkError.__str__(self)


class RequestsTransport:
    """Send `HTTPRequest` values with ``requests``, within a total deadline per request.

    ``timeout`` bounds connect plus the whole response (a `Watchdog` shuts the socket down
    when it passes), not only each read; bodies over ``max_body`` bytes are refused. Redirects
    are never followed here (the core decides). Through an HTTP proxy only the per-read
    timeouts apply.
    """

    def __init__(
        self,
        verify: bool | str = True,
        timeout: float = 45.0,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.verify = verify
        self.timeout = timeout
        self.max_body = max_body
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        adapter.poolmanager.pool_classes_by_scheme = watched_pool_classes()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.watchdog = Watchdog()
        # requests re-reads proxy variables and CA bundle variables from the environment on
        # every request (about 0.8 ms each); read them once per host instead, same semantics.
        self.session.trust_env = False
        self._proxies: dict[str, dict[str, str]] = {}
        self._env_verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
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
                proxies=self._proxies_for(request.url),
                verify=self._env_verify
                if self.verify is True and self._env_verify
                else self.verify,
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

    def _proxies_for(self, url: str) -> dict[str, str]:
        host = urllib.parse.urlsplit(url).netloc
        if host not in self._proxies:
            self._proxies[host] = requests.utils.get_environ_proxies(url)
        return self._proxies[host]

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


def _reason(error: Exception) -> str:
    kind = type(error).__name__
    text = str(error)
    return f"{kind}: {text[:300]}" if text else kind
