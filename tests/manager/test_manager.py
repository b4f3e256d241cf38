"""The managers against a real CA on loopback (acme.testing), with the filesystem store."""

from __future__ import annotations

import asyncio
import datetime
import json
import shlex
import socketserver
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import b64, jwk

from acme import client, messages, standalone
from acme._core.http import HTTPRequest, HTTPResponse
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.manager import (
    AsyncManager,
    Certificate,
    Event,
    FileStore,
    HookError,
    Hooks,
    LineageError,
    Manager,
    StoreHTTP01Resources,
    StoreTLSALPN01Certs,
)
from acme.testing import ACMETestServer
from support.manager import new_client

UTC = datetime.timezone.utc


def watch_new_orders(ca: ACMETestServer) -> list[tuple[int, str | None]]:
    """From now on, ``(status, replaces)`` of every newOrder request the CA answers."""
    seen: list[tuple[int, str | None]] = []
    original = ca.core.handle

    def handle(request: HTTPRequest) -> HTTPResponse:
        response = original(request)
        if ca.core.resource_of(request.url) == "newOrder" and request.body:
            payload = json.loads(b64.b64decode(json.loads(request.body)["payload"]))
            seen.append((response.status_code, payload.get("replaces")))
        return response

    ca.core.handle = handle  # type: ignore[method-assign]
    return seen


def _orders(ca: ACMETestServer) -> list[str | None]:
    """The ``replaces`` of every order the CA received, oldest first."""
    return [order.replaces for order in ca.core.orders.values()]


