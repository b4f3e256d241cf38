"""One benchmark workload for one client, in a process of its own; prints one JSON line.

Run by run.py with the Python of the environment under test (the project's ``.venv`` for ours,
the async client and the bare-bones limit; ``benchmarks/.venv-acme59`` for acme 5.9), so the
process CPU time and peak RSS it reports are the client's alone: Pebble, challtestsrv and the
http-01 responder are other processes.

What is counted, and how:
- HTTP requests: from Pebble's own log, which writes one ``<METHOD> <path> -> calling handler()``
  line per request before handling it; the lines a workload adds are its requests. This is the
  server's view, the same for every client and HTTP library.
- Connections: every TCP ``connect`` to the ACME server's port (``socket.socket.connect``, which
  urllib3 and asyncio both call) and every TLS session created (``ssl.SSLContext.wrap_socket``
  for blocking sockets, ``wrap_bio`` for asyncio): patched here before any client is imported.
- CPU: ``time.process_time`` (all threads) around the measured part; wall: ``perf_counter``.
- Memory: the peak RSS (``VmHWM``) of this process at the end, and its RSS when the measured
  part started (after imports and account set-up).

Workloads (``--workload``): ``one`` (fresh client + new account + one issuance, ``--reps``
times), ``seq`` (``-n`` issuances in a row on one account), ``threads`` (``-n`` on one account
from ``--threads`` threads), ``async`` (``-n`` on one account, ``--concurrency`` at a time),
``polite`` (like ``seq``, with the responder delaying every validation fetch ``--delay-ms``).
The async client's HTTP library can be chosen (``--http-library``) to compare them.
Every issued chain is checked (leaf names) after the clock stops.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import importlib
import json
import os
import resource
import secrets
import socket
import ssl
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import b64, jwk

_COUNTS = {"tcp": 0, "tls": 0}
_LOCK = threading.Lock()
CLIENT_MODULES = {"ours": "client_acme", "acme59": "client_acme", "limit": "rawclient",
                  "async": "client_async"}  # fmt: skip


def _bump(kind: str) -> None:
    with _LOCK:
        _COUNTS[kind] += 1


def install_counters(port: int) -> None:
    """Count TCP connects to ``port`` and TLS sessions, whatever library makes them."""
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)

        def patched(self: socket.socket, address: Any, _orig: Any = original) -> Any:
            if isinstance(address, tuple) and len(address) >= 2 and address[1] == port:
                _bump("tcp")
            return _orig(self, address)

        setattr(socket.socket, name, patched)
    for name in ("wrap_socket", "wrap_bio"):
        original = getattr(ssl.SSLContext, name)

        def wrapped(self: ssl.SSLContext, *args: Any, _orig: Any = original, **kw: Any) -> Any:
            _bump("tls")
            return _orig(self, *args, **kw)

        setattr(ssl.SSLContext, name, wrapped)


def connections() -> dict[str, int]:
    with _LOCK:
        return dict(_COUNTS)


class PebbleLog:
    """Requests Pebble logged since a mark (its log is a file of ours, written synchronously)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size

    def since(self, offset: int) -> collections.Counter[str]:
        with self.path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        counts: collections.Counter[str] = collections.Counter()
        for line in text.splitlines():
            if line.endswith("-> calling handler()"):
                method, path = line.split()[-5:-3]
                counts[f"{method} {path}"] += 1
        return counts


class Account:
    """An account key, registered with the stateless responder under a fresh label."""

    def __init__(self, accounts_dir: Path, delay_ms: int = 0) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        thumbprint = b64.b64encode(jwk.JWKEC(key=self.key).thumbprint()).decode()
        self.label = "a" + secrets.token_hex(6)
        (accounts_dir / self.label).write_text(f"{thumbprint} {delay_ms}\n")
        self.serial = 0

    def csr(self) -> tuple[list[str], bytes, bytes]:
        """A CSR for one fresh name under this account's label: (names, PEM, DER)."""
        self.serial += 1
        name = f"n{self.serial}.{self.label}.example.com"
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        return (
            [name],
            csr.public_bytes(serialization.Encoding.PEM),
            csr.public_bytes(serialization.Encoding.DER),
        )


