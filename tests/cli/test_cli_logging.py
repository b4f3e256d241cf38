"""``acme -v`` and ``--log-file``: the library's debug log on stderr and in a file, removed
again when the command ends, with no key material in it."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from acme.cli import main

REQUEST_LINE = re.compile(
    r"acme\._net\.sync_transport DEBUG: GET https://127\.0\.0\.1:\d+/directory -> 200"
)


def test_verbose_and_log_file_carry_the_debug_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "acme.log"
    root = logging.getLogger("acme")
    level, handlers = root.level, list(root.handlers)
    status = main(["demo", "-q", "-v", "--log-file", str(log), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "issued, verified, checked and revoked" in out
    written = log.read_text("utf-8")
    for text in (written, err):
        assert REQUEST_LINE.search(text), text[:2000]
        assert re.search(r"POST https://127\.0\.0\.1:\d+/new-order -> 201", text)
        assert re.search(r"polled authorization \S+ for demo\.test: valid", text)
        assert "PRIVATE KEY" not in text
        assert '"signature"' not in text
    assert (tmp_path / "out").is_dir()
    assert "PRIVATE KEY" in next((tmp_path / "out").glob("*key*.pem")).read_text()
    # The command's handlers are gone and the level restored: nothing leaks into the caller.
    assert root.level == level
    assert root.handlers == handlers


def test_log_file_alone_keeps_stderr_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "acme.log"
    assert main(["demo", "-q", "--log-file", str(log)]) == 0
    _, err = capsys.readouterr()
    assert err == ""
    assert REQUEST_LINE.search(log.read_text("utf-8"))


def test_unwritable_log_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["demo", "-q", "--log-file", str(tmp_path / "missing" / "acme.log")])
    _, err = capsys.readouterr()
    assert status == 1
    assert err.strip().splitlines() == [
        f"acme: error: cannot open log file {tmp_path / 'missing' / 'acme.log'}: "
        "No such file or directory"
    ]


def test_every_command_takes_the_logging_options(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["demo"], ["issue"], ["revoke"], ["renewal-info"], ["account", "show"],
                    ["serve-test-ca"]):  # fmt: skip
        assert main([*command, "--help"]) == 0
        usage = capsys.readouterr().out
        assert "--verbose" in usage, command
        assert "--log-file PATH" in usage, command
