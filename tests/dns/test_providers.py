"""acme.dns providers: the hook command, the dns-lexicon adapter, and DNSChallenges.

The lexicon adapter is tested with lexicon's own offline provider (``localzone``, which edits
a zone file) and with a small provider class registered here, which records the calls the
adapter makes through lexicon's provider interface.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dns.name
import dns.rdatatype
import dns.zone
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk
from lexicon.interfaces import Provider as LexiconBase

from acme import challenges, errors
from acme.dns import (
    DNSChallenges,
    DNSError,
    DNSProvider,
    HookProvider,
    LexiconProvider,
    Progress,
    PropagationChecker,
    PropagationTimeout,
    TXTRecord,
    challenge_record,
    persist_check,
    split_txt,
)
from support.dns_servers import AuthoritativeServer, zone_text

Servers = tuple[AuthoritativeServer, AuthoritativeServer]

# A hook that appends "<action> <name> <value>" to the file named by its first argument,
# and fails with a message for names starting with "fail".
HOOK = """
import sys
log, action, name, value = sys.argv[1:]
if name.startswith("fail"):
    print("step 1 ok")
    print("provider said: no such zone", file=sys.stderr)
    sys.exit(3)
with open(log, "a") as handle:
    handle.write(f"{action} {name} {value}\\n")