def check_chain(pem: str, names: list[str]) -> None:
    """The leaf of ``pem`` must be for exactly ``names``: a wrong or empty answer fails the run."""
    leaf = x509.load_pem_x509_certificates(pem.encode())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    got = sorted(san.get_values_for_type(x509.DNSName))
    if got != sorted(names):
        raise SystemExit(f"issued certificate is for {got}, expected {names}")


def rss_kib(field: str = "VmRSS") -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in KiB, from /proc.

    Not ``ru_maxrss``: Linux carries it over ``execve`` from the forking parent, so every worker
    would report at least run.py's own size. ``VmHWM`` belongs to this process image alone.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if field == "VmHWM" else 0


def summarize_requests(counts: collections.Counter[str], issuances: int) -> dict[str, Any]:
    authz = counts.get("POST /authZ/", 0)
    orders = counts.get("POST /my-order/", 0)
    return {
        "requests": sum(counts.values()),
        "by_path": dict(sorted(counts.items())),
        # The first fetch of each authorization (after newOrder) is not a poll.
        "authz_polls_per_authz": (authz - issuances) / issuances if issuances else 0.0,
        "order_polls_per_order": orders / issuances if issuances else 0.0,
    }


class Runner:
    def __init__(self, args: argparse.Namespace, module: Any) -> None:
        self.args = args
        self.module = module
        self.log = PebbleLog(args.pebble_log)

    def new_client(self, account: Account) -> Any:
        return self.module.Client(self.args.directory, self.args.ca, account.key)

    def one(self) -> dict[str, Any]:
        """Fresh client, new account, one issuance; ``--reps`` times, after one unmeasured
        issuance: a client that imports its dependencies on first use (ours: requests,
        josepy, cryptography) would otherwise count them in its first repetition, where the
        others import them before any clock starts (``import acme.client`` is timed apart)."""
        self._issue_once(Account(self.args.accounts_dir))
        reps: list[dict[str, Any]] = []
        for _ in range(self.args.reps):
            account = Account(self.args.accounts_dir)
            names, pem, der = account.csr()
            conn0, mark = connections(), self.log.mark()
            t0, c0 = time.perf_counter(), time.process_time()
            client = self.new_client(account)
            client.register()
            chain = client.issue(names, pem, der)
            client.close()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            conn1 = connections()
            check_chain(chain, names)
            reps.append({
                "wall": wall, "cpu": cpu,
                "tcp": conn1["tcp"] - conn0["tcp"], "tls": conn1["tls"] - conn0["tls"],
                **summarize_requests(self.log.since(mark), 1),
            })  # fmt: skip
        return {"reps": reps}

    def _issue_once(self, account: Account) -> None:
        names, pem, der = account.csr()
        client = self.new_client(account)
        client.register()
        check_chain(client.issue(names, pem, der), names)
        client.close()

    def batch(self, delay_ms: int = 0) -> dict[str, Any]:
        """``-n`` issuances on one account, in a row or from ``--threads`` threads."""
        reps = []
        for _ in range(self.args.reps):
            account = Account(self.args.accounts_dir, delay_ms)
            csrs = [account.csr() for _ in range(self.args.n)]
            conn0 = connections()
            client = self.new_client(account)
            client.register()
            latencies: list[float] = []
            chains: list[str] = []

            def issue(
                csr: tuple[list[str], bytes, bytes],
                client: Any = client,
                latencies: list[float] = latencies,
            ) -> str:
                start = time.perf_counter()
                chain: str = client.issue(*csr)
                latencies.append(time.perf_counter() - start)
                return chain

            mark, rss0 = self.log.mark(), rss_kib()
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                if self.args.workload == "threads":
                    with concurrent.futures.ThreadPoolExecutor(self.args.threads) as pool:
                        chains = list(pool.map(issue, csrs))
                else:
                    chains = [issue(csr) for csr in csrs]
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                rss = (rss0, rss_kib("VmHWM"))
                counts = self.log.since(mark)
            finally:
                client.close()
            conn1 = connections()
            for chain, (names, _, _) in zip(chains, csrs, strict=True):
                check_chain(chain, names)
            reps.append(self._batch_result(wall, cpu, latencies, counts, conn0, conn1, rss))
        return {"reps": reps}

    def _batch_result(
        self,
        wall: float,
        cpu: float,
        latencies: list[float],
        counts: collections.Counter[str],
        conn0: dict[str, int],
        conn1: dict[str, int],
        rss: tuple[int, int],
    ) -> dict[str, Any]:
        """One repetition's figures; ``rss`` is (RSS before, peak RSS right after) in KiB."""
        n = self.args.n
        return {
            "n": n, "wall": wall, "per_second": n / wall, "cpu_per_issuance": cpu / n,
            "latency_median": statistics.median(latencies), "latency_max": max(latencies),
            "tcp": conn1["tcp"] - conn0["tcp"], "tls": conn1["tls"] - conn0["tls"],
            "rss_before_kib": rss[0], "peak_rss_kib": rss[1], **summarize_requests(counts, n),
        }  # fmt: skip

    def run_async(self) -> dict[str, Any]:
        return {"reps": [asyncio.run(self._async_rep()) for _ in range(self.args.reps)]}

    async def _async_rep(self) -> dict[str, Any]:
        account = Account(self.args.accounts_dir)
        csrs = [account.csr() for _ in range(self.args.n)]
        conn0 = connections()
        client = await self.module.Client.create(
            self.args.directory, self.args.ca, account.key, self.args.http_library
        )
        await client.register()
        gate = asyncio.Semaphore(self.args.concurrency)
        latencies: list[float] = []

        async def issue(csr: tuple[list[str], bytes, bytes]) -> str:
            async with gate:
                start = time.perf_counter()
                chain: str = await client.issue(*csr)
                latencies.append(time.perf_counter() - start)
                return chain

        mark, rss0 = self.log.mark(), rss_kib()
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            chains = await asyncio.gather(*(issue(csr) for csr in csrs))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rss = (rss0, rss_kib("VmHWM"))
            counts = self.log.since(mark)
        finally:
            await client.close()
        conn1 = connections()
        for chain, (names, _, _) in zip(chains, csrs, strict=True):
            check_chain(chain, names)
        return self._batch_result(wall, cpu, latencies, counts, conn0, conn1, rss)


