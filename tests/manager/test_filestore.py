"""FileStore: atomic group writes, modes, leases with fencing, and real crashes (SIGKILL)."""

from __future__ import annotations

import datetime
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acme import errors
from acme.manager import (
    Certificate,
    CertificatePair,
    ChallengeAnswer,
    FileStore,
    LeaseLost,
    LockHeld,
    StorageError,
    StoreHTTP01Resources,
    StoreSolver,
)

UTC = datetime.timezone.utc
CHILD_TIMEOUT = 30


def make_pair(name: str = "a.test") -> CertificatePair:
    """A private key and a self-signed certificate for it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CertificatePair(key_pem, cert.public_bytes(serialization.Encoding.PEM).decode())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FileStore]:
    with FileStore(tmp_path / "store") as opened:
        yield opened


def test_a_group_write_replaces_its_keys_as_one_and_keeps_the_others(store: FileStore) -> None:
    store.write({"g/a": b"1", "g/b": b"2"})
    store.write({"g/b": b"3", "g/c": b"4"})
    assert store.read_group("g") == {"a": b"1", "b": b"3", "c": b"4"}
    assert store.read("g/b") == b"3"
    assert store.read("g/missing") is None
    assert store.read("nothing/here") is None
    assert store.list("g/") == ["g/a", "g/b", "g/c"]
    store.write({"h/x/y": b"5"})
    assert store.list("") == ["g/a", "g/b", "g/c", "h/x/y"]
    store.delete("g/a")
    assert store.read_group("g") == {"b": b"3", "c": b"4"}
    store.delete("g")
    assert store.list("g/") == []
    assert store.read("g/b") is None
    store.delete("g")  # nothing left: no error


@pytest.mark.parametrize(
    "items", [{"a/x": b"", "b/y": b""}, {"../x/y": b""}, {"a/.hidden": b""}, {"plain": b""}]
)
def test_bad_writes_are_refused(store: FileStore, items: dict[str, bytes]) -> None:
    with pytest.raises(StorageError):
        store.write(items)


def test_previous_version_is_kept_and_older_ones_removed(store: FileStore) -> None:
    for value in (b"1", b"2", b"3"):
        store.write({"g/k": value})
    versions = sorted(p.name for p in store.root.iterdir() if p.name.startswith(".g.v"))
    assert versions == [".g.v2", ".g.v3"]
    assert (store.root / ".g.v2" / "k").read_bytes() == b"2"
    assert os.readlink(store.root / "g") == ".g.v3"


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_modes_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        opened = FileStore(tmp_path / "deep" / "store")
        opened.write({"lineages/x/key.pem": b"k", "lineages/x/chain.pem": b"c"},
                     private=["lineages/x/key.pem"])  # fmt: skip
        opened.close()
    finally:
        os.umask(old)
    root = tmp_path / "deep" / "store"
    folders = [tmp_path / "deep", root, root / "lineages", root / ".locks"]
    folders += [p for p in (root / "lineages").iterdir() if p.is_dir() and not p.is_symlink()]
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((root / "lineages" / "x" / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "lineages" / "x" / "chain.pem").stat().st_mode) == 0o644


def test_lineage_files_key_is_private(store: FileStore) -> None:
    from acme.manager import Manager

    record = Certificate("m.test", ("m.test",), "https://ca/dir", current=make_pair("m.test"))
    Manager(store, {}).save(record)
    folder = store.root / "lineages" / "m.test"
    assert stat.S_IMODE((folder / "key.pem").stat().st_mode) == 0o600
    assert Manager(store, {}).load("m.test") == record


def test_lock_names_its_holder_and_fencing_tokens_grow(tmp_path: Path) -> None:
    first, second = FileStore(tmp_path), FileStore(tmp_path)
    lease = first.lock("lineages/a", owner="node-1", ttl=30)
    with pytest.raises(LockHeld) as held:
        second.lock("lineages/a", owner="node-2", ttl=30)
    assert held.value.holder == "node-1"
    assert "node-1" in str(held.value)
    assert held.value.expires == lease.expires
    with pytest.raises(LockHeld):  # the same process, another caller: held too
        first.lock("lineages/a", owner="node-1b", ttl=30)
    first.write({"lineages/a/k": b"1"}, fence=lease)
    assert first.renew(lease, 60).token == lease.token
    first.unlock(lease)
    taken = second.lock("lineages/a", owner="node-2", ttl=30)
    assert taken.token == lease.token + 1
    with pytest.raises(LeaseLost):  # a stale lease cannot write any more
        first.write({"lineages/a/k": b"2"}, fence=lease)
    with pytest.raises(LeaseLost):
        first.renew(lease, 60)
    second.write({"lineages/a/k": b"3"}, fence=taken)
    assert second.read("lineages/a/k") == b"3"
    second.unlock(taken)
    first.close()
    second.close()


def test_claim_due_takes_due_groups_once(store: FileStore, tmp_path: Path) -> None:
    now = datetime.datetime.now(UTC)
    store.write({"lineages/a/r": b""}, due=now - datetime.timedelta(minutes=1))
    store.write({"lineages/b/r": b""}, due=now + datetime.timedelta(hours=1))
    store.write({"lineages/c/r": b""}, due=now - datetime.timedelta(minutes=2))
    assert store.due("lineages/", now) == ["lineages/c", "lineages/a"]
    claimed = store.claim_due("lineages/", now, owner="x", ttl=30, limit=10)
    assert [group for group, _ in claimed] == ["lineages/c", "lineages/a"]
    with FileStore(store.root) as other:
        assert other.claim_due("lineages/", now, owner="y", ttl=30, limit=10) == []
    for _, lease in claimed:
        store.unlock(lease)


def _child(tmp_path: Path, body: str) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "store")],
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_line(child: subprocess.Popen[str], expected: str) -> None:
    assert child.stdout is not None
    deadline = time.monotonic() + CHILD_TIMEOUT
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.strip() == expected:
            return
        if not line and child.poll() is not None:
            break
    child.kill()
    child.wait()
    pytest.fail(f"the child never said {expected!r}")


def _kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(CHILD_TIMEOUT)
    assert child.stdout is not None
    child.stdout.close()


def test_lock_ends_when_its_process_is_killed(tmp_path: Path) -> None:
    child = _child(
        tmp_path,
        """
        import sys, time
        from acme.manager import FileStore
        store = FileStore(sys.argv[1])
        store.lock("lineages/a", owner="doomed", ttl=3600)
        print("locked", flush=True)
        time.sleep(60)
        """,
    )
    _wait_line(child, "locked")
    with FileStore(tmp_path / "store") as survivor:
        with pytest.raises(LockHeld, match="doomed"):
            survivor.lock("lineages/a", owner="survivor", ttl=30)
        _kill(child)
        lease = survivor.lock("lineages/a", owner="survivor", ttl=30)
        assert lease.token == 2
        survivor.unlock(lease)


_WRITER = """
    import sys, time
    from pathlib import Path
    from acme.manager import Certificate, CertificatePair, FileStore, Manager

    pairs = [
        CertificatePair(Path(f"{sys.argv[1]}.k{i}").read_bytes(),
                        Path(f"{sys.argv[1]}.c{i}").read_text())
        for i in range(2)
    ]

    class Store(FileStore):
        def _before_switch(self, version):
            if STOP_BEFORE_SWITCH:
                print("switching", flush=True)
                time.sleep(60)

    manager = Manager(Store(sys.argv[1]), {})
    turn = 0
    print("started", flush=True)
    while True:
        record = Certificate("a.test", ("a.test",), "https://ca/dir",
                             current=pairs[turn % 2], previous=pairs[(turn + 1) % 2])
        manager.save(record)
        turn += 1
