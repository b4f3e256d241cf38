"""The key and chain ``acme issue`` writes (issue 11): replaced as one pair, checked before
ordering, never lost, permissions kept, private folders 0700 whatever the umask.

Crash tests kill a real ``python -m acme issue`` child at the dangerous moments through the
CLI's private test hook (``_ACME_CLI_TEST_HOOK``, see ``acme.cli._pair``) and then read what
a web server would read.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme.cli._pair import archive_of, replace_pair_atomically
from acme.testing import ACMETestServer
from support.cli import assert_one_line_error, child_env, run, spawn

SUBPROCESS_TIMEOUT = 60
NAME = "files.demo.test"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def ca() -> Iterator[ACMETestServer]:
    with ACMETestServer(always_valid=True) as server:
        yield server


def issue_argv(server: ACMETestServer, tmp_path: Path, out: Path, *extra: Any) -> list[Any]:
    return [
        "issue", "--directory", server.directory_url, "--ca-bundle", server.ca_bundle_path,
        "--config-dir", tmp_path / "cfg", "--agree-tos", "--bind", "127.0.0.1",
        "--http-port", 0, "--key-file", out / "privkey.pem", "--chain-file",
        out / "fullchain.pem", *extra, NAME,
    ]  # fmt: skip


def read_pair(key_file: Path, chain_file: Path) -> tuple[bytes, x509.Certificate]:
    """What a web server loads: the key's public part and the chain's leaf."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public, x509.load_pem_x509_certificates(chain_file.read_bytes())[0]


def assert_matching(key_file: Path, chain_file: Path) -> x509.Certificate:
    public, leaf = read_pair(key_file, chain_file)
    assert (
        leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public
    ), "the key on disk does not belong to the certificate on disk"
    return leaf


def communicate(proc: Any) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    return proc.returncode, out, err


# -- replace_pair_atomically on its own -----------------------------------------------------


def test_first_pair_is_two_links_through_one_switch(tmp_path: Path) -> None:
    key, chain = tmp_path / "privkey.pem", tmp_path / "fullchain.pem"
    old = os.umask(0)  # the modes must not depend on it
    try:
        written = replace_pair_atomically(key, chain, b"key 1", b"chain 1")
    finally:
        os.umask(old)
    archive = archive_of(key)
    assert archive == tmp_path / ".privkey.pem.acme"
    assert os.readlink(key) == ".privkey.pem.acme/current/privkey.pem"
    assert os.readlink(chain) == ".privkey.pem.acme/current/fullchain.pem"
    assert os.readlink(archive / "current") == "1"
    assert (key.read_bytes(), chain.read_bytes()) == (b"key 1", b"chain 1")
    assert (_mode(key), _mode(chain)) == (0o600, 0o644)
    assert _mode(archive) == _mode(archive / "1") == 0o755
    assert written.version == archive / "1"
    assert written.previous is None
    assert written.warnings == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".privkey.pem.acme",
        "fullchain.pem",
        "privkey.pem",
    ]


def test_replacing_keeps_the_previous_pair_and_drops_older_ones(tmp_path: Path) -> None:
    key, chain = tmp_path / "k.pem", tmp_path / "c.pem"
    replace_pair_atomically(key, chain, b"key 1", b"chain 1")
    second = replace_pair_atomically(key, chain, b"key 2", b"chain 2")
    assert second.previous == archive_of(key) / "1"
    assert (second.previous / "privkey.pem").read_bytes() == b"key 1"
    third = replace_pair_atomically(key, chain, b"key 3", b"chain 3")
    assert (key.read_bytes(), chain.read_bytes()) == (b"key 3", b"chain 3")
    assert third.previous == archive_of(key) / "2"
    assert sorted(p.name for p in archive_of(key).iterdir()) == ["2", "3", "current"]


def test_plain_files_are_adopted_as_the_previous_pair(tmp_path: Path) -> None:
    key, chain = tmp_path / "k.pem", tmp_path / "c.pem"
    key.write_bytes(b"old key")
    chain.write_bytes(b"old chain")
    key.chmod(0o640)
    chain.chmod(0o604)
    written = replace_pair_atomically(key, chain, b"new key", b"new chain")
    assert key.is_symlink()
    assert chain.is_symlink()
    assert (key.read_bytes(), chain.read_bytes()) == (b"new key", b"new chain")
    assert written.previous is not None
    assert (written.previous / "privkey.pem").read_bytes() == b"old key"
    assert (written.previous / "fullchain.pem").read_bytes() == b"old chain"
    assert _mode(written.previous / "privkey.pem") == 0o640  # kept as they were
    assert (_mode(key), _mode(chain)) == (0o640, 0o604)  # and passed on


