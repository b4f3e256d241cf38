"""`HookProvider.stop` and interrupted `DNSChallenges.publish`: a hook command in flight ends
with the run (its whole process group), instead of holding Ctrl-C or SIGTERM for as long as
it likes (issue 11)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from acme.dns import DNSChallenges, DNSError, HookProvider, TXTRecord

HOOK = """\
import os, pathlib, subprocess, sys, time
action, folder = sys.argv[2], pathlib.Path(sys.argv[1])
if action == "present":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    (folder / "grandchild").write_text(str(child.pid))
    (folder / "presented").touch()
    time.sleep(30)
else:
    (folder / "cleaned").touch()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: its parent (the stopped hook) is gone and init reaps it.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(") ", 1)[1][0] != "Z"


def _wait(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _hook(tmp_path: Path) -> HookProvider:
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    return HookProvider([sys.executable, str(script), str(tmp_path)], timeout=60)


def test_stop_ends_a_running_hook_and_what_it_started(tmp_path: Path) -> None:
    provider = _hook(tmp_path)
    outcome: list[BaseException] = []

    def publish() -> None:
        try:
            provider.publish("_acme-challenge.a.test", "v")
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=publish)
    worker.start()
    _wait((tmp_path / "presented").exists)
    grandchild = int((tmp_path / "grandchild").read_text())
    began = time.monotonic()
    provider.stop()
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - began < 5  # not the 30 s the hook meant to sleep
    assert len(outcome) == 1
    assert isinstance(outcome[0], DNSError)
    assert "dns hook present _acme-challenge.a.test was stopped (signal 15)" in str(outcome[0])
    _wait(lambda: not _alive(grandchild))
    provider.cleanup("_acme-challenge.a.test", "v")  # later calls work as usual
    assert (tmp_path / "cleaned").exists()


def test_an_interrupted_publish_stops_its_hooks_then_cleanup_runs(tmp_path: Path) -> None:
    """KeyboardInterrupt (what SIGTERM becomes in the CLI) while records are being published."""
    provider = _hook(tmp_path)
    session = DNSChallenges(provider)

    def interrupt_when_presented() -> None:
        _wait((tmp_path / "presented").exists)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it interrupts the blocked wait

    timer = threading.Thread(target=interrupt_when_presented)
    timer.start()
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt), session:
        session.publish([TXTRecord("_acme-challenge.b.test", "v")])
    timer.join(10)
    assert time.monotonic() - began < 10
    assert (tmp_path / "cleaned").exists()
    assert session.published == []