"""


def _pairs_on_disk(tmp_path: Path) -> list[CertificatePair]:
    pairs = [make_pair(), make_pair()]
    for index, pair in enumerate(pairs):
        (tmp_path / f"store.k{index}").write_bytes(pair.key_pem)
        (tmp_path / f"store.c{index}").write_text(pair.chain_pem)
    return pairs


def _check_lineage(tmp_path: Path, pairs: list[CertificatePair]) -> Certificate:
    from acme.manager import Manager

    with FileStore(tmp_path / "store") as store:
        record = Manager(store, {}).load("a.test")
    assert record is not None
    assert record.current is not None
    assert record.previous is not None
    assert record.current.matches()
    assert record.previous.matches()
    assert {record.current, record.previous} == set(pairs)
    return record


def test_crash_just_before_the_switch_keeps_the_old_pair(tmp_path: Path) -> None:
    """SIGKILL with the new key and chain written but not yet switched to: the store still
    holds the complete old version, and the next write cleans up the half-built one."""
    pairs = _pairs_on_disk(tmp_path)
    from acme.manager import Manager

    with FileStore(tmp_path / "store") as store:
        Manager(store, {}).save(
            Certificate("a.test", ("a.test",), "https://ca/dir", current=pairs[1],
                        previous=pairs[0])
        )  # fmt: skip
    child = _child(tmp_path, "STOP_BEFORE_SWITCH = True\n" + textwrap.dedent(_WRITER))
    _wait_line(child, "switching")
    _kill(child)
    record = _check_lineage(tmp_path, pairs)
    assert record.current == pairs[1]  # the old version: the new one never became visible
    leftovers = sorted(p.name for p in (tmp_path / "store" / "lineages").glob(".a.test.v*"))
    assert leftovers == [".a.test.v1", ".a.test.v2"]  # v2 is the half-built one
    with FileStore(tmp_path / "store") as store:
        Manager(store, {}).save(record)
    _check_lineage(tmp_path, pairs)


def test_random_kills_never_leave_a_key_beside_the_wrong_chain(tmp_path: Path) -> None:
    pairs = _pairs_on_disk(tmp_path)
    rng = random.Random(1234)
    for _ in range(6):
        child = _child(tmp_path, "STOP_BEFORE_SWITCH = False\n" + textwrap.dedent(_WRITER))
        _wait_line(child, "started")
        time.sleep(rng.uniform(0.05, 0.3))
        _kill(child)
        _check_lineage(tmp_path, pairs)


def test_store_solver_serves_http01_answers_and_refuses_dns01(store: FileStore) -> None:
    """http-01 answers go into the store (any node serves them); dns-01 needs a DNS provider."""
    token = "A" * 43
    answer = ChallengeAnswer("http-01", "a.test", token, "ka", value=f"{token}.thumb")
    solver = StoreSolver(store)
    solver.present(answer)
    served = [(r.chall.encode("token"), r.validation) for r in StoreHTTP01Resources(store)]
    assert served == [(token, f"{token}.thumb")]
    solver.cleanup(answer)
    assert list(StoreHTTP01Resources(store)) == []
    dns = ChallengeAnswer("dns-01", "a.test", token, "ka", value="digest")
    with pytest.raises(errors.InvalidArgument, match="DNS provider"):
        solver.present(dns)