def test_a_chain_in_another_folder_links_relatively(tmp_path: Path) -> None:
    (tmp_path / "private").mkdir()
    (tmp_path / "certs").mkdir()
    key, chain = tmp_path / "private" / "site.key", tmp_path / "certs" / "site.pem"
    replace_pair_atomically(key, chain, b"key", b"chain")
    assert os.readlink(chain) == "../private/.site.key.acme/current/fullchain.pem"
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    shutil.move(tmp_path, moved)  # relative links survive moving the whole tree
    try:
        assert (moved / "certs" / "site.pem").read_bytes() == b"chain"
    finally:
        shutil.move(moved, tmp_path)


def test_a_private_key_never_keeps_world_permissions(tmp_path: Path) -> None:
    key, chain = tmp_path / "k.pem", tmp_path / "c.pem"
    replace_pair_atomically(key, chain, b"key 1", b"chain 1")
    (archive_of(key) / "1" / "privkey.pem").chmod(0o644)
    replace_pair_atomically(key, chain, b"key 2", b"chain 2")
    assert _mode(key) == 0o640


# -- acme issue: the dangerous moments, in a real process --------------------------------------


@pytest.mark.parametrize("point", ["after-key", "before-switch", "after-switch"])
def test_a_crash_while_replacing_leaves_a_matching_pair(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: ACMETestServer, point: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    key, chain = out / "privkey.pem", out / "fullchain.pem"
    status, _, err = run(capsys, *issue_argv(ca, tmp_path, out))
    assert status == 0, err
    first = assert_matching(key, chain)

    env = child_env(_ACME_CLI_TEST_HOOK=f"crash:{point}")
    status, _, err = communicate(spawn(*issue_argv(ca, tmp_path, out, "--force"), env=env))
    assert status == -signal.SIGKILL, err  # it died at that point, with no chance to tidy up
    after = assert_matching(key, chain)
    assert (after.serial_number == first.serial_number) == (point != "after-switch")

    # The next run recovers: a matching new pair, the leftovers of the crash gone.
    status, _, err = run(capsys, *issue_argv(ca, tmp_path, out, "--force"))
    assert status == 0, err
    assert assert_matching(key, chain).serial_number != first.serial_number
    assert [p.name for p in archive_of(key).glob(".new-*")] == []


@pytest.mark.parametrize("point", ["after-key", "adopted-chain", "adopted-key", "before-switch"])
def test_a_crash_while_adopting_plain_files_leaves_a_matching_pair(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: ACMETestServer, point: str
) -> None:
    """Files written as plain files (by an earlier version, or by hand) move into the
    archive first; a crash during that move must not mismatch them either."""
    out = tmp_path / "out"
    out.mkdir()
    key, chain = out / "privkey.pem", out / "fullchain.pem"
    status, _, err = run(capsys, *issue_argv(ca, tmp_path, out))
    assert status == 0, err
    for path in (key, chain):  # make them plain files, as the old layout wrote them
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)
    shutil.rmtree(archive_of(key))
    first = assert_matching(key, chain)

    env = child_env(_ACME_CLI_TEST_HOOK=f"crash:{point}")
    status, _, err = communicate(spawn(*issue_argv(ca, tmp_path, out, "--force"), env=env))
    assert status == -signal.SIGKILL, err
    assert assert_matching(key, chain).serial_number == first.serial_number


def test_a_read_only_output_folder_fails_before_ordering(
    tmp_path: Path, ca: ACMETestServer
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = spawn(*issue_argv(ca, tmp_path, out), obey_modes=True)
        status, stdout, err = communicate(proc)
    finally:
        out.chmod(0o755)
    assert status == 1, err
    line = assert_one_line_error(err)
    assert line == (
        f"acme: error: cannot write the private key in {out}: Permission denied "
        "(checked before ordering; nothing was asked of the CA)"
    )
    assert ca.core.orders == {}  # the whole order did not run for nothing
    assert stdout == ""


def test_an_issued_certificate_that_cannot_be_installed_is_kept(
    tmp_path: Path, ca: ACMETestServer
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    marker = tmp_path / "paused"
    env = child_env(_ACME_CLI_TEST_HOOK=f"pause:before-write:{marker}")
    proc = spawn(*issue_argv(ca, tmp_path, out), env=env)
    try:
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), proc.communicate(timeout=SUBPROCESS_TIMEOUT)
        # The certificate is issued; now the output folder goes away under the CLI.
        out.rename(tmp_path / "moved")
        out.write_text("a file where the folder was\n")
        marker.unlink()
    finally:
        status, stdout, err = communicate(proc)
    assert status == 1, err
    line = assert_one_line_error(err)
    prefix = f"acme: error: could not install the new certificate (folder {out} for the private "
    assert line.startswith(prefix + "key does not exist); it and its key are saved in ")
    saved = Path(line.split(" are saved in ", 1)[1].split(": copy them", 1)[0])
    assert saved.parent == tmp_path / "cfg" / "rescued"
    leaf = assert_matching(saved / "privkey.pem", saved / "fullchain.pem")
    assert leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName) == [NAME]
    assert ca.core.is_revoked(leaf) is False  # the CA's certificate, issued in that run
    assert _mode(saved / "privkey.pem") == 0o600
    assert _mode(saved) == _mode(saved.parent) == 0o700
    assert stdout == ""


