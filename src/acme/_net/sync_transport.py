"""The sync shell's transport: one keep-alive connection pool per network object.

Requests go straight to urllib3 (the library under ``requests``): the ``requests.Session``
layer (settings merged per request, cookie jar, hooks, adapters) cost about as much CPU as
the rest of an ACME request. Only a URL an environment proxy applies to goes through
``requests``, which knows every proxy form (auth, SOCKS). TLS trust is what ``requests``
would use: ``verify`` (True, False or a CA bundle path) and ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` when ``verify`` is True, else certifi's bundle.

Foreign exceptions are translated here, and only here, into `acme.errors.NetworkError`
(also a `requests.exceptions.RequestException`, as acme 5.x callers catch).
"""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.parse
import urllib.request
from typing import Any

import requests
import urllib3

from acme import errors
from acme._core.http import DEFAULT_MAX_BODY, Headers, HTTPRequest, HTTPResponse
from acme._net.deadline import Watchdog, watched_pool_classes

__all__ = ["DEFAULT_MAX_BODY", "RequestsNetworkError", "RequestsTransport", "requests_response"]

logger = logging.getLogger(__name__)
_CHUNK = 64 * 1024
#: Sent with every request unless it names its own (as requests does).
_DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
#: Failures of the direct path that mean "no usable response" (urllib3 wraps most).
_DIRECT_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class RequestsNetworkError(errors.NetworkError, requests.exceptions.RequestException):
    """A transport failure of the sync client: catchable both ways."""

    def __init__(self, url: str, reason: str) -> None:
        errors.NetworkError.__init__(self, url, reason)

    def __str__(self) -> str:
        return errors.NetworkError.__str__(self)


