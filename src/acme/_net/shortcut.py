"""``Session.request`` done by hand, for the requests it would add nothing to.

Every ACME request is small, so the CPU of the HTTP stack counts: ``Session.request`` (a
``Request`` prepared and merged with the session's settings, the cookie jar consulted and
updated, hooks dispatched) plus ``HTTPAdapter.send`` (pool key attributes, ``cert_verify``,
``build_response``) cost about 0.4 ms of CPU per request against 0.3 ms for urllib3 sending
and reading it. `send` does the same work for the common case and returns the same
`requests.Response`, so ``ClientNetwork.session`` stays the `requests.Session` acme 5.x
callers customize:

- Only while the session would add nothing we do not: no response hooks, ``auth``,
  ``params`` or cookies, no proxy (``proxies`` or environment) and no ``.netrc`` entry for
  the host. A ``Set-Cookie`` answer is stored in the session's jar as requests stores it, so
  the next request goes through ``Session.request`` and sends it.
- The session's headers, the adapter it would pick (any mounted one), ``verify`` (with the
  CA bundle variables) and ``cert`` are honoured. urllib3 is called directly only for our own
  `DeadlineAdapter` (another adapter's ``send`` is called) and a URL requests would send
  unchanged (no user info, nothing to percent-encode).
- `send` returns ``None`` when it does not apply: the caller uses ``Session.request``.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

__all__ = ["NetrcCache", "send"]

#: A URL requests sends unchanged: RFC 3986 characters, nothing to (re)quote, no user info.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.\-\[\]:]+(?:[/?][A-Za-z0-9\-._~:/?#\[\]!$&'()*+,;=]*)?"
)


class NetrcCache:
    """Whether requests would sign a host's requests with ``.netrc`` credentials, looked up
    once per host (the proxy variables are read once per host too)."""

    def __init__(self) -> None:
        self._hosts: dict[str, bool] = {}

    def has_entry(self, session: requests.Session, url: str) -> bool:
        if not session.trust_env:
            return False
        host = urllib.parse.urlsplit(url).netloc
        found = self._hosts.get(host)
        if found is None:
            found = self._hosts[host] = requests.utils.get_netrc_auth(url) is not None
        return found


def send(
    session: requests.Session,
    deadline_adapter: type[requests.adapters.HTTPAdapter],
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    verify: bool | str,
    timeout: float,
    netrc: NetrcCache,
) -> requests.Response | None:
    """What ``session.request(method, url, headers=..., data=body, verify=verify,
    timeout=(timeout, timeout), stream=True, allow_redirects=False)`` returns, or ``None``
    when that would do more than this does (see the module rules)."""
    if (
        session.hooks.get("response")
        or session.auth is not None
        or session.params
        or len(session.cookies)
        or netrc.has_entry(session, url)
    ):
        return None
    settings = session.merge_environment_settings(url, {}, None, verify, None)
    if settings["proxies"]:
        return None
    merged: CaseInsensitiveDict[str | bytes] = CaseInsensitiveDict(session.headers)
    merged.update(headers)
    adapter = session.get_adapter(url)
    tls = True if settings["verify"] is None else settings["verify"]
    if type(adapter) is deadline_adapter and _PLAIN_URL.fullmatch(url):
        response = _urlopen(adapter, method, url, merged, body, tls, settings["cert"], timeout)
    else:
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers=merged, data=body)
        response = adapter.send(
            prepared,
            stream=True,
            timeout=(timeout, timeout),
            verify=tls,
            cert=settings["cert"],
            proxies={},
        )
    if "set-cookie" in response.raw.headers:  # what Session.send keeps
        requests.cookies.extract_cookies_to_jar(  # type: ignore[no-untyped-call]
            session.cookies, response.request, response.raw
        )
    return response


def _urlopen(
    adapter: requests.adapters.HTTPAdapter,
    method: str,
    url: str,
    headers: CaseInsensitiveDict[str | bytes],
    body: bytes | None,
    verify: bool | str,
    cert: Any,
    timeout: float,
) -> requests.Response:
    """``adapter.send`` of a prepared request, without a proxy, by hand."""
    if body is not None:
        headers["Content-Length"] = str(len(body))  # as PreparedRequest.prepare_body sets it
    prepared = requests.PreparedRequest()
    prepared.method, prepared.url, prepared.headers, prepared.body = method, url, headers, body  # type: ignore[assignment]
    host, pool_kwargs = adapter.build_connection_pool_key_attributes(prepared, verify, cert)
    pool = adapter.poolmanager.connection_from_host(**host, pool_kwargs=pool_kwargs)
    try:
        raw = pool.urlopen(
            method=method,
            url=prepared.path_url,
            body=body,
            headers=headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=adapter.max_retries,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            chunked=False,
        )
    except urllib3.exceptions.HTTPError as error:  # as adapter.send raises them
        raise requests.exceptions.ConnectionError(error, request=prepared) from error
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(raw.headers)
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    response.raw = raw
    response.reason = raw.reason or ""
    response.url = url
    response.request = prepared
    response.connection = adapter
    if "set-cookie" in raw.headers:
        requests.cookies.extract_cookies_to_jar(  # type: ignore[no-untyped-call]
            response.cookies, prepared, raw
        )
    return response