def test_force_keeps_the_owner_group_and_mode_of_the_old_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: ACMETestServer
) -> None:
    """As certbot does: ``640 root:ssl-cert`` stays ``640 root:ssl-cert`` after a renewal."""
    out = tmp_path / "out"
    out.mkdir()
    key, chain = out / "privkey.pem", out / "fullchain.pem"
    status, _, err = run(capsys, *issue_argv(ca, tmp_path, out))
    assert status == 0, err
    if os.geteuid() == 0:
        group = 65534  # nogroup: any group other than ours
    else:
        others = [g for g in os.getgroups() if g != os.getegid()]
        group = others[0] if others else os.getegid()
    os.chown(key, -1, group)
    key.chmod(0o640)
    chain.chmod(0o604)
    before = key.stat()

    status, _, err = run(capsys, *issue_argv(ca, tmp_path, out, "--force"))
    assert status == 0, err
    after = key.stat()
    assert (after.st_ino, _mode(key)) != (before.st_ino, 0)  # a new file ...
    assert (after.st_uid, after.st_gid, _mode(key)) == (before.st_uid, group, 0o640)  # ... alike
    assert _mode(chain) == 0o604
    assert_matching(key, chain)


def test_state_folders_are_0700_at_every_level_under_umask_000(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: ACMETestServer
) -> None:
    config = tmp_path / "a" / "b" / "cfg"
    old = os.umask(0)
    try:
        status, _, err = run(
            capsys, "account", "register", "--directory", ca.directory_url, "--ca-bundle",
            ca.ca_bundle_path, "--config-dir", config, "--agree-tos",
        )  # fmt: skip
    finally:
        os.umask(old)
    assert status == 0, err
    (account,) = (config / "accounts").iterdir()
    made = [tmp_path / "a", tmp_path / "a" / "b", config, config / "accounts", account]
    assert {str(path): oct(_mode(path)) for path in made} == {str(p): "0o700" for p in made}
    assert _mode(account / "account.key") == 0o600

    # A whole issue under umask 000: every folder of the state (lock, store) is 0700 too.
    out = tmp_path / "out"
    out.mkdir()
    argv = issue_argv(ca, tmp_path, out)
    argv[argv.index(tmp_path / "cfg")] = config
    old = os.umask(0)
    try:
        status, _, err = run(capsys, *argv)
    finally:
        os.umask(old)
    assert status == 0, err
    folders = [Path(root) for root, _, _ in os.walk(config)]
    assert len(folders) > 4
    assert {str(path): oct(_mode(path)) for path in folders} == {
        str(path): "0o700" for path in folders
    }
    assert _mode(config / "lock") == 0o600
    assert _mode(archive_of(out / "privkey.pem")) == 0o755  # documented: chain readers pass
    assert _mode(out / "privkey.pem") == 0o600


def test_renew_replaces_the_pair_as_one_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: ACMETestServer
) -> None:
    """``acme renew`` writes the recorded files with the same atomic switch: a crash between
    the key and the chain leaves the old pair, and the next renewal installs a new one."""
    out = tmp_path / "out"
    out.mkdir()
    key, chain = out / "privkey.pem", out / "fullchain.pem"
    status, stdout, err = run(capsys, *issue_argv(ca, tmp_path, out))
    assert status == 0, err
    assert f"recorded as {NAME}" in stdout
    first = assert_matching(key, chain)
    renew = ["renew", "--force", "--config-dir", tmp_path / "cfg", "--ca-bundle",
             ca.ca_bundle_path]  # fmt: skip

    env = child_env(_ACME_CLI_TEST_HOOK="crash:after-key")
    status, _, err = communicate(spawn(*renew, env=env))
    assert status == -signal.SIGKILL, err
    assert assert_matching(key, chain).serial_number == first.serial_number

    status, stdout, err = run(capsys, *renew)
    assert status == 0, err
    assert f"renewed {NAME}" in stdout
    renewed = assert_matching(key, chain)
    assert renewed.serial_number != first.serial_number
    assert os.readlink(key) == ".privkey.pem.acme/current/privkey.pem"  # still the links
    kept = archive_of(key) / "1"
    assert read_pair(kept / "privkey.pem", kept / "fullchain.pem")[1] == first
