"""acme.standalone http-01 servers on real loopback sockets, checked by raw requests and by
``http01_simple_verify`` (the body of ``HTTP01Response.simple_verify``)."""

from __future__ import annotations

import errno
import logging
import socket

import pytest

from acme import errors, standalone
from acme._net import probes as _probes
from support.standalone import (
    ACCOUNT_KEY,
    LOOPBACK,
    LOOPBACK6,
    OTHER_ACCOUNT_KEY,
    Resource,
    body_of,
    has_ipv6,
    http01,
    port_of,
    raw_http,
    serving,
    status_of,
)


def _get(port: int, path: str, method: str = "GET", host: str = LOOPBACK) -> bytes:
    request = f"{method} {path} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode("ascii")
    return raw_http(port, request, host=host)


def test_serves_exactly_the_token_path_as_text_plain() -> None:
    chall, _, resource = http01(1)
    with serving(standalone.HTTP01Server((LOOPBACK, 0), {resource})) as server:
        port = port_of(server)
        answer = _get(port, chall.path)
        assert status_of(answer) == 200
        assert b"\r\nContent-Type: text/plain\r\n" in answer
        assert body_of(answer) == resource.validation.encode("ascii")

        head = _get(port, chall.path, method="HEAD")
        assert status_of(head) == 200
        assert body_of(head) == b""

        # Negative controls: another token, the token with a suffix, query or trailing slash.
        other, _, _ = http01(2)
        for path in (other.path, chall.path + "x", chall.path + "?a=b", chall.path + "/"):
            answer = _get(port, path)
            assert status_of(answer) == 404, path
            assert resource.validation.encode("ascii") not in answer
        assert status_of(_get(port, "/no/such/thing")) == 404
        index = _get(port, "/")  # the index banner (1.x behaviour), byte for byte as 5.x
        assert status_of(index) == 200
        assert body_of(index) == b"ACME client standalone challenge solver"
        assert status_of(_get(port, chall.path, method="POST")) == 501


def test_resources_are_shared_by_reference() -> None:
    chall, _, resource = http01(3)
    resources: set[Resource] = set()
    with serving(standalone.HTTP01Server((LOOPBACK, 0), resources)) as server:
        port = port_of(server)
        assert status_of(_get(port, chall.path)) == 404
        resources.add(resource)  # added after the server started
        assert body_of(_get(port, chall.path)) == resource.validation.encode("ascii")
        resources.discard(resource)
        assert status_of(_get(port, chall.path)) == 404


def test_simple_verify_accepts_the_right_answer_only() -> None:
    chall, response, resource = http01(4)
    wrong_chall, _, _ = http01(5)  # not served: 404
    stale_chall, _, stale = http01(6, key=OTHER_ACCOUNT_KEY)  # served for another account key
    stale_response = stale_chall.response(ACCOUNT_KEY)
    resources = {resource, stale}
    with serving(standalone.HTTP01Server((LOOPBACK, 0), resources)) as server:
        port = port_of(server)
        key = ACCOUNT_KEY.public_key()
        assert _probes.http01_simple_verify(response, chall, LOOPBACK, key, port=port, timeout=5)
        wrong_response = wrong_chall.response(ACCOUNT_KEY)
        assert not _probes.http01_simple_verify(
            wrong_response, wrong_chall, LOOPBACK, key, port=port, timeout=5
        )
        assert not _probes.http01_simple_verify(
            stale_response, stale_chall, LOOPBACK, key, port=port, timeout=5
        )
        # The response's key authorization is for another account: refused before any GET.
        assert not _probes.http01_simple_verify(
            response, chall, LOOPBACK, OTHER_ACCOUNT_KEY.public_key(), port=port, timeout=5
        )


def test_simple_verify_trims_only_trailing_whitespace() -> None:
    chall, response, resource = http01(7)
    padded = Resource(chall, response, resource.validation + "\r\n\t \n")
    leading = Resource(chall, response, " " + resource.validation)
    resources = {padded}
    with serving(standalone.HTTP01Server((LOOPBACK, 0), resources)) as server:
        port = port_of(server)
        key = ACCOUNT_KEY.public_key()
        assert _probes.http01_simple_verify(response, chall, LOOPBACK, key, port=port, timeout=5)
        resources.clear()
        resources.add(leading)
        assert not _probes.http01_simple_verify(
            response, chall, LOOPBACK, key, port=port, timeout=5
        )


def test_simple_verify_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    chall, response, _ = http01(8)
    server = standalone.HTTP01Server((LOOPBACK, 0), set())
    with serving(server), caplog.at_level(logging.INFO, logger="acme._net.probes"):
        assert not _probes.http01_simple_verify(
            response, chall, LOOPBACK, ACCOUNT_KEY.public_key(), port=port_of(server)
        )
    assert "answered HTTP 404" in caplog.text


