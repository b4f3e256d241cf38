"""Running the ``acme`` command line in tests, and the static web server its --webroot needs."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acme.cli import main

__all__ = ["assert_one_line_error", "run", "web_server"]


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
