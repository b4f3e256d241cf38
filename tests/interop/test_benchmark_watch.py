"""``make bench`` finds a hung Pebble within seconds, not at the client's or worker's timeout.

benchmarks/run.py watches Pebble's log while a worker runs (`run_watched`); a worker during
which Pebble logged nothing for ``stall_seconds`` is killed, the evidence kept, Pebble
restarted and the worker run once more.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from interop.pebble_harness import require_binaries

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import run  # type: ignore[import-not-found]  # noqa: E402  (benchmarks/run.py)


def _child(script: str) -> list[str]:
    return [sys.executable, "-c", script]


def test_a_worker_whose_server_goes_quiet_is_killed_after_the_stall(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("")
    writes_then_hangs = (
        "import time, sys\n"
        f"for i in range(10):\n    open({str(log)!r}, 'a').write('GET /\\n'); time.sleep(0.1)\n"
        "print('working', flush=True)\ntime.sleep(60)\n"
    )
    started = time.monotonic()
    done = run.run_watched(_child(writes_then_hangs), log, stall=2.0, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == -9
    assert "logged no request for 2 s" in done.stderr
    assert done.stdout == "working\n"
    assert 2.5 <= elapsed < 6.0  # ~1 s of activity, then the 2 s stall (checked each second)


def test_a_busy_worker_runs_to_the_end(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("")
    busy = (
        "import time\n"
        f"for i in range(40):\n    open({str(log)!r}, 'a').write('GET /\\n'); time.sleep(0.1)\n"
        "print('done')\n"
    )
    done = run.run_watched(_child(busy), log, stall=2.0, timeout=60)  # 4 s, never 2 s quiet
    assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")
    done = run.run_watched(_child("import time; time.sleep(60)"), log, stall=60, timeout=2.0)
    assert done.returncode == -9
    assert "timed out after 2 s" in done.stderr


def test_a_hung_pebble_is_an_incident_found_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pebble stopped (SIGSTOP: it accepts connections and answers nothing, as when its store
    deadlocks) before a worker starts: the worker is killed after the 5 s stall, not after
    the client's 45 s timeout; Pebble is restarted and the worker's second run succeeds."""
    require_binaries()
    monkeypatch.setattr(run, "FAILURES", tmp_path / "failures")
    (tmp_path / "work").mkdir()
    suite = run.Suite(run.QUICK, tmp_path / "work", Path(sys.executable))
    suite.stall_seconds = 5.0
    with (
        run.responder(suite.accounts) as port,
        run.PebbleServer(tmp_path / "work", "always_valid", port) as srv,
    ):
        srv.peb.pebble_process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        result = suite.worker(srv, "ours", "one", reps=2)
        elapsed = time.monotonic() - started
    assert len(result["reps"]) == 2  # the second run, on a fresh Pebble
    [incident] = suite.incidents
    assert "logged no request for 5 s" in incident["error"]
    assert elapsed < 30  # 5 s stall + restart + a short run; the client alone would wait 45 s
    assert (Path(incident["evidence"]) / "worker.stderr.log").exists()
