"""PostgresStore against a real PostgreSQL server, and fleets of managers sharing it."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from josepy import jwk

from acme import client, standalone
from acme.manager import (
    Certificate,
    LeaseLost,
    LockHeld,
    Manager,
    RunReport,
    StorageError,
    StoreHTTP01Resources,
)
from acme.manager.postgresql import PostgresStore
from acme.testing import ACMETestServer
from support.manager import new_client

UTC = datetime.timezone.utc
CHILD_TIMEOUT = 60


def test_store_basics_groups_and_challenges(postgres_dsn: str) -> None:
    with PostgresStore(postgres_dsn) as store:
        store.write({"lineages/a/record.json": b"{}", "lineages/a/key.pem": b"k"},
                    private=["lineages/a/key.pem"])  # fmt: skip
        store.write({"lineages/a/key.pem": b"k2"})
        store.write({"challenges/http-01/tok": b"tok.thumb"})
        assert store.read_group("lineages/a") == {"record.json": b"{}", "key.pem": b"k2"}
        assert store.list("") == [
            "challenges/http-01/tok",
            "lineages/a/key.pem",
            "lineages/a/record.json",
        ]
        assert store.list("lineages/a_") == []  # LIKE wildcards are escaped
        assert store.read("challenges/http-01/tok") == b"tok.thumb"
        store.delete("challenges/http-01/tok")
        assert store.read("challenges/http-01/tok") is None
        store.delete("lineages/a")
        assert store.list("") == []
        with pytest.raises(StorageError):
            store.write({"a/x": b"", "b/y": b""})


def test_store_is_the_same_for_every_connection(postgres_dsn: str) -> None:
    with PostgresStore(postgres_dsn) as one, PostgresStore(postgres_dsn) as two:
        one.write({"g/k": b"v"})
        assert two.read("g/k") == b"v"


def test_leases_expire_on_the_database_clock_and_fence_stale_writers(postgres_dsn: str) -> None:
    with PostgresStore(postgres_dsn) as node_a, PostgresStore(postgres_dsn) as node_b:
        lease = node_a.lock("lineages/x", owner="node-a", ttl=0.5)
        with pytest.raises(LockHeld) as held:
            node_b.lock("lineages/x", owner="node-b", ttl=30)
        assert held.value.holder == "node-a"
        assert held.value.expires == lease.expires
        node_a.write({"lineages/x/k": b"a"}, fence=lease)
        time.sleep(0.6)  # node A stalls past its lease
        with pytest.raises(LeaseLost):
            node_a.write({"lineages/x/k": b"stale"}, fence=lease)
        taken = node_b.lock("lineages/x", owner="node-b", ttl=30)
        assert taken.token > lease.token
        with pytest.raises(LeaseLost):
            node_a.renew(lease, 30)
        node_a.unlock(lease)  # too late: does not release node B's lease
        with pytest.raises(LockHeld):
            node_a.lock("lineages/x", owner="node-a", ttl=30)
        node_b.write({"lineages/x/k": b"b"}, fence=node_b.renew(taken, 30))
        assert node_a.read("lineages/x/k") == b"b"


def test_concurrent_claims_get_disjoint_lineages(postgres_dsn: str) -> None:
    now = datetime.datetime.now(UTC)
    with PostgresStore(postgres_dsn) as setup:
        for i in range(200):
            setup.write({f"lineages/l{i}/r": b""}, due=now - datetime.timedelta(seconds=i))
        setup.write({"lineages/later/r": b""}, due=now + datetime.timedelta(hours=1))
    claims: dict[int, list[str]] = {}

    def claimer(index: int) -> None:
        with PostgresStore(postgres_dsn) as store:
            got: list[str] = []
            while batch := store.claim_due("lineages/", now, owner=f"c{index}", ttl=60, limit=7):
                got += [group for group, _ in batch]
            claims[index] = got

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [group for got in claims.values() for group in got]
    assert len(claims) == 4
    assert sorted(everything) == sorted(f"lineages/l{i}" for i in range(200))  # once each


def _shared_account_clients(ca: ACMETestServer, count: int) -> list[client.ClientV2]:
    """``count`` clients (one per node) signing for one account, as a fleet shares it."""
    first = new_client(ca)
    clients = [first]
    for _ in range(count - 1):
        net = client.ClientNetwork(first.net.key, verify_ssl=ca.ca_bundle_path)
        net.account = first.net.account
        clients.append(client.ClientV2(first.directory, net))
    return clients


def test_two_managers_on_one_database_never_issue_the_same_lineage_twice(
    ca: ACMETestServer, postgres_dsn: str
) -> None:
    lineages = 40
    clients = _shared_account_clients(ca, 2)
    stores = [PostgresStore(postgres_dsn) for _ in clients]
    clock = [datetime.datetime.now(UTC)]
    managers = [
        Manager(store, {ca.directory_url: acme}, owner=f"node-{n}", clock=lambda: clock[0])
        for n, (store, acme) in enumerate(zip(stores, clients, strict=True))
    ]
    for i in range(lineages):
        managers[0].add(Certificate(f"l{i}.test", (f"l{i}.test",), ca.directory_url))

    def both_run() -> list[RunReport]:
        reports: list[RunReport] = [RunReport(), RunReport()]

        def run(n: int) -> None:
            reports[n] = managers[n].run_once()

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        return reports

    try:
        first = both_run()
        # A drill moves every window into the past; the next ARI check (Retry-After: 6 h)
        # finds out. The clocks stay close to the CA's: a renewed certificate's new window is
        # weeks away, so nothing is due twice.
        assert ca.core.move_windows_into_past() == lineages
        clock[0] += datetime.timedelta(hours=7)
        second = both_run()
    finally:
        for store, acme in zip(stores, clients, strict=True):
            store.close()
            acme.net.close()
    for reports, field in ((first, "issued"), (second, "renewed")):
        done = [getattr(report, field) for report in reports]
        assert not (set(done[0]) & set(done[1])), "a lineage was worked on by both"
        assert sorted(done[0] + done[1]) == sorted(f"l{i}.test" for i in range(lineages))
        assert all(report.ok for report in reports)
    # The CA's view: exactly two certificates per name, the second replacing the first.
    per_name = Counter(
        names[0][1] for names in (c.identifiers for c in ca.core.certificates.values())
    )
    assert per_name == {f"l{i}.test": 2 for i in range(lineages)}


_DOOMED = """
import sys, time
from acme import client
from acme.manager import Manager, Solver
from acme.manager.postgresql import PostgresStore
from josepy import jwk
from cryptography.hazmat.primitives import serialization

