"""1,000 lineages on one PostgreSQL, issued, scheduled and renewed by two managers at once.

The CA (acme.testing, always-valid) runs in a process of its own (`ca_process.py`), as a CA
would. Two `AsyncManager` "nodes" share the database and one account. After issuance nothing
is due; then the CA runs a revocation drill (every window moved into the past) and, at the next
renewal-information check, the fleet renews all 1,000 with ``replaces``, each exactly once.
The renewal phase's wall time and count are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.manager import AsyncManager, Certificate, RunReport
from acme.manager.postgresql import PostgresStore

LINEAGES = 1000
UTC = datetime.timezone.utc
CA_TIMEOUT = 30


class _CA:
    def __init__(self) -> None:
        script = Path(__file__).with_name("ca_process.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.directory_url, self.ca_bundle_path = self._line().split()

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the CA process died"
        return line

    def ask(self, command: str) -> list[int]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return [int(word) for word in self._line().split()]

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(CA_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process.stdout.close()


async def _fleet(ca: _CA, dsn: str, clock: list[datetime.datetime]) -> dict[str, object]:
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    stores = [PostgresStore(dsn), PostgresStore(dsn)]
    async with (
        AsyncClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net_a,
        AsyncClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net_b,
    ):
        directory = await AsyncClientV2.get_directory(ca.directory_url, net_a)
        node_a = AsyncClientV2(directory, net_a)
        await node_a.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        net_b.account = net_a.account
        node_b = AsyncClientV2(directory, net_b)
        managers = [
            AsyncManager(store, {ca.directory_url: acme}, owner=owner, clock=lambda: clock[0],
                         concurrency=16)
            for store, acme, owner in ((stores[0], node_a, "node-a"), (stores[1], node_b, "node-b"))
        ]  # fmt: skip

        def add_all() -> None:
            for i in range(LINEAGES):
                lineage = Certificate(f"n{i}.test", (f"n{i}.test",), ca.directory_url)
                managers[i % 2].add(lineage)

        began = time.monotonic()
        await asyncio.to_thread(add_all)
        add_seconds = time.monotonic() - began

        async def both() -> list[RunReport]:
            return list(await asyncio.gather(*(m.run_once() for m in managers)))

        began = time.monotonic()
        issued = await both()
        issue_seconds = time.monotonic() - began
        nothing_due = await both()
        assert ca.ask("drill") == [LINEAGES]
        clock[0] += datetime.timedelta(hours=7)  # the next ARI check (Retry-After: 6 h)
        began = time.monotonic()
        renewed = await both()
        renew_seconds = time.monotonic() - began
        records = await asyncio.to_thread(managers[0].lineages)
    for store in stores:
        store.close()
    return {
        "issued": issued, "nothing_due": nothing_due, "renewed": renewed, "records": records,
        "issue_seconds": issue_seconds, "renew_seconds": renew_seconds,
        "add_seconds": add_seconds,
    }  # fmt: skip


def test_a_thousand_lineages_scheduled_and_renewed_by_a_two_node_fleet(
    postgres_dsn: str,
) -> None:
    ca = _CA()
    try:
        clock = [datetime.datetime.now(UTC)]
        result = asyncio.run(_fleet(ca, postgres_dsn, clock))
        certificates, replacing, internal = ca.ask("stats")
    finally:
        ca.close()
    everyone = sorted(f"n{i}.test" for i in range(LINEAGES))
    issued, nothing_due, renewed = (result[k] for k in ("issued", "nothing_due", "renewed"))
    assert isinstance(issued, list)
    assert isinstance(renewed, list)
    assert isinstance(nothing_due, list)
    assert all(report.ok for report in issued + renewed), [r.failed for r in issued + renewed]
    assert sorted(issued[0].issued + issued[1].issued) == everyone
    assert not set(issued[0].issued) & set(issued[1].issued)
    assert nothing_due == [RunReport(), RunReport()]  # scheduled: nothing due until the drill
    renewed_ids = renewed[0].renewed + renewed[1].renewed
    assert sorted(renewed_ids) == everyone  # each exactly once, across both nodes
    # How the work splits between the nodes depends on scheduling (one node may claim it all
    # on a busy machine); that no lineage is renewed twice is what the fleet guarantees.
    assert (certificates, replacing, internal) == (2 * LINEAGES, LINEAGES, 0)
    records = result["records"]
    assert isinstance(records, list)
    assert len(records) == LINEAGES
    for record in records:
        assert record.current is not None
        assert record.previous is not None
        assert record.current.serial != record.previous.serial
        assert record.current.matches()
    print(
        f"\nfleet: {LINEAGES} lineages recorded in {result['add_seconds']:.1f} s, "
        f"issued in {result['issue_seconds']:.1f} s; "
        f"renewed {len(renewed_ids)} in {result['renew_seconds']:.1f} s "
        f"(node-a {len(renewed[0].renewed)}, node-b {len(renewed[1].renewed)})"
    )