def check_identity(expect: str) -> dict[str, str]:
    """Make sure the ``acme`` imported is the one meant: ours from src/, or 5.9.0 from PyPI."""
    import acme

    where = str(Path(acme.__file__).resolve())
    if expect == "ours":
        src = str(Path(__file__).resolve().parent.parent / "src" / "acme")
        if not where.startswith(src):
            raise SystemExit(f"expected our acme from {src}, imported {where}")
        return {"acme": where}
    from importlib import metadata

    version = metadata.version("acme")
    if version != "5.9.0" or "site-packages" not in where:
        raise SystemExit(f"expected acme 5.9.0 from PyPI, imported {version} from {where}")
    return {"acme": where, "version": version}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one benchmark workload (see module docstring)")
    parser.add_argument("--client", choices=sorted(CLIENT_MODULES), required=True)
    parser.add_argument("--workload", choices=["one", "seq", "threads", "async", "polite"])
    parser.add_argument("--directory", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--pebble-log", type=Path, required=True)
    parser.add_argument("--accounts-dir", type=Path, required=True)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument(
        "--http-library", default="default", choices=["default", "aiohttp", "httpx", "httpx-h2"]
    )
    args = parser.parse_args(argv)
    port = int(args.directory.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    install_counters(port)
    module = importlib.import_module(CLIENT_MODULES[args.client])
    identity = check_identity(args.client) if args.client in ("ours", "acme59") else {}
    runner = Runner(args, module)
    if args.workload == "one":
        result = runner.one()
    elif args.workload == "async":
        result = runner.run_async()
    else:
        result = runner.batch(args.delay_ms if args.workload == "polite" else 0)
    result["identity"] = identity
    result["peak_rss_kib"] = rss_kib("VmHWM")
    result["python"] = sys.version.split()[0]
    result["pid"] = os.getpid()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