dsn, directory, bundle, key_file, account_url = sys.argv[1:6]
key = jwk.JWKEC(key=serialization.load_pem_private_key(open(key_file, "rb").read(), None))
net = client.ClientNetwork(key, verify_ssl=bundle)
acme = client.ClientV2(client.ClientV2.get_directory(directory, net), net)
acme.net.account = acme.query_registration(
    __import__("acme.messages").messages.RegistrationResource(
        body=__import__("acme.messages").messages.Registration(), uri=account_url))

class Stuck(Solver):
    def present(self, answer):
        print("renewing", flush=True)
        time.sleep(120)
    def cleanup(self, answer):
        pass

manager = Manager(PostgresStore(dsn), {directory: acme}, solver=Stuck(), owner="doomed",
                  lease_ttl=3)
manager.renew_due(force=True)
"""


def test_a_manager_killed_mid_renewal_loses_its_lease_and_another_finishes(
    ca: ACMETestServer, postgres_dsn: str, tmp_path: Path
) -> None:
    (acme,) = _shared_account_clients(ca, 1)
    from cryptography.hazmat.primitives import serialization

    assert isinstance(acme.net.key, jwk.JWKEC)
    key_file = tmp_path / "account.key"
    key_file.write_bytes(
        acme.net.key.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # The CA must not reuse the first validation, or the doomed renewal never needs a challenge.
    ca.core.reuse_authorizations = False
    with PostgresStore(postgres_dsn) as store:
        survivor = Manager(store, {ca.directory_url: acme}, owner="survivor", lease_ttl=30)
        survivor.add(Certificate("k.test", ("k.test",), ca.directory_url))
        assert survivor.run_once().issued == ["k.test"]
        before = survivor.load("k.test")
        assert before is not None
        assert before.current is not None

        script = tmp_path / "doomed.py"
        script.write_text(textwrap.dedent(_DOOMED))
        assert acme.net.account is not None
        child = subprocess.Popen(
            [sys.executable, str(script), postgres_dsn, ca.directory_url, ca.ca_bundle_path,
             str(key_file), acme.net.account.uri],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        line = child.stdout.readline()  # bounded: the child prints or dies within the sleep
        assert line.strip() == "renewing", line
        rows = store._query("SELECT owner, token FROM acme_leases WHERE name = 'lineages/k.test'")
        assert [row[0] for row in rows] == ["doomed"]
        doomed_token = rows[0][1]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(CHILD_TIMEOUT)
        child.stdout.close()

        report = survivor.renew_due(force=True)  # the dead manager's lease has not expired
        assert report.renewed == []
        assert "doomed" in report.skipped["k.test"]
        deadline = time.monotonic() + 30
        while not report.renewed and time.monotonic() < deadline:
            time.sleep(0.5)
            report = survivor.renew_due(force=True)
        assert report.renewed == ["k.test"]
        after = survivor.load("k.test")
        assert after is not None
        assert after.current is not None
        assert after.current.matches()
        assert after.previous == before.current
        from acme.manager import Lease

        dead = Lease("lineages/k.test", "doomed", doomed_token, datetime.datetime.now(UTC))
        with pytest.raises(LeaseLost):  # had the doomed one woken up, it could not write
            store.write({"lineages/k.test/record.json": b"{}"}, fence=dead)
    acme.net.close()


def test_the_node_the_ca_reaches_answers_for_another(
    acme_test_server_factory: Callable[..., ACMETestServer], postgres_dsn: str
) -> None:
    """Node A runs the manager; node B only serves http-01 answers read from the database;
    the CA validates for real against node B."""
    with PostgresStore(postgres_dsn) as node_b_store:
        server = standalone.HTTP01Server(("127.0.0.1", 0), StoreHTTP01Resources(node_b_store))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            ca = acme_test_server_factory(http_port=server.server_address[1])
            acme = new_client(ca)
            with acme.net, PostgresStore(postgres_dsn) as node_a_store:
                manager = Manager(node_a_store, {ca.directory_url: acme})
                manager.add(Certificate("fleet.test", ("fleet.test",), ca.directory_url))
                report = manager.run_once()
            assert report.issued == ["fleet.test"], report.failed
            assert node_b_store.list("challenges/") == []
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
