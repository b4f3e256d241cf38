"""The sync shell's transport: one `requests.Session` (keep-alive pool) per network object.

Foreign exceptions are translated here, and only here, into `acme.errors.NetworkError`
(also a `requests.exceptions.RequestException`, as acme 5.x callers catch).
"""

from __future__ import annotations

import time

import requests

from acme import errors
from acme._core.http import Headers, HTTPRequest, HTTPResponse

__all__ = ["DEFAULT_MAX_BODY", "RequestsNetworkError", "RequestsTransport"]

DEFAULT_MAX_BODY = 8 * 1024 * 1024  # far above any ACME object or chain; bounds hostile bodies
_CHUNK = 64 * 1024


class RequestsNetworkError(errors.NetworkError, requests.exceptions.RequestException):
    """A transport failure of the sync client: catchable both ways."""

    def __init__(self, url: str, reason: str) -> None:
        errors.NetworkError.__init__(self, url, reason)

    def __str__(self) -> str:
        return errors.NetworkError.__str__(self)


class RequestsTransport:
    """Send `HTTPRequest` values with ``requests``, within a total deadline per request.

    ``timeout`` bounds connect plus the whole body, not only each read; bodies over
    ``max_body`` bytes are refused. Redirects are never followed here (the core decides).
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
        self.requests_sent = 0

    def send(self, request: HTTPRequest) -> HTTPResponse:
        deadline = time.monotonic() + self.timeout
        self.requests_sent += 1
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
        except requests.exceptions.RequestException as error:
            raise RequestsNetworkError(request.url, _reason(error)) from error
        try:
            content = self._read_body(raw, request.url, deadline)
        finally:
            raw.close()
        raw._content = content  # so 5.x callers can still use .json() / .text
        headers = Headers(list(raw.headers.items()))
        return HTTPResponse(raw.status_code, headers, content, request.url, raw)

    def _read_body(self, raw: requests.Response, url: str, deadline: float) -> bytes:
        declared = raw.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise RequestsNetworkError(url, f"body of {declared} bytes exceeds {self.max_body}")
        body = bytearray()
        try:
            for chunk in raw.iter_content(_CHUNK):
                body += chunk
                if len(body) > self.max_body:
                    raise RequestsNetworkError(url, f"body exceeds {self.max_body} bytes")
                if time.monotonic() > deadline:
                    raise RequestsNetworkError(url, f"no complete response in {self.timeout} s")
        except requests.exceptions.RequestException as error:
            if isinstance(error, RequestsNetworkError):
                raise
            raise RequestsNetworkError(url, _reason(error)) from error
        return bytes(body)

    def close(self) -> None:
        self.session.close()


def _reason(error: Exception) -> str:
    kind = type(error).__name__
    text = str(error)
    return f"{kind}: {text[:300]}" if text else kind
