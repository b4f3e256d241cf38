"""acme.dns.PropagationChecker against two real authoritative servers on loopback.

ns1.example.test answers on 127.0.0.1 and ns2.example.test on 127.0.0.2 (same port); the
checker finds them through the zone's own NS and A records, and queries each directly.
"""

from __future__ import annotations

import threading
import time

import pytest

from acme import errors
from acme.dns import (
    DNSError,
    NameServer,
    Progress,
    PropagationChecker,
    PropagationTimeout,
    TXTCheck,
    TXTRecord,
)
from support.dns_servers import AuthoritativeServer, free_port, zone_text

Servers = tuple[AuthoritativeServer, AuthoritativeServer]
NAME = "_acme-challenge.www.example.test"


def _checker(servers: Servers, **options: float) -> PropagationChecker:
    port = servers[0].port
    return PropagationChecker(resolver=[("127.0.0.1", port)], port=port, **options)  # type: ignore[arg-type]


def test_finds_both_authoritative_servers(two_servers: Servers) -> None:
    found = _checker(two_servers).authoritative_servers(NAME)
    port = two_servers[0].port
    assert found == [
        NameServer("ns1.example.test", ("127.0.0.1", port)),
        NameServer("ns2.example.test", ("127.0.0.2", port)),
    ]


def test_waits_for_a_record_that_appears_late_on_one_server(two_servers: Servers) -> None:
    first, second = two_servers
    record = TXTRecord(NAME, "late-value")
    first.set_txt(NAME, "late-value")
    second.set_txt(NAME, "stale-value")
    delay = 1.0
    timer = threading.Timer(delay, second.set_txt, (NAME, "stale-value", "late-value"))
    seen: list[Progress] = []
    began = time.monotonic()
    timer.start()
    try:
        _checker(two_servers, interval=0.1).wait([record], timeout=10, progress=seen.append)
    finally:
        timer.cancel()
    took = time.monotonic() - began
    assert delay <= took < 5  # it waited for ns2, and no longer than needed
    ns1 = [p for p in seen if p.server.name == "ns1.example.test"]
    ns2 = [p for p in seen if p.server.name == "ns2.example.test"]
    assert [p.seen for p in ns1] == [True]  # asked once: it had the record at once
    assert ns2[-1].seen
    assert ns2[-1].pending == 0
    assert len(ns2) >= 2
    assert all(not p.seen for p in ns2[:-1])
    assert "stale-value" in ns2[0].detail  # progress says what the server served
    # Both servers were asked directly, over UDP, about the record.
    for server in (first, second):
        assert (NAME + ".", "TXT", False) in server.queries


def test_times_out_naming_the_server_that_lacks_the_record(two_servers: Servers) -> None:
    first, _ = two_servers
    first.set_txt(NAME, "only-on-ns1")
    began = time.monotonic()
    with pytest.raises(PropagationTimeout) as timed_out:
        _checker(two_servers, interval=0.2).wait([TXTRecord(NAME, "only-on-ns1")], timeout=1.5)
    assert 1.5 <= time.monotonic() - began < 5
    assert isinstance(timed_out.value, errors.TimeoutError)
    ((record, server, last),) = timed_out.value.waiting
    assert server.startswith("ns2.example.test (127.0.0.2:")
    assert last == "serves no TXT record"
    assert "only-on-ns1" in record


def test_all_records_of_an_order_are_checked_in_parallel(two_servers: Servers) -> None:
    first, second = two_servers
    records = [TXTRecord(f"_acme-challenge.n{i}.example.test", f"value-{i}") for i in range(6)]
    for server in (first, second):
        for record in records:
            server.set_txt(record.name, record.value)
    seen: list[Progress] = []
    _checker(two_servers).wait(records, timeout=10, progress=seen.append)
    assert len(seen) == 12  # one answer per (record, server) pair, all in the first round
    assert all(p.seen for p in seen)
    assert sorted(p.pending for p in seen) == list(range(12))