def test_ipv6_server_and_ip_identifier() -> None:
    chall, response, resource = http01(9)
    if not has_ipv6():  # then asking for an IPv6 server must fail loudly, not fall back
        with pytest.raises(OSError):
            standalone.HTTP01Server((LOOPBACK6, 0), {resource}, ipv6=True)
        return
    with serving(standalone.HTTP01Server(("", 0), {resource}, ipv6=True)) as server:
        port = port_of(server)
        assert server.socket.family == socket.AF_INET6
        # RFC 8738 section 7: an IP identifier is validated at http://[::1]/...
        assert chall.uri(LOOPBACK6).startswith("http://[::1]/")
        key = ACCOUNT_KEY.public_key()
        assert _probes.http01_simple_verify(response, chall, LOOPBACK6, key, port=port, timeout=5)
        # IPv6-only: the same port on IPv4 has no listener (a negative control).
        assert not _probes.http01_simple_verify(
            response, chall, LOOPBACK, key, port=port, timeout=5
        )


def test_dual_servers_share_one_real_port() -> None:
    chall, _, resource = http01(10)
    resources = {resource}
    with standalone.HTTP01DualNetworkedServers(("", 0), resources) as servers:
        servers.serve_forever(poll_interval=0.05)
        names = servers.getsocknames()
        ports = {name[1] for name in names}
        assert len(ports) == 1
        assert 0 not in ports
        port = ports.pop()
        families = {server.socket.family for server in servers.servers}
        assert socket.AF_INET in families
        hosts = [LOOPBACK] + ([LOOPBACK6] if has_ipv6() else [])
        if has_ipv6():
            assert families == {socket.AF_INET, socket.AF_INET6}
        for host in hosts:
            answer = _get(port, chall.path, host=host)
            assert body_of(answer) == resource.validation.encode("ascii"), host
    assert servers.threads == []


def test_bind_failure_raises_oserror_with_errno() -> None:
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as caught:
            standalone.HTTP01Server((LOOPBACK, port), set())
        assert caught.value.errno == errno.EADDRINUSE
        # Dual: IPv6 cannot bind an IPv4 address, IPv4 finds the port taken: the error surfaces.
        with pytest.raises(OSError) as caught:
            standalone.HTTP01DualNetworkedServers((LOOPBACK, port), set())
        assert caught.value.errno == errno.EADDRINUSE


def test_port_override_keeps_ipv6_brackets() -> None:
    assert (
        _probes._with_port("http://[::1]/.well-known/acme-challenge/x", 8080)
        == "http://[::1]:8080/.well-known/acme-challenge/x"
    )
    assert (
        _probes._with_port("http://example.com/.well-known/acme-challenge/x", 5002)
        == "http://example.com:5002/.well-known/acme-challenge/x"
    )
    assert _probes._with_port("http://example.com/x", None) == "http://example.com/x"


@pytest.mark.parametrize("port", [0, 70000, "80", True])
def test_simple_verify_rejects_bad_port(port: object) -> None:
    chall, response, _ = http01(11)
    with pytest.raises(errors.Error, match="TCP port"):
        _probes.http01_simple_verify(
            response,
            chall,
            LOOPBACK,
            ACCOUNT_KEY.public_key(),
            port=port,  # type: ignore[arg-type]
        )


def test_dns01_simple_verify_checks_the_key_authorization() -> None:
    from acme import challenges

    chall = challenges.DNS01(token=b"\x07" * 16)
    response = chall.response(ACCOUNT_KEY)
    assert _probes.dns01_simple_verify(response, chall, "example.com", ACCOUNT_KEY.public_key())
    assert not _probes.dns01_simple_verify(
        response, chall, "example.com", OTHER_ACCOUNT_KEY.public_key()
    )


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 431),  # over the 32 KiB head cap
        (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200),  # control
    ],
)
def test_malformed_heads_are_answered(request_bytes: bytes, status: int) -> None:
    with serving(standalone.HTTP01Server((LOOPBACK, 0), set())) as server:
        assert status_of(raw_http(port_of(server), request_bytes)) == status


def test_handler_works_under_a_plain_socketserver() -> None:
    # 1.x callers build their own server around partial_init().
    import socketserver
    import threading

    chall, _, resource = http01(12)
    handler = standalone.HTTP01RequestHandler.partial_init({resource}, timeout=5)
    with socketserver.TCPServer((LOOPBACK, 0), handler) as server:
        thread = threading.Thread(target=server.handle_request)
        thread.start()
        answer = _get(port_of(server), chall.path)
        thread.join(5)
    assert body_of(answer) == resource.validation.encode("ascii")
