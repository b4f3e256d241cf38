"""What the ``acme`` command line prints when the CA (or the user) sends something hostile or
wrong: control characters escaped on every output path, authorizations for names it never
asked for refused, and one clear line instead of a traceback (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SUBPROCESS_TIMEOUT = 60


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"https_proxy", "http_proxy"}}
    env["PYTHONWARNINGS"] = "error"
    return env


# -- serve-test-ca --host ----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "0.0.0.0", "::", "192.0.2.1", "ca.example"])
def test_serve_test_ca_refuses_a_non_loopback_host_in_one_line(host: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acme", "serve-test-ca", "--host", host],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
        env=_clean_env(),
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("acme serve-test-ca: error: argument --host: ")
    assert f"{host!r} is not a loopback address" in lines[0]
    assert "loopback only (use 127.0.0.1 or ::1)" in lines[0]
