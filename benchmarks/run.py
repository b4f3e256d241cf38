"""Run the benchmark suite: ours, acme 5.9 (PyPI) and a bare-bones limit against Pebble.

    .venv/bin/python benchmarks/run.py [--quick]      (or: make bench)

Steps: make ``benchmarks/.venv-acme59`` (``pip install acme==5.9.0``) if missing; start the
stateless http-01 responder (responder.py); for each Pebble mode (``PEBBLE_VA_NOSLEEP=1``, then
``PEBBLE_VA_ALWAYS_VALID=1``) start Pebble on loopback (tests/interop/pebble_harness, nonce
rejection and authorization reuse off so every client sees the same work) and run each workload
of worker.py for each client in a fresh process; then the politeness run (every validation
fetch delayed 2 s) and the ``import acme.client`` timing. Prints the table (report.py) and
writes everything, raw figures included, to ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BASELINE_VENV = BENCH / ".venv-acme59"
BASELINE_REQUIREMENT = "acme==5.9.0"
FAILURES = BENCH / "failures"
WORKER_TIMEOUT = 600
sys.path.insert(0, str(ROOT / "tests"))

# Repetitions per workload: (ours, bare-bones limit, acme 5.9). acme 5.9 sleeps 1-2 s per
# issuance, so it gets fewer; every figure is still a median where there is more than one.
# "rounds": how many worker processes each client's repetitions are spread over, round-robin.
FULL: dict[str, Any] = {
    "modes": ("nosleep", "always_valid"),
    "one": (15, 15, 7), "seq": (5, 5, 1), "threads": (5, 5, 2), "async": 3,
    "polite": (3, 1, 3), "import": 9, "rounds": {"one": 3, "seq": 5, "threads": 5},
}  # fmt: skip
QUICK: dict[str, Any] = {
    "modes": ("nosleep",),
    "one": (5, 5, 2), "seq": (1, 1, 1), "threads": (2, 2, 1), "async": 1,
    "polite": (2, 1, 1), "import": 5, "rounds": {"one": 2, "seq": 1, "threads": 2},
}  # fmt: skip
SEQ_N, THREADS, THREADS_N, ASYNC_N, CONCURRENCY, POLITE_DELAY_MS = 20, 8, 20, 200, 32, 2000
CLIENTS = ("ours", "limit", "acme59")
WORKLOADS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("one", {}),
    ("seq", {"n": SEQ_N}),
    ("threads", {"n": THREADS_N, "threads": THREADS}),
)
IMPORT_SNIPPET = (
    "import time\n"
    "c, w = time.process_time(), time.perf_counter()\n"
    "import acme.client\n"
    "print(time.process_time() - c, time.perf_counter() - w)\n"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clean_env() -> dict[str, str]:
    """Our environment without anything that would change which ``acme`` a child imports."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def baseline_python() -> Path:
    """The acme 5.9 virtual environment's interpreter, made and filled on first use."""
    python = BASELINE_VENV / "bin" / "python"
    stamp = BASELINE_VENV / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == BASELINE_REQUIREMENT:
        return python
    log(f"creating {BASELINE_VENV} with {BASELINE_REQUIREMENT} from PyPI ...")
    shutil.rmtree(BASELINE_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(BASELINE_VENV)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         BASELINE_REQUIREMENT],
        capture_output=True, text=True, env=clean_env(),
    )  # fmt: skip
    if pip.returncode != 0:
        raise RuntimeError(f"pip install {BASELINE_REQUIREMENT} failed:\n{pip.stdout}{pip.stderr}")
    stamp.write_text(BASELINE_REQUIREMENT + "\n")
    return python


def async_available() -> str | None:
    """None if ``acme.asyncio_client`` imports in our environment, else why not."""
    probe = subprocess.run(
        [sys.executable, "-c", "import acme.asyncio_client"],
        capture_output=True, text=True, env=clean_env(), cwd=tempfile.gettempdir(),
    )  # fmt: skip
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip().splitlines() or ["import failed"])[-1]


@dataclasses.dataclass(frozen=True)
class Job:
    """``reps`` repetitions of one workload for one client, with worker options."""

    client: str
    workload: str
    reps: int
    options: dict[str, Any]


def split(total: int, rounds: int) -> list[int]:
    """``total`` repetitions in at most ``rounds`` near-equal non-empty chunks."""
    parts = max(1, min(total, rounds))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def module_available(name: str) -> bool:
    probe = [sys.executable, "-c", f"import {name}"]
    return subprocess.run(probe, capture_output=True, env=clean_env()).returncode == 0


