"""Helpers for command-line tests: ``acme serve-test-ca`` as a real subprocess on loopback,
and a dns-01 hook script that publishes records through its management API.

The server's stdout and stderr go to files (no pipe can fill up and stall it); its first
stdout lines (``KEY VALUE``) are read with a deadline. Every server is stopped with SIGTERM at
teardown and must exit 0 without a traceback, having removed its temporary files.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from support.cli import run

__all__ = ["HOOK_SOURCE", "ServedCA", "clean_env", "issue_with_webroot", "start_served_ca"]


START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

#: A dns-01 hook in the shape both lego's ``exec`` provider and ``acme issue --dns-hook`` use:
#: ``HOOK present|cleanup NAME VALUE``. It speaks to the management API with the standard
#: library only (no curl), never through a proxy, and logs each call for the test to check.
HOOK_SOURCE = """\
import json, os, sys, urllib.request

action, name, value = sys.argv[1:4]
path = {"present": "/set-txt", "cleanup": "/clear-txt"}[action]
body = json.dumps({"host": name, "value": value}).encode()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
request = urllib.request.Request(os.environ["ACME_MANAGEMENT_URL"] + path, data=body)
with opener.open(request, timeout=10) as response:
    assert response.status == 200, response.status
with open(os.environ["ACME_HOOK_LOG"], "a") as log:
    log.write(f"{action} {name}\\n")
"""


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without proxy variables (loopback only), warnings as errors."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"https_proxy", "http_proxy"}}
    env["PYTHONWARNINGS"] = "error"
    env.update(extra)
    return env


@dataclasses.dataclass
class ServedCA:
    """A running ``acme serve-test-ca`` and what its first lines said."""

    process: subprocess.Popen[bytes]
    lines: dict[str, str]
    stdout_path: Path
    stderr_path: Path

    @property
    def directory(self) -> str:
        return self.lines["directory"]

    @property
    def ca_bundle(self) -> str:
        return self.lines["ca-bundle"]

    @property
    def management(self) -> str:
        return self.lines["management"]

    @property
    def dns(self) -> tuple[str, int]:
        host, _, port = self.lines["dns"].rpartition(":")
        return host.strip("[]"), int(port)

    def ca_args(self, config_dir: Path) -> list[Any]:
        """``--directory``, ``--ca-bundle`` and ``--config-dir`` for an ``acme`` command."""
        return [
            "--directory", self.directory, "--ca-bundle", self.ca_bundle,
            "--config-dir", config_dir,
        ]  # fmt: skip

    def stop(self) -> str:
        """SIGTERM, wait, and return stderr; the process must exit 0 without a traceback."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        stderr = self.stderr_path.read_text()
        assert self.process.returncode == 0, stderr
        assert "Traceback" not in stderr
        return stderr


def _first_lines(path: Path, process: subprocess.Popen[bytes]) -> dict[str, str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = path.read_text()
        if "FOR TESTS AND DEMOS ONLY" in text:
            pairs = [line.split(None, 1) for line in text.splitlines()[:4]]
            return {key: value for key, value in pairs}
        if process.poll() is not None:
            raise AssertionError(f"serve-test-ca exited with {process.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"serve-test-ca printed no first lines in {START_TIMEOUT}s")


def start_served_ca(workdir: Path, *options: Any) -> ServedCA:
    """Start ``python -m acme serve-test-ca OPTIONS`` and read its first lines."""
    n = len(list(workdir.glob("serve*.out")))
    stdout_path, stderr_path = workdir / f"serve{n}.out", workdir / f"serve{n}.err"
    argv = [sys.executable, "-m", "acme", "serve-test-ca", *map(str, options)]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=clean_env()
        )
    try:
        lines = _first_lines(stdout_path, process)
    except BaseException:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)
        raise
    return ServedCA(process, lines, stdout_path, stderr_path)


def issue_with_webroot(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, workdir: Path, name: str, *more: Any
) -> tuple[int, str, str]:
    """``acme issue NAME`` in-process, answering http-01 through a webroot (for CAs started
    with --always-valid); key and chain go to ``workdir/NAME.key`` and ``workdir/NAME.pem``."""
    root = workdir / "www"
    root.mkdir(exist_ok=True)
    files = workdir / name
    return run(
        capsys, "issue", *ca.ca_args(workdir / "cfg"), "--agree-tos", "--webroot", root,
        "--key-file", f"{files}.key", "--chain-file", f"{files}.pem", "--force", *more, name,
    )  # fmt: skip
