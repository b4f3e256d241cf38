"""The sync transport sends through the session's adapter directly when ``Session.request``
would add nothing, and the long way otherwise: either way what reaches the server, and what
the session keeps, is what requests would send and keep (loopback HTTP server, real sockets).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from acme._core.http import HTTPRequest
from acme._net.sync_transport import DeadlineAdapter, EnvironmentCachingSession, RequestsTransport


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers ``{}``; records each request's headers; sets a cookie when the path asks."""

    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/cookie":
            self.send_header("Set-Cookie", "lb=node-2; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _CountingSession(EnvironmentCachingSession):
    """Counts the requests that went the long way (through ``Session.request``)."""

    long_way = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.long_way += 1
        return super().request(*args, **kwargs)


def _transport(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RequestsTransport:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    transport = RequestsTransport(verify=False, timeout=5)
    session = _CountingSession()
    adapter = DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    transport.session = session
    return transport


def _get(transport: RequestsTransport, url: str) -> requests.Response:
    response = transport.send(HTTPRequest("GET", url, {"User-Agent": "acme-test"}))
    assert isinstance(response.raw, requests.Response)  # what acme 5.x callers receive
    assert response.json() == {}
    return response.raw


def test_a_plain_session_skips_session_request_and_sends_what_requests_sends(
    recorder: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    base, seen = recorder
    transport = _transport(monkeypatch, tmp_path)
    session = transport.session
    assert isinstance(session, _CountingSession)
    session.headers["X-Team"] = "ops"  # session headers are merged on the short way too
    try:
        raw = _get(transport, f"{base}/a")
        assert session.long_way == 0
        # requests' own way, for reference:
        session.request("GET", f"{base}/a", headers={"User-Agent": "acme-test"}).close()
    finally:
        transport.close()
    short, reference = seen
    assert short == reference  # the same headers, names and values
    assert short["x-team"] == "ops"
    assert short["user-agent"] == "acme-test"
    assert raw.status_code == 200
    assert raw.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("customization", ["hook", "auth", "params", "cookie", "proxy", "netrc"])
def test_whatever_session_request_would_add_sends_the_long_way(
    customization: str,
    recorder: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    base, seen = recorder
    transport = _transport(monkeypatch, tmp_path)
    session = transport.session
    assert isinstance(session, _CountingSession)
    hooked: list[int] = []
    if customization == "hook":
        session.hooks["response"].append(lambda r, **kw: hooked.append(r.status_code))
    elif customization == "auth":
        session.auth = ("user", "pass")
    elif customization == "params":
        session.params = {"x": "1"}
    elif customization == "cookie":
        session.cookies.set("lb", "node-1")
    elif customization == "proxy":
        session.proxies = {"http": base}  # the recorder answers as if it were the proxy
    else:
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login user password pass\n")
        monkeypatch.setenv("NETRC", str(netrc))
    try:
        _get(transport, f"{base}/a")
    finally:
        transport.close()
    assert session.long_way == 1
    headers = seen[0]
    if customization == "hook":
        assert hooked == [200]
    elif customization in ("auth", "netrc"):
        assert headers["authorization"] == "Basic dXNlcjpwYXNz"
    elif customization == "cookie":
        assert headers["cookie"] == "lb=node-1"


def test_a_cookie_set_on_the_short_way_is_kept_and_sent_back(
    recorder: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Session.send stores the cookies of every answer; so does the short way (a load
    balancer's affinity cookie must come back, as it would with acme 5.x)."""
    base, seen = recorder
    transport = _transport(monkeypatch, tmp_path)
    session = transport.session
    assert isinstance(session, _CountingSession)
    try:
        _get(transport, f"{base}/cookie")
        assert session.cookies.get("lb") == "node-2"
        _get(transport, f"{base}/a")
    finally:
        transport.close()
    assert "cookie" not in seen[0]
    assert seen[1]["cookie"] == "lb=node-2"
    assert session.long_way == 1  # the second request: a cookie to send


def test_a_mounted_adapter_is_used_on_the_short_way(
    recorder: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    base, _ = recorder
    transport = _transport(monkeypatch, tmp_path)
    sent: list[str] = []

    class Recording(DeadlineAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
            sent.append(request.url)
            return super().send(request, *args, **kwargs)

    transport.session.mount(f"{base}/", Recording())
    try:
        _get(transport, f"{base}/a")
    finally:
        transport.close()
    assert sent == [f"{base}/a"]


def test_the_clients_driver_reads_the_transports_response_back_unless_it_was_changed(
    recorder: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """ClientNetwork.post hands out a requests.Response (acme 5.x); the client's driver reads
    it back (`response_from`) as the transport's own response, without parsing it again,
    unless a network subclass changed it on the way: then what it changed is read."""
    from acme._core.http import response_from

    base, _ = recorder
    transport = _transport(monkeypatch, tmp_path)
    try:
        response = transport.send(HTTPRequest("GET", f"{base}/a"))
    finally:
        transport.close()
    raw = response.raw
    back = response_from(raw, f"{base}/a")
    assert back == response
    assert back.headers is response.headers  # not read again
    raw.headers["Retry-After"] = "7"
    changed = response_from(raw, f"{base}/a")
    assert changed.headers is not response.headers
    assert changed.headers["Retry-After"] == "7"
    raw._content = b'{"changed": true}'
    assert response_from(raw, f"{base}/a").json() == {"changed": True}