@contextlib.contextmanager
def responder(accounts_dir: Path) -> Iterator[int]:
    """The stateless http-01 responder process; yields its port."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "responder.py"), "--accounts-dir", str(accounts_dir)],
        stdout=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"responder did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


class PebbleServer:
    """The Pebble of one mode, restartable; a restart first keeps its logs and a goroutine dump.

    SIGQUIT makes a Go program print every goroutine's stack and exit: that dump shows where a
    hung Pebble is blocked.
    """

    def __init__(self, workdir: Path, mode: str, responder_port: int) -> None:
        self.workdir = workdir
        self.mode = mode
        self.responder_port = responder_port
        self.starts = 0
        self.peb = self._start()

    def _start(self) -> Any:
        from interop.pebble_harness import start_pebble

        self.starts += 1
        return start_pebble(
            self.workdir / f"pebble-{self.mode}-{self.starts}", http_port=self.responder_port,
            nonce_reject=0, authz_reuse=0, va_nosleep=True,
            va_always_valid=self.mode == "always_valid",
        )  # fmt: skip

    def restart(self, label: str, worker_stderr: str) -> Path:
        """Keep the evidence in benchmarks/failures/, then start a fresh Pebble."""
        keep = FAILURES / f"{time.strftime('%Y%m%d-%H%M%S')}-{self.mode}-{label}"
        keep.mkdir(parents=True, exist_ok=True)
        proc = self.peb.pebble_process
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        self.peb.stop()
        for log_file in self.peb.workdir.glob("*.log"):
            shutil.copy(log_file, keep / log_file.name)
        (keep / "worker.stderr.log").write_text(worker_stderr)
        self.peb = self._start()
        return keep

    def __enter__(self) -> PebbleServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.peb.stop()


def check_responder(port: int, accounts_dir: Path) -> None:
    """The responder must answer a known account's key authorization and 404 anything else
    (so a broken responder stops the run here, not as a puzzling validation failure)."""
    (accounts_dir / "aselftest").write_text("THUMB 0\n")
    for host, want in (("n1.aselftest.example.com", (200, b"tok.THUMB")),
                       ("n1.aunknown.example.com", (404, b""))):  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/.well-known/acme-challenge/tok", headers={"Host": host})
            response = conn.getresponse()
            got = (response.status, response.read())
        finally:
            conn.close()
        if got != want:
            raise RuntimeError(f"responder answered {got} for {host}, expected {want}")


class Suite:
    def __init__(self, plan: dict[str, Any], workdir: Path, baseline: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.accounts = workdir / "accounts"
        self.accounts.mkdir()
        self.incidents: list[dict[str, Any]] = []
        self.python = {"ours": Path(sys.executable), "limit": Path(sys.executable),
                       "async": Path(sys.executable), "acme59": baseline}  # fmt: skip

    def worker(
        self, srv: PebbleServer, client: str, workload: str, **options: Any
    ) -> dict[str, Any]:
        """Run one worker; if it fails, keep the evidence, restart Pebble and run it once more.

        Pebble 2.4's in-memory store can deadlock under many concurrent orders (seen with the
        async workload: every handler blocked on the store's RWMutex, see the README); a run
        that hit it is an incident of the server, recorded in the results, not a client figure.
        """
        for attempt in (1, 2):
            done, took = self._run_worker(srv.peb, client, workload, options)
            lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
            if done.returncode == 0 and lines:
                log(f"  {client:6} {workload:8} {options} {took:6.1f} s")
                result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
                return result
            error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            kept = srv.restart(f"{client}-{workload}-attempt{attempt}", done.stderr)
            incident: dict[str, Any] = {"client": client, "workload": workload, "options": options}
            incident.update(attempt=attempt, error=error, evidence=str(kept))
            self.incidents.append(incident)
            log(f"  {client} {workload} failed: {error}\n  evidence in {kept}; Pebble restarted")
        raise RuntimeError(f"{client} {workload} failed twice; see {kept}")

    def _run_worker(
        self, peb: Any, client: str, workload: str, options: dict[str, Any]
    ) -> tuple[subprocess.CompletedProcess[str], float]:
        argv = [
            str(self.python[client]), str(BENCH / "worker.py"), "--client", client,
            "--workload", workload, "--directory", peb.directory_url, "--ca", peb.ca_bundle,
            "--pebble-log", str(peb.workdir / "pebble.stdout.log"),
            "--accounts-dir", str(self.accounts),
        ]  # fmt: skip
        for key, value in options.items():
            argv += [("-" if len(key) == 1 else "--") + key.replace("_", "-"), str(value)]
        started = time.perf_counter()
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, env=clean_env(), cwd=self.workdir,
                timeout=WORKER_TIMEOUT,
            )  # fmt: skip
        except subprocess.TimeoutExpired as expired:
            out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else ""
            err = expired.stderr.decode() if isinstance(expired.stderr, bytes) else ""
            done = subprocess.CompletedProcess(argv, -9, out, err + "\nworker timed out")
        return done, time.perf_counter() - started

    def reps(self, workload: str, client: str) -> int:
        counts: tuple[int, int, int] = self.plan[workload]
        return counts[CLIENTS.index(client)]

    def interleaved(self, srv: PebbleServer, jobs: list[Job], rounds: int) -> list[dict[str, Any]]:
        """Run each job's repetitions in up to ``rounds`` worker processes, round-robin across
        jobs, so a burst of load on the machine hits every client alike; merge per job."""
        chunks = [split(job.reps, rounds) for job in jobs]
        parts: list[list[dict[str, Any]]] = [[] for _ in jobs]
        for index in range(rounds):
            for job, sizes, out in zip(jobs, chunks, parts, strict=True):
                if index < len(sizes):
                    out.append(
                        self.worker(srv, job.client, job.workload, reps=sizes[index], **job.options)
                    )
        return [
            {"reps": [rep for part in out for rep in part["reps"]],
             "identity": out[0]["identity"], "processes": len(out)}
            for out in parts
        ]  # fmt: skip

    def mode(self, name: str, responder_port: int, async_missing: str | None) -> dict[str, Any]:
        log(f"Pebble with {report.MODE_ENV[name]} ...")
        figures: dict[str, dict[str, Any]] = {c: {} for c in (*CLIENTS, "async")}
        rounds = self.plan["rounds"]
        with PebbleServer(self.workdir, name, responder_port) as srv:
            for workload, options in WORKLOADS:
                jobs = [Job(c, workload, self.reps(workload, c), options) for c in CLIENTS]
                if workload == "threads" and async_missing is None:
                    # The async target is relative to the limit's threads: measure them together.
                    jobs.append(Job("async", "async", self.plan["async"],
                                    {"n": ASYNC_N, "concurrency": CONCURRENCY}))  # fmt: skip
                results = self.interleaved(srv, jobs, rounds[workload])
                for job, result in zip(jobs, results, strict=True):
                    figures[job.client][job.workload] = result
            if name == "nosleep":
                if async_missing is None:
                    figures["async_libraries"] = self.async_libraries(srv)
                figures["polite"] = self.polite(srv)
        return figures

    def async_libraries(self, srv: PebbleServer) -> dict[str, Any]:
        """The async workload once per HTTP library the async client offers, to show why its
        default was chosen; HTTP/2 only where ``h2`` is installed."""
        out: dict[str, Any] = {}
        for library in ("aiohttp", "httpx", "httpx-h2"):
            if library == "httpx-h2" and not module_available("h2"):
                out[library] = {"missing": "h2 is not installed"}
                continue
            out[library] = self.worker(
                srv, "async", "async", reps=1, n=ASYNC_N, concurrency=CONCURRENCY,
                http_library=library,
            )  # fmt: skip
        return out

    def polite(self, srv: PebbleServer) -> dict[str, Any]:
        """Sequential issuances whose every validation fetch the responder delays 2 s."""
        out = {}
        for client in CLIENTS:
            out[client] = self.worker(
                srv, client, "polite", reps=1, n=self.reps("polite", client),
                delay_ms=POLITE_DELAY_MS,
            )  # fmt: skip
        return out

    def import_times(self) -> dict[str, Any]:
        """CPU and wall seconds of ``import acme.client`` in fresh interpreters (after one
        warm-up run that writes the bytecode caches)."""
        out: dict[str, Any] = {}
        for client in ("ours", "acme59"):
            cpu, wall = [], []
            for run in range(self.plan["import"] + 1):
                done = subprocess.run(
                    [str(self.python[client]), "-c", IMPORT_SNIPPET], capture_output=True,
                    text=True, check=True, env=clean_env(), cwd=self.workdir,
                )  # fmt: skip
                if run:
                    c, w = (float(x) for x in done.stdout.split())
                    cpu.append(c)
                    wall.append(w)
            out[client] = {"cpu": cpu, "wall": wall}
            log(f"  import acme.client {client}: {statistics.median(cpu) * 1000:.0f} ms CPU")
        return out


def meta(plan_name: str, async_missing: str | None) -> dict[str, Any]:
    def output(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return ""

    return {
        "plan": plan_name,
        "commit": output(["git", "rev-parse", "--short", "HEAD"]),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pebble": output(["dpkg-query", "-W", "-f=${Version}", "pebble"]) or "unknown",
        "async_missing": async_missing,
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_before": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ACME client benchmarks against Pebble")
    parser.add_argument("--quick", action="store_true", help="NOSLEEP mode only, fewer reps")
    parser.add_argument("--json", type=Path, default=BENCH / "results.json")
    args = parser.parse_args(argv)
    if shutil.which("pebble") is None or shutil.which("pebble-challtestsrv") is None:
        log("pebble and pebble-challtestsrv are needed (Debian: apt-get install pebble)")
        return 2
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    baseline = baseline_python()
    async_missing = async_available()
    if async_missing:
        log(f"async client not measured: {async_missing}")
    results: dict[str, Any] = {"meta": meta("quick" if args.quick else "full", async_missing)}
    with tempfile.TemporaryDirectory(prefix="acme-bench-") as tmp:
        suite = Suite(plan, Path(tmp), baseline)
        with responder(suite.accounts) as port:
            check_responder(port, suite.accounts)
            results["modes"] = {m: suite.mode(m, port, async_missing) for m in plan["modes"]}
        results["import"] = suite.import_times()
    results["meta"]["incidents"] = suite.incidents
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    results["meta"]["load_after"] = round(os.getloadavg()[0], 2)
    rows = report.rows(results)
    results["table"] = rows
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(report.render(rows, results["meta"]))
    log(f"raw figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
