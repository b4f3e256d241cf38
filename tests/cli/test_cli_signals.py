"""``acme issue`` stopped from outside, and two runs on one state folder (issue 11).

A real ``python -m acme issue`` child is stopped with SIGINT or SIGTERM (what systemd,
``timeout`` and ``docker stop`` send) while its dns-01 record or webroot file is published;
both signals must clean up the same way and exit with a message. A second run on the same
``--config-dir`` must say who holds it instead of racing it.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from acme.testing import ACMETestServer
from support.cli import assert_one_line_error, child_env, run, spawn

SUBPROCESS_TIMEOUT = 60
SIGNALS = {"SIGINT": (signal.SIGINT, 130, "acme: interrupted"), "SIGTERM": (
    signal.SIGTERM, 143, "acme: terminated by SIGTERM")}  # fmt: skip


def wait_for(condition: Callable[[], bool], proc: Any, what: str) -> None:
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the child ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def finish(proc: Any) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    return proc.returncode, out, err


@pytest.fixture
def slow_ca() -> Iterator[ACMETestServer]:
    """A CA that keeps authorizations pending for many polls, a second apart: the client
    sits in its poll loop with its challenge answer published."""
    with ACMETestServer(validation_delay_polls=1000, poll_retry_after=1) as server:
        yield server


def issue_argv(server: ACMETestServer, tmp_path: Path, *how: Any, name: str) -> list[Any]:
    return [
        "issue", "--directory", server.directory_url, "--ca-bundle", server.ca_bundle_path,
        "--config-dir", tmp_path / "cfg", "--agree-tos", "--key-file", tmp_path / "k.pem",
        "--chain-file", tmp_path / "c.pem", *how, name,
    ]  # fmt: skip


def dns_hook(tmp_path: Path) -> tuple[str, Path, Path]:
    """A hook that logs each call and, on ``present``, says so and then takes its time."""
    log, marker = tmp_path / "hook.log", tmp_path / "presented"
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import pathlib, sys, time\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(' '.join(sys.argv[1:3]) + '\\n')\n"
        "if sys.argv[1] == 'present':\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n"
        "    time.sleep(30)\n"
    )
    return f"{sys.executable} {hook}", log, marker


@pytest.mark.parametrize("signame", list(SIGNALS))
def test_a_signal_during_dns01_removes_the_record_and_says_so(tmp_path: Path, signame: str) -> None:
    sig, status, message = SIGNALS[signame]
    command, log, marker = dns_hook(tmp_path)
    with ACMETestServer() as server:
        argv = issue_argv(server, tmp_path, "--dns-hook", command, name="*.sig.demo.test")
        proc = spawn(*argv, env=child_env())
        try:
            wait_for(marker.exists, proc, "the hook published the record")
            proc.send_signal(sig)
            signalled = time.monotonic()
        finally:
            code, out, err = finish(proc)
        stopped_after = time.monotonic() - signalled
    assert code == status, err
    # The hook still had 30 s to sleep: it is stopped with the run, not waited for.
    assert stopped_after < 10
    assert err.rstrip().splitlines()[-1] == message
    assert "Traceback" not in err
    assert out == ""
    assert log.read_text().splitlines() == [
        "present _acme-challenge.sig.demo.test",
        "cleanup _acme-challenge.sig.demo.test",
    ]


@pytest.mark.parametrize("signame", list(SIGNALS))
def test_a_signal_while_polling_removes_the_webroot_file_and_says_so(
    tmp_path: Path, slow_ca: ACMETestServer, signame: str
) -> None:
    sig, status, message = SIGNALS[signame]
    root = tmp_path / "www"
    root.mkdir()
    challenge_dir = root / ".well-known" / "acme-challenge"
    argv = issue_argv(slow_ca, tmp_path, "--webroot", root, name="web.sig.demo.test")
    proc = spawn(*argv, env=child_env())
    try:
        wait_for(lambda: challenge_dir.is_dir() and any(challenge_dir.iterdir()), proc, "the file")
        wait_for(lambda: any(a.challenges[0].status == "processing" for a in
                             slow_ca.core.authorizations.values()), proc, "the answer")  # fmt: skip
        proc.send_signal(sig)
    finally:
        code, _, err = finish(proc)
    assert code == status, err
    assert err.rstrip().splitlines()[-1] == message
    assert "Traceback" not in err
    assert list(root.iterdir()) == []  # the file and the folders the run made are gone
    assert not (tmp_path / "k.pem").exists()


# -- one run at a time per state folder --------------------------------------------------------


def test_a_second_run_on_the_same_state_folder_says_who_holds_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, slow_ca: ACMETestServer
) -> None:
    command, log, marker = dns_hook(tmp_path)
    first = spawn(*issue_argv(slow_ca, tmp_path, "--dns-hook", command, name="one.demo.test"))
    try:
        wait_for(marker.exists, first, "the first run got going")
        other = tmp_path / "other"
        other.mkdir()
        status, out, err = run(
            capsys, "issue", "--directory", slow_ca.directory_url, "--ca-bundle",
            slow_ca.ca_bundle_path, "--config-dir", tmp_path / "cfg", "--agree-tos",
            "--key-file", other / "k.pem", "--chain-file", other / "c.pem",
            "--dns-hook", command, "two.demo.test",
        )  # fmt: skip
        assert status == 1
        line = assert_one_line_error(err)
        assert line.startswith(
            f"acme: error: another acme run is using {tmp_path / 'cfg'}: pid {first.pid} "
            "(acme issue one.demo.test), since "
        )
        assert line.endswith(" UTC; wait for it to finish (or stop it), then try again")
        status, out, err = run(capsys, "account", "show", "--directory",
                               slow_ca.directory_url, "--config-dir", tmp_path / "cfg")  # fmt: skip
        assert status == 1
        assert f"pid {first.pid} (acme issue one.demo.test)" in assert_one_line_error(err)
        first.send_signal(signal.SIGKILL)  # even a crash releases the lock
    finally:
        finish(first)
    assert len(log.read_text().splitlines()) == 1  # only the first run's "present"
    status, out, err = run(capsys, "account", "show", "--directory", slow_ca.directory_url,
                           "--ca-bundle", slow_ca.ca_bundle_path, "--config-dir",
                           tmp_path / "cfg")  # fmt: skip
    assert status == 0, err
    assert "status  valid" in out
