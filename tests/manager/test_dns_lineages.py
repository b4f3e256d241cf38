"""Lineages validated through DNS: dns-01, dns-account-01 and dns-persist-01, for real.

The CA (acme.testing, real validation) reads the TXT records a `Solver` publishes into its
record store. The manager presents every answer of an order, then calls ``ready`` once with
all of them (where a solver waits for DNS propagation), then answers; dns-persist-01 has
nothing to present: its record is published once, before any order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.manager import AsyncManager, Certificate, ChallengeAnswer, FileStore, Manager, Solver
from acme.testing import ACMETestServer
from support.manager import new_client


class CASolver(Solver):
    """Publishes TXT records into the CA's store and logs every call."""

    def __init__(self, ca: ACMETestServer) -> None:
        self.ca = ca
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.answered_before_ready: list[int] = []

    def present(self, answer: ChallengeAnswer) -> None:
        self.calls.append(("present", (answer.kind, answer.record_name)))
        self.ca.add_txt(answer.record_name, answer.value)

    def ready(self, answers: Sequence[ChallengeAnswer]) -> None:
        self.calls.append(("ready", tuple(answer.record_name for answer in answers)))
        # Called before any challenge is answered: every challenge the CA issued is pending.
        answered = [
            challenge.status
            for authz in self.ca.core.authorizations.values()
            for challenge in authz.challenges
            if challenge.status != "pending"
        ]
        self.answered_before_ready.append(len(answered))

    def cleanup(self, answer: ChallengeAnswer) -> None:
        self.calls.append(("cleanup", (answer.kind, answer.record_name)))
        self.ca.dns.remove_txt(answer.record_name, answer.value)


@pytest.fixture
def real_ca(acme_test_server_factory: Callable[..., ACMETestServer]) -> ACMETestServer:
    return acme_test_server_factory(always_valid=False, reuse_authorizations=False)


@pytest.fixture
def acme(real_ca: ACMETestServer) -> Iterator[client.ClientV2]:
    acme = new_client(real_ca)
    yield acme
    acme.net.close()


def _account_url(acme: client.ClientV2) -> str:
    assert acme.net.account is not None
    return str(acme.net.account.uri)


def test_dns01_and_dns_account01_present_then_ready_once_then_cleanup(
    real_ca: ACMETestServer, acme: client.ClientV2, tmp_path: Path
) -> None:
    solver = CASolver(real_ca)
    manager = Manager(FileStore(tmp_path), {real_ca.directory_url: acme}, solver=solver)
    names = ("*.d.test", "d.test")
    manager.add(Certificate("d", names, real_ca.directory_url, challenge="dns-01"))
    manager.add(Certificate("a", names, real_ca.directory_url, challenge="dns-account-01"))
    report = manager.run_once()
    assert sorted(report.issued) == ["a", "d"], report
    label = challenges.DNSAccount01.account_label(_account_url(acme))
    expected = {
        "d": ("dns-01", "_acme-challenge.d.test"),
        "a": ("dns-account-01", f"{label}._acme-challenge.d.test"),
    }
    # One order per lineage, in turn: two presents, one ready with both, two cleanups.
    for start in (0, 5):
        kind, name = solver.calls[start][1]
        assert (kind, name) in expected.values()
        assert solver.calls[start : start + 5] == [
            ("present", (kind, name)),
            ("present", (kind, name)),
            ("ready", (name, name)),
            ("cleanup", (kind, name)),
            ("cleanup", (kind, name)),
        ]
    assert len(solver.calls) == 10
    # No challenge of the first order was answered before its ready; the second order's
    # ready saw only the first order's two challenges answered.
    assert solver.answered_before_ready == [0, 2]
    assert real_ca.dns.txt(expected["a"][1]) == []


def test_dns_persist01_lineage_presents_nothing_and_renews_from_the_one_record(
    real_ca: ACMETestServer, acme: client.ClientV2, tmp_path: Path
) -> None:
    meta = acme.directory.meta.to_partial_json()
    template = challenges.DNSPersist01(issuer_domain_names=tuple(meta["issuerDomainNames"]))
    key = acme.net.key
    assert key is not None
    record = template.record(
        key,
        account_url=_account_url(acme),
        account_hash_prefix=meta["accountHashPrefix"],
        domain="p.test",
        wildcard=True,
    )
    real_ca.add_txt("_validation-persist.p.test", record.to_text())
    solver = CASolver(real_ca)
    manager = Manager(FileStore(tmp_path), {real_ca.directory_url: acme}, solver=solver)
    names = ("*.p.test", "p.test")
    manager.add(Certificate("p", names, real_ca.directory_url, challenge="dns-persist-01"))
    assert manager.run_once().issued == ["p"]
    assert manager.renew_due(force=True).renewed == ["p"]
    assert solver.calls == []  # never published nor removed anything
    assert real_ca.dns.txt("_validation-persist.p.test") == [record.to_text()]


def test_async_manager_calls_ready_with_the_order_answers(
    real_ca: ACMETestServer, tmp_path: Path
) -> None:
    solver = CASolver(real_ca)

    async def scenario() -> list[str]:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        async with AsyncClientNetwork(key, verify_ssl=real_ca.ca_bundle_path) as net:
            directory = await AsyncClientV2.get_directory(real_ca.directory_url, net)
            acme = AsyncClientV2(directory, net)
            await acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            manager = AsyncManager(
                FileStore(tmp_path), {real_ca.directory_url: acme}, solver=solver
            )
            manager.add(Certificate("x", ("x.test",), real_ca.directory_url, challenge="dns-01"))
            return list((await manager.run_once()).issued)

    assert asyncio.run(scenario()) == ["x"]
    assert [call[0] for call in solver.calls] == ["present", "ready", "cleanup"]
