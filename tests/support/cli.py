"""Running the ``acme`` command line in tests, and the static web server its --webroot needs."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acme.cli import main

__all__ = ["assert_one_line_error", "child_env", "run", "spawn", "web_server"]

# Run as a child, with the capabilities that let root ignore file permissions dropped from
# the bounding set (prctl PR_CAPBSET_DROP) before exec, so the child obeys modes as any user.
_UNPRIVILEGED = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
os.execv(sys.executable, [sys.executable, "-m", "acme", *sys.argv[1:]])
"""


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """``acme ARGV`` in-process: (exit status, stdout, stderr)."""
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(err: str) -> str:
    """The one error line of ``err``; other lines may only be progress lines ("[  0.01s] ...")."""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if not line.startswith("[")]
    assert len(lines) == 1, err
    assert "error:" in lines[0]
    assert err.rstrip().endswith(lines[0])
    return lines[0]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def web_server(root: Path, port: int = 0) -> Iterator[int]:
    """A static web server for ``root`` on 127.0.0.1 (what --webroot expects); yields its port."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def child_env(**extra: str) -> dict[str, str]:
    """The environment for an ``acme`` child: no proxies, warnings are errors, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"https_proxy", "http_proxy"}}
    env["PYTHONWARNINGS"] = "error"
    env.update(extra)
    return env


def spawn(*argv: Any, env: dict[str, str] | None = None, obey_modes: bool = False) -> Any:
    """Start ``python -m acme ARGV`` as a real child process (text pipes for its output).

    ``obey_modes``: as root, drop the capabilities that bypass file modes first, so that a
    read-only folder is read-only for the child too (a no-op for other users).
    """
    args = [str(arg) for arg in argv]
    if obey_modes and os.geteuid() == 0:
        command = [sys.executable, "-c", _UNPRIVILEGED, *args]
    else:
        command = [sys.executable, "-m", "acme", *args]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else child_env(),
    )