class RequestsTransport:
    """Send `HTTPRequest` values within a total deadline per request.

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
        self.pool = urllib3.PoolManager(num_pools=10, maxsize=10, **_tls_options(verify))
        self.pool.pool_classes_by_scheme = watched_pool_classes()
        self.watchdog = Watchdog()
        # Proxy variables are read once per host (requests re-reads them, and the CA bundle
        # variables, on every request: about 0.8 ms each).
        self._proxies: dict[str, dict[str, str]] = {}
        self._any_proxy = _any_proxy_variable() and bool(urllib.request.getproxies())
        self._session: requests.Session | None = None
        self.requests_sent = 0

    def send(self, request: HTTPRequest, timeout: float | None = None) -> HTTPResponse:
        """Send ``request`` within ``timeout`` seconds (the caller's time left), or within the
        transport's own timeout if that is shorter or none is given; logs method, URL, status
        and time at DEBUG (never the body)."""
        self.requests_sent += 1
        if timeout is None or timeout > self.timeout:
            timeout = self.timeout
        started = time.monotonic()
        try:
            response = self._send_within(request, timeout)
        except RequestsNetworkError as error:
            elapsed = (time.monotonic() - started) * 1000
            logger.debug(
                "%s %s failed after %.0f ms: %s", request.method, request.url, elapsed, error.reason
            )
            raise
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d (%d bytes, %.0f ms)",
                request.method,
                request.url,
                response.status_code,
                len(response.content),
                (time.monotonic() - started) * 1000,
            )
        return response

    def _send_within(self, request: HTTPRequest, timeout: float) -> HTTPResponse:
        with self.watchdog.request(timeout) as record:
            try:
                proxies = self._proxies_for(request.url)
                if proxies:
                    response = self._send_proxied(request, timeout, proxies)
                else:
                    response = self._send_direct(request, timeout)
            except RequestsNetworkError:
                if record.expired:
                    raise self._late(request, timeout) from None
                raise
        if record.expired:  # cut short: what arrived may look complete but is not the answer
            raise self._late(request, timeout)
        return response

    def _late(self, request: HTTPRequest, timeout: float) -> RequestsNetworkError:
        return RequestsNetworkError(request.url, f"no complete response in {timeout:.3g} s")

    def _send_direct(self, request: HTTPRequest, timeout: float) -> HTTPResponse:
        headers = {**_DEFAULT_HEADERS, **request.headers}
        try:
            raw = self.pool.urlopen(
                request.method,
                request.url,
                body=request.body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
            )
        except _DIRECT_ERRORS as error:
            raise RequestsNetworkError(request.url, _reason(error)) from error
        try:
            content = self._read_direct(raw, request.url)
        except BaseException:
            raw.close()  # a half-read connection must not go back to the pool
            raise
        finally:
            raw.release_conn()
        return HTTPResponse(raw.status, Headers(list(raw.headers.items())), content, request.url)

    def _read_direct(self, raw: urllib3.BaseHTTPResponse, url: str) -> bytes:
        _check_declared(raw.headers.get("Content-Length", ""), self.max_body, url)
        body = bytearray()
        try:
            for chunk in raw.stream(_CHUNK, decode_content=True):
                body += chunk
                if len(body) > self.max_body:
                    raise RequestsNetworkError(url, f"body exceeds {self.max_body} bytes")
        except _DIRECT_ERRORS as error:
            raise RequestsNetworkError(url, _reason(error)) from error
        return bytes(body)

    def _send_proxied(
        self, request: HTTPRequest, timeout: float, proxies: dict[str, str]
    ) -> HTTPResponse:
        if self._session is None:
            self._session = requests.Session()
            self._session.trust_env = False  # proxies are passed explicitly, read once
            adapter = requests.adapters.HTTPAdapter(max_retries=0)
            self._session.mount("http://", adapter)
            self._session.mount("https://", adapter)
        try:
            raw = self._session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                allow_redirects=False,
                stream=True,
                proxies=proxies,
                verify=_requests_verify(self.verify),
                timeout=(timeout, timeout),
            )
        except (requests.exceptions.RequestException, OSError) as error:
            # OSError: requests raises it bare for a CA bundle path that does not exist.
            raise RequestsNetworkError(request.url, _reason(error)) from error
        try:
            content = self._read_proxied(raw, request.url)
        finally:
            raw.close()
        raw._content = content  # so 5.x callers can still use .json() / .text
        headers = Headers(list(raw.headers.items()))
        return HTTPResponse(raw.status_code, headers, content, request.url, raw)

    def _proxies_for(self, url: str) -> dict[str, str]:
        if not self._any_proxy:
            return {}
        host = urllib.parse.urlsplit(url).netloc
        if host not in self._proxies:
            self._proxies[host] = requests.utils.get_environ_proxies(url)
        return self._proxies[host]

    def _read_proxied(self, raw: requests.Response, url: str) -> bytes:
        _check_declared(raw.headers.get("Content-Length", ""), self.max_body, url)
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
        self.pool.clear()
        if self._session is not None:
            self._session.close()
        self.watchdog.close()


def requests_response(response: HTTPResponse) -> requests.Response:
    """``response`` as the `requests.Response` acme 5.x callers of ``ClientNetwork.get``,
    ``post``, ``head`` and ``ClientV2.poll`` receive (headers, body, status, URL, links)."""
    if isinstance(response.raw, requests.Response):
        return response.raw
    raw = requests.Response()
    raw.status_code = response.status_code
    raw.reason = http.client.responses.get(response.status_code, "")
    raw.headers = requests.structures.CaseInsensitiveDict(
        {name: response.headers[name] for name in response.headers}
    )
    raw.url = response.url
    raw.encoding = requests.utils.get_encoding_from_headers(raw.headers)
    raw._content = response.content
    raw._content_consumed = True  # type: ignore[attr-defined]  # iter_content reads _content
    return raw


def _tls_options(verify: bool | str) -> dict[str, Any]:
    """urllib3 pool options trusting what requests would trust for ``verify``."""
    where = _requests_verify(verify)
    if where is False:
        return {"cert_reqs": "CERT_NONE"}
    path = requests.utils.DEFAULT_CA_BUNDLE_PATH if where is True else where
    if os.path.isdir(path):
        return {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": path}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": path}


def _requests_verify(verify: bool | str) -> bool | str:
    """``verify``, with requests' CA bundle variables applied when it is True."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


def _any_proxy_variable() -> bool:
    """Whether any ``*_proxy`` variable is set: a quarter of the cost of reading them all."""
    return any(name[-6:].lower() == "_proxy" for name in os.environ)


def _check_declared(declared: str, max_body: int, url: str) -> None:
    if declared.isdigit() and int(declared) > max_body:
        raise RequestsNetworkError(url, f"body of {declared} bytes exceeds {max_body}")


def _reason(error: BaseException) -> str:
    kind = type(error).__name__
    text = str(error)
    return f"{kind}: {text[:300]}" if text else kind