def test_issue_then_check_ari_then_renew_in_the_window_with_replaces(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    events: list[Event] = []
    now = [datetime.datetime.now(UTC)]
    manager = Manager(
        FileStore(tmp_path),
        {ca.directory_url: acme_client},
        clock=lambda: now[0],
        on_event=events.append,
    )
    manager.add(Certificate("a.test", ("a.test", "www.a.test"), ca.directory_url))
    report = manager.run_once()
    assert report.issued == ["a.test"]
    assert report.ok
    record = manager.load("a.test")
    assert record is not None
    assert record.current is not None
    assert record.current.matches()
    assert acme_client.net.account is not None
    assert record.account == acme_client.net.account.uri
    # RFC 9773 section 4.3: renewal information right after issuance; the CA's Retry-After
    # (6 h) says when to ask again, and the renewal time is inside its window (2/3..5/6).
    assert record.window is not None
    assert record.renew_at is not None
    assert record.window[0] <= record.renew_at <= record.window[1]
    assert record.next_ari_check is not None
    to_next = record.next_ari_check - now[0]
    assert abs(to_next - datetime.timedelta(hours=6)) < datetime.timedelta(seconds=30)
    assert [e.kind for e in events] == ["issued"]  # a first window is no change

    assert manager.run_once() == type(report)()  # nothing is due
    first = record.current

    now[0] = record.renew_at + datetime.timedelta(seconds=1)
    events.clear()
    report = manager.run_once()
    assert report.renewed == ["a.test"]
    renewed = manager.load("a.test")
    assert renewed is not None
    assert renewed.previous == first
    assert renewed.current is not None
    assert renewed.current.serial != first.serial
    assert renewed.current.matches()
    assert _orders(ca)[-1] == first.ari_id  # the renewal said what it replaces
    kinds = [e.kind for e in events]
    assert kinds[0] == "renewed"
    assert events[0].replaced
    assert events[0].certificate == renewed.current


def test_async_manager_issues_concurrently_and_force_renews(
    ca: ACMETestServer, tmp_path: Path
) -> None:
    events: list[Event] = []

    async def scenario() -> tuple[list[str], list[str]]:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        async with AsyncClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net:
            acme = AsyncClientV2(await AsyncClientV2.get_directory(ca.directory_url, net), net)
            await acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            manager = AsyncManager(
                FileStore(tmp_path), {ca.directory_url: acme}, on_event=events.append
            )
            for i in range(8):
                manager.add(Certificate(f"n{i}.test", (f"n{i}.test",), ca.directory_url))
            issued = await manager.run_once()
            renewed = await manager.renew_due(force=True)
            assert not issued.failed
            assert not renewed.failed
            return sorted(issued.issued), sorted(renewed.renewed)

    issued, renewed = asyncio.run(scenario())
    assert issued == renewed == sorted(f"n{i}.test" for i in range(8))
    assert sum(e.kind == "renewed" and e.replaced for e in events) == 8
    assert _orders(ca).count(None) == 8  # first issuances carry no replaces
    manager = Manager(FileStore(tmp_path), {})
    for record in manager.lineages():
        assert record.current is not None
        assert record.previous is not None
        assert record.current.matches()
        assert record.previous.matches()


def test_failures_are_typed_per_lineage_and_the_run_goes_on(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    events: list[Event] = []
    manager = Manager(FileStore(tmp_path), {ca.directory_url: acme_client}, on_event=events.append)
    manager.add(Certificate("lost.test", ("lost.test",), "https://127.0.0.1:9/unknown"))
    manager.add(
        Certificate("hook.test", ("hook.test",), ca.directory_url, hooks=Hooks(pre="exit 3"))
    )
    manager.add(Certificate("good.test", ("good.test",), ca.directory_url))
    report = manager.run_once()
    assert report.issued == ["good.test"]
    assert set(report.failed) == {"lost.test", "hook.test"}
    assert isinstance(report.failed["lost.test"], LineageError)
    hook_error = report.failed["hook.test"]
    assert isinstance(hook_error, HookError)
    assert hook_error.hook == "pre"
    assert "exited 3" in str(hook_error)
    record = manager.load("hook.test")
    assert record is not None
    assert record.failures == 1
    assert record.retry_at is not None
    assert record.retry_at > datetime.datetime.now(UTC)
    assert record.current is None
    assert {e.lineage for e in events if e.kind == "failed"} == {"hook.test", "lost.test"}
    assert manager.run_once().issued == []  # backing off: not retried at once


def test_an_order_the_lineage_cannot_answer_fails_that_lineage_before_any_answer(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    """The manager takes the core's decisions: a CA offering only dns-01 to an http-01
    lineage fails the lineage, saying what the CA offers, with no challenge answered."""
    ca.core.challenge_types = ("dns-01",)
    manager = Manager(FileStore(tmp_path), {ca.directory_url: acme_client})
    manager.add(Certificate("dns-only.test", ("dns-only.test",), ca.directory_url))
    report = manager.run_once()
    assert report.issued == []
    failed = report.failed["dns-only.test"]
    assert isinstance(failed, LineageError)
    assert "offers no http-01 challenge for dns-only.test (it offers: dns-01)" in str(failed)
    assert [c.status for a in ca.core.authorizations.values() for c in a.challenges] == ["pending"]


def test_hooks_get_the_documented_environment(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    out = tmp_path / "hooks"
    out.mkdir()
    dump = (
        f"{shlex.quote(sys.executable)} -c 'import json, os, sys; "
        f'json.dump(dict(os.environ), open(sys.argv[1], "w"))\' {out}/'
    )
    hooks = Hooks(pre=dump + "pre", post=dump + "post", deploy=dump + "deploy")
    store = FileStore(tmp_path / "store")
    manager = Manager(store, {ca.directory_url: acme_client})
    manager.add(Certificate("h.test", ("h.test", "www.h.test"), ca.directory_url, hooks=hooks))
    assert manager.run_once().issued == ["h.test"]
    envs = {name: json.loads((out / name).read_text()) for name in ("pre", "post", "deploy")}
    for name, env in envs.items():
        assert env["ACME_HOOK"] == name
        assert env["ACME_LINEAGE"] == "h.test"
        assert env["ACME_NAMES"] == "h.test www.h.test"
    deploy = envs["deploy"]
    record = manager.load("h.test")
    assert record is not None
    assert record.current is not None
    assert deploy["RENEWED_DOMAINS"] == "h.test www.h.test"
    assert deploy["ACME_SERIAL"] == f"{record.current.serial:x}"
    assert Path(deploy["ACME_CHAIN_FILE"]).read_text() == record.current.chain_pem
    assert Path(deploy["ACME_KEY_FILE"]).read_bytes() == record.current.key_pem
    assert deploy["RENEWED_LINEAGE"] == str(tmp_path / "store" / "lineages" / "h.test")
    assert "ACME_KEY_FILE" not in envs["pre"]


def test_one_issuance_at_a_time_per_name(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    store = FileStore(tmp_path)
    manager = Manager(store, {ca.directory_url: acme_client}, owner="node-a")
    manager.add(Certificate("one.test", ("shared.test", "one.test"), ca.directory_url))
    other = FileStore(tmp_path)  # another manager, busy issuing for shared.test
    held = other.lock("names/shared.test", owner="node-b", ttl=60)
    report = manager.run_once()
    assert report.issued == []
    assert "node-b" in report.skipped["one.test"]
    other.unlock(held)
    assert manager.run_once().issued == ["one.test"]
    other.close()


def test_renewal_is_retried_without_replaces_when_the_ca_refuses_it(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    manager = Manager(FileStore(tmp_path), {ca.directory_url: acme_client})
    manager.add(Certificate("r.test", ("r.test",), ca.directory_url))
    manager.run_once()
    first = manager.load("r.test")
    assert first is not None
    assert first.current is not None
    assert manager.renew_due(force=True).renewed == ["r.test"]
    # A backup put the replaced certificate back: RFC 9773 alreadyReplaced (409).
    manager.save(first)
    new_orders = watch_new_orders(ca)
    report = manager.renew_due(force=True)
    assert report.renewed == ["r.test"]
    assert new_orders == [(409, first.current.ari_id), (201, None)]
    restored = manager.load("r.test")
    assert restored is not None
    assert not restored.skip_replaces

    # A certificate this CA never issued (another CA's): "replaces" is malformed here.
    with ACMETestServer(always_valid=True) as elsewhere:
        foreign_client = new_client(elsewhere)
        with foreign_client.net:
            foreign = Manager(FileStore(tmp_path / "b"), {elsewhere.directory_url: foreign_client})
            foreign.add(Certificate("r.test", ("r.test",), elsewhere.directory_url))
            foreign.run_once()
            alien = foreign.load("r.test")
    assert alien is not None
    assert alien.current is not None
    manager.save(Certificate("x.test", ("r.test",), ca.directory_url, current=alien.current))
    new_orders.clear()
    assert manager.renew_due(["x.test"], force=True).renewed == ["x.test"]
    assert new_orders == [(400, alien.current.ari_id), (201, None)]


def test_revoke_then_the_next_run_replaces_it(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    events: list[Event] = []
    manager = Manager(FileStore(tmp_path), {ca.directory_url: acme_client}, on_event=events.append)
    manager.add(Certificate("v.test", ("v.test",), ca.directory_url))
    manager.run_once()
    record = manager.load("v.test")
    assert record is not None
    assert record.current is not None
    manager.revoke("v.test", reason=4)
    assert ca.core.is_revoked(record.current.leaf)
    assert events[-1].kind == "revoked"
    assert manager.run_once().renewed == ["v.test"]
    after = manager.load("v.test")
    assert after is not None
    assert not after.revoked
    assert after.previous == record.current


@pytest.mark.parametrize("method", ["http-01", "tls-alpn-01"])
def test_any_node_serves_the_answers_published_in_the_store(
    acme_test_server_factory: Callable[..., ACMETestServer], tmp_path: Path, method: str
) -> None:
    """Manager A publishes answers in the store; a server of "node B", reading the same store,
    answers the CA's real validation requests (no always-valid shortcut)."""
    reader = FileStore(tmp_path)  # node B's view of the shared store
    server: socketserver.TCPServer
    if method == "http-01":
        server = standalone.HTTP01Server(("127.0.0.1", 0), StoreHTTP01Resources(reader))
        options = {"http_port": server.server_address[1]}
    else:
        server = standalone.TLSALPN01Server(("127.0.0.1", 0), StoreTLSALPN01Certs(reader))
        options = {"tls_port": server.server_address[1]}
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        ca = acme_test_server_factory(**options)
        acme = new_client(ca)
        with acme.net:
            manager = Manager(FileStore(tmp_path), {ca.directory_url: acme})
            manager.add(Certificate("b.test", ("b.test",), ca.directory_url, challenge=method))
            report = manager.run_once()
        assert report.issued == ["b.test"], report.failed
        assert ca.core.internal_errors == []
        assert reader.list("challenges/") == []  # cleaned up after validation
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        reader.close()


def test_a_drill_moving_the_window_into_the_past_renews_at_the_next_check(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    events: list[Event] = []
    clock = [datetime.datetime.now(UTC)]
    manager = Manager(
        FileStore(tmp_path),
        {ca.directory_url: acme_client},
        clock=lambda: clock[0],
        on_event=events.append,
    )
    for name in ("p.test", "q.test"):
        manager.add(Certificate(name, (name,), ca.directory_url))
    assert sorted(manager.run_once().issued) == ["p.test", "q.test"]
    record = manager.load("p.test")
    assert record is not None
    assert record.current is not None
    assert ca.core.move_windows_into_past(record.current.leaf) == 1
    clock[0] += datetime.timedelta(hours=7)  # the next check Retry-After (6 h) asked for
    events.clear()
    report = manager.run_once()
    assert report.renewed == ["p.test"]  # at once, weeks before its drawn time
    assert report.checked == ["q.test"]  # asked too; its window did not move
    assert [(e.kind, e.lineage) for e in events] == [
        ("window_changed", "p.test"),
        ("renewed", "p.test"),
    ]
    assert events[0].window is not None
    assert events[0].window[1] < datetime.datetime.now(UTC)
    assert events[1].replaced


def test_rate_limited_ca_is_left_alone_until_retry_after(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    from acme.manager import RateLimited
    from acme.testing import RateLimit

    manager = Manager(FileStore(tmp_path), {ca.directory_url: acme_client})
    for i in range(4):
        manager.add(Certificate(f"rl{i}.test", (f"rl{i}.test",), ca.directory_url))
    ca.core.rate_limit = RateLimit("newOrder", limit=2, retry_after=2)
    new_orders = watch_new_orders(ca)
    report = manager.run_once()
    assert sorted(report.issued) == ["rl0.test", "rl1.test"]
    limited = report.failed["rl2.test"]
    assert isinstance(limited, RateLimited)
    assert limited.ca == ca.directory_url
    assert limited.retry_at is not None
    assert limited.retry_at - datetime.datetime.now(UTC) <= datetime.timedelta(seconds=2)
    assert "rl3.test" in report.waiting  # never sent: the CA asked us to wait
    assert [status for status, _ in new_orders] == [201, 201, 429]
    assert manager.run_once().issued == []  # still inside Retry-After: nothing is sent
    assert len(new_orders) == 3
    import time

    time.sleep(2.2)
    assert sorted(manager.run_once().issued) == ["rl2.test", "rl3.test"]


def test_without_ari_renew_at_two_thirds_of_the_lifetime_without_replaces(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    """A CA whose directory has no renewalInfo: no ARI requests, no replaces, 2/3 rule."""
    fields = acme_client.net.get(ca.directory_url).json()
    fields.pop("renewalInfo")
    no_ari = client.ClientV2(messages.Directory.from_json(fields), acme_client.net)
    clock = [datetime.datetime.now(UTC)]
    store = FileStore(tmp_path)
    manager = Manager(store, {ca.directory_url: no_ari}, clock=lambda: clock[0])
    manager.add(Certificate("f.test", ("f.test",), ca.directory_url))
    new_orders = watch_new_orders(ca)
    assert manager.run_once().issued == ["f.test"]
    record = manager.load("f.test")
    assert record is not None
    assert record.current is not None
    two_thirds = (
        record.current.not_before + (record.current.not_after - record.current.not_before) * 2 / 3
    )
    assert store.due("lineages/", two_thirds - datetime.timedelta(seconds=1)) == []
    assert store.due("lineages/", two_thirds) == ["lineages/f.test"]
    assert manager.run_once() == type(manager.run_once())()  # nothing claimed, nothing done
    manager.save(record)  # saved as if the CA had ARI: due now (check it)
    assert list(manager.run_once().waiting) == ["f.test"]  # claimed, not due: rescheduled
    assert store.due("lineages/", clock[0]) == []
    clock[0] = two_thirds + datetime.timedelta(seconds=1)
    assert manager.run_once().renewed == ["f.test"]
    assert [replaces for _, replaces in new_orders] == [None, None]
    assert record.window is None


def test_a_failure_after_the_save_keeps_the_new_certificate_and_is_reported(
    ca: ACMETestServer, acme_client: client.ClientV2, tmp_path: Path
) -> None:
    marker = tmp_path / "deployed"
    hooks = Hooks(deploy=f"touch {shlex.quote(str(marker))}")

    def broken_copy(record: Certificate) -> None:
        raise OSError("disk full")

    store = FileStore(tmp_path / "store")
    manager = Manager(store, {ca.directory_url: acme_client}, on_saved=broken_copy)
    manager.add(Certificate("s.test", ("s.test",), ca.directory_url, hooks=hooks))
    report = manager.run_once()
    assert report.issued == ["s.test"]
    error = report.failed["s.test"]
    assert isinstance(error, HookError)
    assert "disk full" in str(error)
    assert not marker.exists()  # no deploy of files that were not copied
    saved = manager.load("s.test")
    assert saved is not None
    assert saved.current is not None
    assert saved.failures == 0  # the certificate itself is fine: no back-off

    failing_deploy = Manager(store, {ca.directory_url: acme_client}, hooks=Hooks(deploy="exit 4"))
    report = failing_deploy.renew_due(force=True)
    assert report.renewed == ["s.test"]
    assert "deploy hook exited 4" in str(report.failed["s.test"])
    renewed = failing_deploy.load("s.test")
    assert renewed is not None
    assert renewed.previous == saved.current
