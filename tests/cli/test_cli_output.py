"""What the ``acme`` command line prints when the CA (or the user) sends something hostile or
wrong: control characters escaped on every output path, authorizations for names it never
asked for refused, and one clear line instead of a traceback (issue 11)."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from acme import messages
from acme._core.http import Headers, HTTPRequest, HTTPResponse
from acme.cli._output import terminal_safe
from acme.testing import ACMETestServer
from support.cli import assert_one_line_error, run

SUBPROCESS_TIMEOUT = 60
CLI_SOURCE = Path(__file__).resolve().parents[2] / "src" / "acme" / "cli"

#: What a hostile CA sent (issue 11): set the window title, bell, clear the screen; then a
#: C1 CSI, DEL, and a bidi override that would reverse the rest of the line.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f\u202eevil"
HOSTILE_SHOWN = r"\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f\u202eevil"
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_terminal_safe(*texts: str) -> None:
    for text in texts:
        assert not RAW_CONTROL.search(text), repr(text)


@contextlib.contextmanager
def tampered(
    server: ACMETestServer, edit: Callable[[HTTPRequest, HTTPResponse], HTTPResponse]
) -> Iterator[None]:
    """Make the running test CA hostile: every response passes through ``edit`` first."""
    honest = server.core.handle

    def handle(request: HTTPRequest) -> HTTPResponse:
        return edit(request, honest(request))

    server.core.handle = handle  # type: ignore[method-assign]
    try:
        yield
    finally:
        del server.core.handle  # back to the class's method


def with_json(
    response: HTTPResponse, change: Callable[[Any], Any], status: int = 0
) -> HTTPResponse:
    body = change(json.loads(response.content))
    headers = Headers(list(response.headers.items()))
    return HTTPResponse(
        status or response.status_code, headers, json.dumps(body).encode(), response.url
    )


def ca_args(server: ACMETestServer, tmp_path: Path) -> list[Any]:
    return [
        "--directory", server.directory_url, "--ca-bundle", server.ca_bundle_path,
        "--config-dir", tmp_path / "cfg",
    ]  # fmt: skip


def files(tmp_path: Path) -> list[Any]:
    return ["--key-file", tmp_path / "k.pem", "--chain-file", tmp_path / "c.pem"]


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


# -- terminal safety ---------------------------------------------------------------------------


def test_terminal_safe_escapes_c0_del_c1_and_bidi_controls_visibly() -> None:
    assert terminal_safe(HOSTILE) == HOSTILE_SHOWN
    assert terminal_safe("tab\tnul\x00 nl\n cr\r") == r"tab\x09nul\x00 nl\x0a cr\x0d"
    assert terminal_safe("a\nb\x1b", newlines=True) == "a\nb\\x1b"
    assert terminal_safe("\u2028\u2066\u061c") == r"\u2028\u2066\u061c"
    # Printable text, non-ASCII included, is left alone.
    assert (
        terminal_safe("caf\u00e9 \u00fc.example \u2014 ok [0.12s]")
        == "caf\u00e9 \u00fc.example \u2014 ok [0.12s]"
    )


def test_nothing_in_the_cli_writes_around_the_sanitiser() -> None:
    """Every output path goes through acme.cli._output (emit, result, Reporter)."""
    offenders = []
    for path in sorted(CLI_SOURCE.glob("*.py")):
        if path.name == "_output.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.name}:{node.lineno} print()")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("stdout", "stderr")
                and getattr(node.value, "id", None) == "sys"
            ):
                offenders.append(f"{path.name}:{node.lineno} sys.{node.attr}")
    assert offenders == []


def test_a_hostile_validation_problem_is_printed_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def validator(*_: Any) -> messages.Error:
        return messages.Error.with_code("unauthorized", detail=HOSTILE)

    (tmp_path / "www").mkdir()
    with ACMETestServer(validator=validator) as server:
        status, out, err = run(
            capsys, "issue", *ca_args(server, tmp_path), "--agree-tos", "--webroot",
            tmp_path / "www", *files(tmp_path), "x.demo.test",
        )  # fmt: skip
    assert status == 1
    line = assert_one_line_error(err)
    assert line == f"acme: error: validation failed for x.demo.test (http-01: {HOSTILE_SHOWN})"
    assert_terminal_safe(out, err)


def test_a_hostile_problem_document_is_printed_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def refuse_orders(request: HTTPRequest, response: HTTPResponse) -> HTTPResponse:
        if not request.url.endswith("/new-order"):
            return response
        problem = {"type": messages.ERROR_PREFIX + "rejectedIdentifier", "detail": HOSTILE}
        return with_json(response, lambda _: problem, status=400)

    with ACMETestServer(always_valid=True) as server, tampered(server, refuse_orders):
        status, out, err = run(
            capsys, "issue", *ca_args(server, tmp_path), "--agree-tos", *files(tmp_path),
            "--bind", "127.0.0.1", "--http-port", 0, "x.demo.test",
        )  # fmt: skip
    assert status == 1
    assert assert_one_line_error(err) == (
        f"acme: error: the server refused: rejectedIdentifier: {HOSTILE_SHOWN}"
    )
    assert_terminal_safe(out, err)


def test_hostile_account_data_on_stdout_is_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with ACMETestServer(always_valid=True) as server:
        ca = ca_args(server, tmp_path)
        status, _, err = run(capsys, "account", "register", *ca, "--agree-tos")
        assert status == 0, err

        def hostile_contact(request: HTTPRequest, response: HTTPResponse) -> HTTPResponse:
            account = "/acct/" in request.url or request.url.endswith("/new-account")
            if not account or response.status_code != 200:
                return response
            return with_json(response, lambda body: {**body, "contact": ["mailto:" + HOSTILE]})

        with tampered(server, hostile_contact):
            status, out, err = run(capsys, "account", "show", *ca)
    assert status == 0, err
    assert f"contact mailto:{HOSTILE_SHOWN}" in out
    assert_terminal_safe(out, err)


def test_hook_output_and_user_arguments_are_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(f"import sys\nsys.exit({HOSTILE!r})\n")
    with ACMETestServer() as server:
        status, out, err = run(
            capsys, "issue", *ca_args(server, tmp_path), "--agree-tos", *files(tmp_path),
            "--dns-hook", f"{sys.executable} {hook}", "h.demo.test",
        )  # fmt: skip
    assert status == 1
    warning, error = (line for line in err.splitlines() if line.startswith("acme: "))
    assert warning.startswith("acme: warning: dns hook cleanup")
    assert error.startswith("acme: error: dns hook present")
    assert error.endswith(f"exited with status 1: {HOSTILE_SHOWN}")  # the hook's own stderr
    assert_terminal_safe(out, err)
    status, out, err = run(capsys, "revoke", "--reason", HOSTILE, "c.pem")
    assert status == 2
    assert HOSTILE_SHOWN in assert_one_line_error(err)
    assert_terminal_safe(out, err)


# -- authorizations for names the CLI never asked for --------------------------------------


def _authz_for(value: str) -> Callable[[HTTPRequest, HTTPResponse], HTTPResponse]:
    def edit(request: HTTPRequest, response: HTTPResponse) -> HTTPResponse:
        if "/authz/" not in request.url or response.status_code != 200:
            return response
        return with_json(
            response, lambda body: {**body, "identifier": {"type": "dns", "value": value}}
        )

    return edit


def _challenges_answered(server: ACMETestServer) -> list[str]:
    return [
        chall.status
        for authz in server.core.authorizations.values()
        for chall in authz.challenges
        if chall.status != "pending"
    ]


@pytest.mark.parametrize("value", ["victim.example", HOSTILE + ".example"])
def test_an_authorization_for_a_name_never_asked_for_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    with ACMETestServer(always_valid=True) as server, tampered(server, _authz_for(value)):
        status, out, err = run(
            capsys, "issue", *ca_args(server, tmp_path), "--agree-tos", *files(tmp_path),
            "--bind", "127.0.0.1", "--http-port", 0, "a.demo.test", "b.demo.test",
        )  # fmt: skip
        answered = _challenges_answered(server)
    assert status == 1
    line = assert_one_line_error(err)
    assert line.startswith(f"acme: error: the CA put dns identifier {terminal_safe(value)} in an ")
    assert line.endswith(
        "but this order asked only for dns a.demo.test, dns b.demo.test: "
        "refusing to answer any challenge"
    )
    assert answered == []  # nothing was proved for anyone
    assert out == ""
    assert not (tmp_path / "k.pem").exists()
    assert_terminal_safe(out, err)


def test_an_order_with_an_extra_identifier_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def extra(request: HTTPRequest, response: HTTPResponse) -> HTTPResponse:
        if not request.url.endswith("/new-order") or response.status_code != 201:
            return response
        victim = {"type": "ip", "value": "192.0.2.7"}
        return with_json(
            response, lambda body: {**body, "identifiers": [*body["identifiers"], victim]}
        )

    with ACMETestServer(always_valid=True) as server, tampered(server, extra):
        status, _, err = run(
            capsys, "issue", *ca_args(server, tmp_path), "--agree-tos", *files(tmp_path),
            "--bind", "127.0.0.1", "--http-port", 0, "c.demo.test",
        )  # fmt: skip
        answered = _challenges_answered(server)
    assert status == 1
    assert assert_one_line_error(err) == (
        "acme: error: the CA put ip identifier 192.0.2.7 in the order, but this order asked "
        "only for dns c.demo.test: refusing to answer any challenge"
    )
    assert answered == []


def test_a_wildcard_authorization_must_say_wildcard(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """RFC 8555 section 7.1.4: the authorization for *.x is for x with "wildcard": true; one
    without the flag proves x itself, which was not asked for."""

    def drop_flag(request: HTTPRequest, response: HTTPResponse) -> HTTPResponse:
        if "/authz/" not in request.url or response.status_code != 200:
            return response
        return with_json(response, lambda body: {k: v for k, v in body.items() if k != "wildcard"})

    hook = tmp_path / "hook.py"
    hook.write_text("")
    with ACMETestServer(always_valid=True) as server, tampered(server, drop_flag):
        status, _, err = run(
            capsys, "issue", *ca_args(server, tmp_path), "--agree-tos", *files(tmp_path),
            "--dns-hook", f"{sys.executable} {hook}", "*.w.demo.test",
        )  # fmt: skip
    assert status == 1
    assert "the CA put dns identifier w.demo.test in an authorization" in assert_one_line_error(err)
