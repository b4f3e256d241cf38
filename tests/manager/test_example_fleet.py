"""examples/fleet_postgresql.py: two node processes share one real PostgreSQL; the CA (real
http-01 validation) only ever reaches node B, yet node A's orders succeed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from acme.manager import Manager
from acme.manager.postgresql import PostgresStore
from acme.testing import ACMETestServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet_postgresql.py"
TIMEOUT = 60


def _node(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(node: subprocess.Popen[str], marker: str) -> list[str]:
    assert node.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = node.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if marker in line:
            return lines
    node.kill()
    node.wait()
    pytest.fail(f"no {marker!r} from the node; it said: {lines}")


def test_two_nodes_one_database(
    acme_test_server_factory: Callable[..., ACMETestServer], postgres_dsn: str, tmp_path: Path
) -> None:
    ca = acme_test_server_factory()  # real validation: http-01 requests to 127.0.0.1
    common = ["--dsn", postgres_dsn, "--directory", ca.directory_url, "--ca-bundle",
              ca.ca_bundle_path, "--account-key", str(tmp_path / "account.pem"), "--agree-tos",
              "--bind", "127.0.0.1"]  # fmt: skip
    node_b = _node([*common, "--node", "node-b", "--http-port", "0", "--interval", "600"])
    try:
        started = _read_until(node_b, "serving http-01 answers on")
        port = int(started[-1].rsplit(":", 1)[1])
        ca.challenge_validator.http_port = port  # the CA reaches node B only
        _read_until(node_b, "run done")
        node_a = _node([*common, "--node", "node-a", "--http-port", "0", "--once",
                        "--name", "one.test", "--name", "two.test"])  # fmt: skip
        output, _ = node_a.communicate(timeout=TIMEOUT)
        assert node_a.returncode == 0, output
        assert "issued one.test" in output
        assert "issued two.test" in output
        assert "node-a: run done, 2 issued or renewed, 0 failed" in output
    finally:
        os.kill(node_b.pid, signal.SIGTERM)
        rest, _ = node_b.communicate(timeout=TIMEOUT)
    assert node_b.returncode == 0, rest
    assert ca.core.internal_errors == []
    with PostgresStore(postgres_dsn) as store:
        manager = Manager(store, {})
        for name in ("one.test", "two.test"):
            record = manager.load(name)
            assert record is not None
            assert record.current is not None
            assert record.current.matches()
            san = record.current.leaf.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
            assert san.get_values_for_type(x509.DNSName) == [name]
        assert store.list("challenges/") == []