def test_long_value_is_joined_and_tcp_is_used_when_truncated(two_servers: Servers) -> None:
    first, second = two_servers
    long_value = "v" * 300 + "w" * 300  # three character-strings in one record
    values = [f"{long_value}{i}" for i in range(2)]  # too big for 512-byte UDP
    for server in (first, second):
        server.set_txt(NAME, *values)
    _checker(two_servers).wait([TXTRecord(NAME, values[1])], timeout=10)
    assert (NAME + ".", "TXT", True) in first.queries  # retried over TCP


def test_follows_a_cname_to_the_delegated_zone(two_servers: Servers) -> None:
    target = "_acme-challenge.www.delegated.test"
    for server in two_servers:
        server.set_cname(NAME, target + ".")
        server.set_txt(target, "delegated-value")
    _checker(two_servers).wait([TXTRecord(NAME, "delegated-value")], timeout=10)
    for server in two_servers:
        assert (target + ".", "TXT", False) in server.queries


def test_read_only_check_with_a_predicate(two_servers: Servers) -> None:
    for server in two_servers:
        server.set_txt(NAME, "ca.example; accounturi=x", "other")
    check = TXTCheck(NAME, lambda values: any(v.startswith("ca.example;") for v in values), "ca")
    _checker(two_servers).wait([check], timeout=5)
    with pytest.raises(PropagationTimeout, match=r"\(nothing\)"):
        _checker(two_servers).wait([TXTCheck(NAME, lambda v: False, "nothing")], timeout=0.5)


def test_unreachable_resolver_is_a_dns_error_within_the_deadline(two_servers: Servers) -> None:
    port = two_servers[0].port
    # 127.0.0.3 runs no server: nothing answers, and the deadline bounds the wait.
    checker = PropagationChecker(resolver=[("127.0.0.3", port)], port=port, query_timeout=0.3)
    began = time.monotonic()
    with pytest.raises(DNSError, match="cannot"):
        checker.wait([TXTRecord(NAME, "x")], timeout=1.0)
    assert time.monotonic() - began < 3


def test_a_server_that_is_not_authoritative_does_not_count(two_servers: Servers) -> None:
    for server in two_servers:
        server.set_txt(NAME, "value")
    port = two_servers[0].port
    # ns2's address is overridden to a server for another zone only: it answers REFUSED.
    stranger = AuthoritativeServer(
        "127.0.0.1",
        free_port("127.0.0.1"),
        {"other.test": zone_text("other.test", {"ns1": "127.0.0.1"})},
    )
    try:
        checker = PropagationChecker(
            resolver=[("127.0.0.1", port)],
            port=port,
            nameservers={"ns2.example.test": [("127.0.0.1", stranger.port)]},
            interval=0.1,
        )
        with pytest.raises(PropagationTimeout) as timed_out:
            checker.wait([TXTRecord(NAME, "value")], timeout=1.0)
    finally:
        stranger.close()
    ((_, where, last),) = timed_out.value.waiting
    assert where == f"ns2.example.test (127.0.0.1:{stranger.port})"
    assert last == "answered REFUSED"
    assert (NAME + ".", "TXT", False) in stranger.queries


def test_given_servers_are_asked_without_discovery(two_servers: Servers) -> None:
    """``servers=`` skips the zone walk: no resolver is needed, and only those are asked."""
    first, second = two_servers
    first.set_txt(NAME, "given")
    port = first.port
    seen: list[Progress] = []
    # No resolver at all: the closed port 1 would fail any discovery query.
    checker = PropagationChecker(resolver=[("127.0.0.1", 1)], servers=[("127.0.0.1", port)])
    checker.wait([TXTRecord(NAME, "given")], timeout=10, progress=seen.append)
    assert [(str(p.server), p.seen) for p in seen] == [(f"127.0.0.1:{port}", True)]
    assert second.queries == []  # ns2 was never asked: it was not given
    assert [q[:2] for q in first.queries] == [(NAME + ".", "TXT")]  # no SOA, NS or A query
    # A given server that lacks the record is waited for, and named in the timeout.
    with pytest.raises(PropagationTimeout, match=rf"127\.0\.0\.2:{port}: serves no TXT record"):
        PropagationChecker(servers=[("127.0.0.2", port)], interval=0.1).wait(
            [TXTRecord(NAME, "given")], timeout=0.6
        )