"""


def test_provider_interface_works_without_dnspython() -> None:
    # Only PropagationChecker and RFC2136Provider need dnspython (the "dns" extra).
    code = (
        "import sys; sys.modules['dns'] = None\n"
        "import acme.dns, acme.cli\n"
        "assert acme.dns.HookProvider and acme.dns.DNSChallenges\n"
        "from acme import errors\n"
        "for name in ('PropagationChecker', 'RFC2136Provider'):\n"
        "    try:\n"
        "        getattr(acme.dns, name)\n"
        "    except errors.DependencyError as error:\n"
        "        print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "acme.dns.PropagationChecker needs dnspython: pip install 'acme[dns]'",
        "acme.dns.RFC2136Provider needs dnspython: pip install 'acme[dns]'",
    ]


def test_split_txt_respects_the_255_octet_strings() -> None:
    assert split_txt("short") == [b"short"]
    assert split_txt("a" * 255) == [b"a" * 255]
    assert split_txt("a" * 256) == [b"a" * 255, b"a"]
    assert split_txt("") == [b""]


# -- HookProvider ------------------------------------------------------------------------


def test_hook_provider_runs_present_and_cleanup(tmp_path: Path) -> None:
    script, log = tmp_path / "hook.py", tmp_path / "calls.log"
    script.write_text(HOOK)
    provider = HookProvider(f"{sys.executable} {script} {log}")
    provider.publish("_acme-challenge.a.test", "v1")
    provider.cleanup("_acme-challenge.a.test", "v1")
    assert log.read_text().splitlines() == [
        "present _acme-challenge.a.test v1",
        "cleanup _acme-challenge.a.test v1",
    ]
    with pytest.raises(DNSError, match="exited with status 3: provider said: no such zone"):
        provider.publish("fail.test", "v")


def test_hook_provider_errors(tmp_path: Path) -> None:
    with pytest.raises(DNSError, match="needs a command"):
        HookProvider("")
    with pytest.raises(DNSError, match="cannot parse"):
        HookProvider("'unclosed")
    with pytest.raises(DNSError, match="cannot run dns hook"):
        HookProvider(str(tmp_path / "missing")).publish("a.test", "v")
    slow = HookProvider([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    began = time.monotonic()
    with pytest.raises(DNSError, match=r"did not finish in 0\.5s"):
        slow.publish("a.test", "v")
    assert time.monotonic() - began < 10


# -- DNSChallenges: one order's records, in parallel ------------------------------------------


class ServerProvider(DNSProvider):
    """Publishes into the two loopback servers: at once on ns1, ``lag`` seconds later on
    ns2 (a provider whose secondary updates late); counts concurrent publishes."""

    def __init__(self, servers: Servers, lag: float) -> None:
        self.servers, self.lag = servers, lag
        self.records: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.active = self.most_active = 0
        self.timers: list[threading.Timer] = []

    def _apply(self, name: str, server: AuthoritativeServer) -> None:
        with self.lock:
            server.set_txt(name, *self.records.get(name, []))

    def publish(self, name: str, value: str) -> None:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self.records.setdefault(name, []).append(value)
        time.sleep(0.2)  # an API call's latency
        self._apply(name, self.servers[0])
        timer = threading.Timer(self.lag, self._apply, (name, self.servers[1]))
        self.timers.append(timer)
        timer.start()
        with self.lock:
            self.active -= 1

    def cleanup(self, name: str, value: str) -> None:
        with self.lock:
            self.records[name].remove(value)
        for server in self.servers:
            self._apply(name, server)


def test_dns_challenges_publish_wait_and_clean_up(two_servers: Servers) -> None:
    provider = ServerProvider(two_servers, lag=0.8)
    port = two_servers[0].port
    checker = PropagationChecker(resolver=[("127.0.0.1", port)], port=port, interval=0.1)
    records = [TXTRecord(f"_acme-challenge.h{i}.example.test", f"v{i}") for i in range(5)]
    records.append(TXTRecord("_acme-challenge.h0.example.test", "wildcard-value"))
    seen: list[Progress] = []
    began = time.monotonic()
    with DNSChallenges(provider, checker, timeout=10, progress=seen.append) as session:
        session.publish(records)
        took = time.monotonic() - began
        for server in two_servers:
            assert set(server.zones[dns.name.from_text("example.test")].nodes) >= {
                dns.name.from_text(r.name) for r in records
            }
    for timer in provider.timers:
        timer.join()
    # Published in parallel (6 calls of 0.2 s in well under 6 * 0.2 s), then waited for ns2.
    assert provider.most_active > 1
    assert 0.8 <= took < 1.2 + 0.8 + 2
    assert {p.server.name for p in seen if p.seen} == {"ns1.example.test", "ns2.example.test"}
    # Cleaned up on exit: no TXT value left anywhere.
    assert provider.records == {r.name: [] for r in records}
    for server in two_servers:
        zone = server.zones[dns.name.from_text("example.test")]
        for record in records:
            assert zone.get_rdataset(record.name + ".", dns.rdatatype.TXT) is None


def test_dns_challenges_cleans_up_after_a_timeout(two_servers: Servers) -> None:
    provider = ServerProvider(two_servers, lag=60)
    port = two_servers[0].port
    checker = PropagationChecker(resolver=[("127.0.0.1", port)], port=port, interval=0.1)
    record = TXTRecord("_acme-challenge.t.example.test", "v")
    with pytest.raises(PropagationTimeout), DNSChallenges(provider, checker, timeout=1) as session:
        session.publish([record])
    for timer in provider.timers:
        timer.cancel()
    assert provider.records == {record.name: []}


def test_dns_challenges_reports_publish_failures_and_cleans_up(tmp_path: Path) -> None:
    script, log = tmp_path / "hook.py", tmp_path / "calls.log"
    script.write_text(HOOK)
    provider = HookProvider([sys.executable, str(script), str(log)])
    with pytest.raises(DNSError, match="status 3"), DNSChallenges(provider) as session:
        session.publish([TXTRecord("ok.test", "1"), TXTRecord("fail.test", "2")])
    lines = log.read_text().splitlines()
    assert "present ok.test 1" in lines
    assert "cleanup ok.test 1" in lines  # what was published is removed
    assert session.cleanup_errors  # removing fail.test failed too, and was kept, not raised


def test_challenge_records_and_persist_check() -> None:
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    token = b"t" * 32
    dns01 = challenges.DNS01(token=token)
    assert challenge_record(dns01, "*.a.test", key) == TXTRecord(
        "_acme-challenge.a.test", dns01.validation(key)
    )
    account = challenges.DNSAccount01(token=token)
    url = "https://ca.test/acct/1"
    assert challenge_record(account, "a.test", key, url).name == (
        f"{challenges.DNSAccount01.account_label(url)}._acme-challenge.a.test"
    )
    with pytest.raises(errors.Error, match="account URL"):
        challenge_record(account, "a.test", key)
    persist = challenges.DNSPersist01(issuer_domain_names=("ca.test",))
    with pytest.raises(errors.Error, match="not a challenge answered by publishing"):
        challenge_record(persist, "a.test", key)
    common: dict[str, Any] = {"account_url": url, "account_hash_prefix": "https://ca.test/h/"}
    check = persist_check(persist, "a.test", account_keys=[key], **common)
    assert check.name == "_validation-persist.a.test"
    good = persist.validation(key, domain="a.test", **common)
    assert check.accepts(["unrelated", good])
    assert not check.accepts([good.replace("ca.test", "other.test")])
    wildcard = persist_check(persist, "a.test", account_keys=[key], wildcard=True, **common)
    assert not wildcard.accepts([good])


# -- LexiconProvider ---------------------------------------------------------------------


def test_lexicon_localzone_provider_edits_the_zone_file(tmp_path: Path) -> None:
    zone_file = tmp_path / "example.test.zone"
    zone_file.write_text(zone_text("example.test", {"ns1": "127.0.0.1"}))
    provider = LexiconProvider(
        "localzone", zone="example.test", options={"filename": str(zone_file)}, ttl=120
    )

    def txt() -> list[str]:
        zone = dns.zone.from_file(str(zone_file), "example.test", relativize=False)
        found = zone.get_rdataset("_acme-challenge.www.example.test.", dns.rdatatype.TXT)
        return sorted(b"".join(r.strings).decode() for r in found or [])

    provider.publish("_acme-challenge.www.example.test", "first")
    provider.publish("_acme-challenge.www.example.test", "second")
    assert txt() == ["first", "second"]
    provider.cleanup("_acme-challenge.www.example.test", "first")
    assert txt() == ["second"]


class RecordingProvider(LexiconBase):
    """A lexicon provider that keeps what it is asked to do (one list per class)."""

    calls: list[tuple[Any, ...]] = []

    @staticmethod
    def get_nameservers() -> list[str]:
        return []

    @staticmethod
    def configure_parser(parser: Any) -> None:
        parser.add_argument("--auth-token")

    def authenticate(self) -> None:
        token = self._get_provider_option("auth_token")
        if token != "secret":
            raise RuntimeError(f"bad token {token!r}")
        self.calls.append(("authenticate", self.domain, self._get_lexicon_option("ttl")))

    def cleanup(self) -> None:
        self.calls.append(("cleanup",))

    def create_record(self, rtype: str, name: str, content: str) -> bool:
        self.calls.append(("create", rtype, name, content))
        return True

    def list_records(self, rtype: Any = None, name: Any = None, content: Any = None) -> Any:
        return []

    def update_record(self, *args: Any) -> bool:
        raise NotImplementedError

    def delete_record(
        self, identifier: Any = None, rtype: Any = None, name: Any = None, content: Any = None
    ) -> bool:
        self.calls.append(("delete", identifier, rtype, name, content))
        return True


def test_lexicon_adapter_maps_arguments_to_the_provider_interface() -> None:
    RecordingProvider.calls = []
    zones: list[str] = []

    def zone_finder(name: str) -> str:
        zones.append(name)
        return "example.test."

    provider = LexiconProvider(
        RecordingProvider, options={"auth_token": "secret"}, zone_finder=zone_finder, ttl=90
    )
    assert provider.name == "test_providers"  # the class's module names its options
    provider.publish("_acme-challenge.x.example.test", "value")
    provider.cleanup("_acme-challenge.x.example.test", "value")
    assert RecordingProvider.calls == [
        ("authenticate", "example.test", 90),
        ("create", "TXT", "_acme-challenge.x.example.test", "value"),
        ("cleanup",),
        ("authenticate", "example.test", 90),
        ("delete", None, "TXT", "_acme-challenge.x.example.test", "value"),
        ("cleanup",),
    ]
    assert zones == ["_acme-challenge.x.example.test"] * 2
    wrong = LexiconProvider(
        RecordingProvider, options={"auth_token": "nope"}, zone="example.test", name="rec"
    )
    with pytest.raises(DNSError, match=r"lexicon rec could not publish .* bad token 'nope'"):
        wrong.publish("a.example.test", "v")


def test_lexicon_adapter_refuses_unknown_providers() -> None:
    with pytest.raises(DNSError, match="no provider 'no-such-dns'"):
        LexiconProvider("no-such-dns", zone="example.test")
    with pytest.raises(DNSError, match="not a lexicon provider"):
        LexiconProvider(dict, zone="example.test")
