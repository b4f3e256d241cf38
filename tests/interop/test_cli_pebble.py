"""The ``acme`` command line against Pebble, Let's Encrypt's test CA, validating for real.

Pebble's VA connects to ports where our own challenge servers listen (``challenge_responder=
"client"``): the CLI's standalone http-01 and tls-alpn-01 servers, a static web server for
``--webroot``, and a dns-01 hook that publishes TXT records through challtestsrv (Pebble's DNS).
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from acme.cli import main
from acme.cli._files import generate_key, private_pem
from interop.pebble_harness import PebbleInstance, require_binaries, start_pebble
from support.cli import assert_one_line_error, web_server

pytestmark = pytest.mark.pebble


@pytest.fixture(scope="module")
def peb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    """Pebble validating http-01 / tls-alpn-01 on free loopback ports, for our servers."""
    require_binaries()
    with start_pebble(tmp_path_factory.mktemp("pebble-cli"), challenge_responder="client") as p:
        yield p


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def ca(peb: PebbleInstance, config: Path) -> list[Any]:
    return ["--directory", peb.directory_url, "--ca-bundle", peb.ca_bundle, "--config-dir", config]


def files(tmp_path: Path, stem: str) -> list[Any]:
    return ["--key-file", tmp_path / f"{stem}.key", "--chain-file", tmp_path / f"{stem}.pem"]


def leaf(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def _thumbprint(out: str) -> str:
    return next(line for line in out.splitlines() if "thumbprint" in line)


def test_issue_revoke_renewal_info_and_account_lifecycle(
    capsys: pytest.CaptureFixture[str], peb: PebbleInstance, tmp_path: Path
) -> None:
    common = ca(peb, tmp_path / "cfg")
    standalone = ["--bind", "127.0.0.1", "--http-port", peb.http_port]

    status, out, err = run(capsys, "account", "register", *common, "--email", "a@example.com")
    assert status == 1
    assert "--agree-tos" in assert_one_line_error(err)

    status, out, err = run(
        capsys, "account", "register", *common, "--agree-tos", "--email", "a@example.com"
    )
    assert status == 0, err
    assert "status  valid" in out
    assert "mailto:a@example.com" in out

    status, out, err = run(
        capsys, "issue", *common, *standalone, *files(tmp_path, "one"), "one.example.com",
        "www.one.example.com",
    )  # fmt: skip
    assert status == 0, err
    assert "using the saved account" in err
    assert "certificate issued for one.example.com, www.one.example.com" in out
    chain = tmp_path / "one.pem"
    assert peb.cert_status(leaf(chain).serial_number)["Status"] == "Valid"

    # Pebble 2.4 has no ARI: a clean one-line error, exit status 1.
    status, out, err = run(capsys, "renewal-info", *common, chain)
    assert status == 1
    assert out == ""
    assert "renewalInfo" in assert_one_line_error(err)

    status, out, err = run(capsys, "revoke", *common, "--reason", "keyCompromise", chain)
    assert status == 0, err
    assert "reason keyCompromise" in out
    assert peb.cert_status(leaf(chain).serial_number)["Status"] == "Revoked"
    status, out, err = run(capsys, "revoke", *common, chain)
    assert status == 1
    assert "alreadyRevoked" in assert_one_line_error(err)

    status, out, err = run(capsys, "account", "update", *common, "--email", "b@example.com")
    assert status == 0, err
    assert "mailto:b@example.com" in out
    assert "a@example.com" not in out

    status, before, err = run(capsys, "account", "show", *common)
    assert status == 0, err
    status, after, err = run(capsys, "account", "rollover", *common)
    assert status == 0, err
    assert _thumbprint(after) != _thumbprint(before)
    # The rolled-over key is saved and works: issue again with it.
    status, out, err = run(
        capsys, "issue", *common, *standalone, *files(tmp_path, "two"), "two.example.com"
    )
    assert status == 0, err
    status, shown, err = run(capsys, "account", "show", *common)
    assert _thumbprint(shown) == _thumbprint(after)

    status, out, err = run(capsys, "account", "deactivate", *common, "--yes")
    assert status == 0, err
    assert "deactivated" in out
    retired = [p.name for p in (tmp_path / "cfg" / "accounts").iterdir()]
    assert len(retired) == 1
    assert ".deactivated-" in retired[0]
    status, out, err = run(capsys, "account", "show", *common)
    assert status == 1
    assert "no saved account" in assert_one_line_error(err)


def test_webroot(capsys: pytest.CaptureFixture[str], peb: PebbleInstance, tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    with web_server(root, port=peb.http_port):
        status, out, err = run(
            capsys, "issue", *ca(peb, tmp_path / "cfg"), "--agree-tos", "--webroot", root,
            *files(tmp_path, "web"), "web.example.com",
        )  # fmt: skip
    assert status == 0, err
    assert "certificate issued for web.example.com" in out
    assert list(root.iterdir()) == []  # challenge files and folders removed


def test_tls_alpn01(
    capsys: pytest.CaptureFixture[str], peb: PebbleInstance, tmp_path: Path
) -> None:
    status, out, err = run(
        capsys, "issue", *ca(peb, tmp_path / "cfg"), "--agree-tos", "--tls-alpn", "--bind",
        "127.0.0.1", "--tls-port", peb.tls_port, *files(tmp_path, "alpn"), "alpn.example.com",
    )  # fmt: skip
    assert status == 0, err
    assert "tls-alpn-01 challenge answered" in err
    assert "certificate issued for alpn.example.com" in out


HOOK = """\
import json, sys, urllib.request
management, action, name, value = sys.argv[1:5]
with open(sys.argv[0] + ".log", "a") as log:
    log.write(f"{action} {name}\\n")
endpoint = "set-txt" if action == "present" else "clear-txt"
body = {"host": name + ".", "value": value} if action == "present" else {"host": name + "."}
request = urllib.request.Request(
    f"{management}/{endpoint}", json.dumps(body).encode(), method="POST"
)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(request, timeout=5).read()
"""


def test_dns01_hook_with_a_wildcard(
    capsys: pytest.CaptureFixture[str], peb: PebbleInstance, tmp_path: Path
) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    command = f"{sys.executable} {hook} {peb.challtestsrv.management_url}"
    status, out, err = run(
        capsys, "issue", *ca(peb, tmp_path / "cfg"), "--agree-tos", "--dns-hook", command,
        *files(tmp_path, "wild"), "*.wild.example.com", "wild.example.com",
    )  # fmt: skip
    assert status == 0, err
    assert "certificate issued for *.wild.example.com, wild.example.com" in out
    calls = (tmp_path / "hook.py.log").read_text().splitlines()
    # One TXT name for both identifiers (RFC 8555 section 8.4): present twice, cleanup twice.
    assert sorted(calls) == sorted(
        ["present _acme-challenge.wild.example.com"] * 2
        + ["cleanup _acme-challenge.wild.example.com"] * 2
    )
    assert peb.challtestsrv.lookup_txt("_acme-challenge.wild.example.com") == []


def test_revoke_with_the_certificate_key_and_no_account(
    capsys: pytest.CaptureFixture[str], peb: PebbleInstance, tmp_path: Path
) -> None:
    status, out, err = run(
        capsys, "issue", *ca(peb, tmp_path / "cfg"), "--agree-tos", "--bind", "127.0.0.1",
        "--http-port", peb.http_port, "--key-type", "rsa2048", *files(tmp_path, "ck"),
        "certkey.example.com",
    )  # fmt: skip
    assert status == 0, err
    other = ca(peb, tmp_path / "empty-config")
    # Negative control: another key is refused before anything is sent.
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(private_pem(generate_key("rsa2048")))
    status, out, err = run(capsys, "revoke", *other, "--cert-key", wrong, tmp_path / "ck.pem")
    assert status == 1
    assert "is not the key of" in assert_one_line_error(err)
    status, out, err = run(
        capsys, "revoke", *other, "--cert-key", tmp_path / "ck.key", tmp_path / "ck.pem"
    )
    assert status == 0, err
    assert "revoked certificate" in out
    assert "revoking with the certificate's own key" in err
    assert peb.cert_status(leaf(tmp_path / "ck.pem").serial_number)["Status"] == "Revoked"
    assert not (tmp_path / "empty-config").exists()  # no account was created


def test_external_account_binding(
    capsys: pytest.CaptureFixture[str], pebble_factory: Any, tmp_path: Path
) -> None:
    hmac_key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    eab_peb = pebble_factory(eab_required=True, eab_keys={"kid-7": hmac_key})
    common = [*ca(eab_peb, tmp_path / "cfg"), "--agree-tos"]
    status, out, err = run(capsys, "account", "register", *common)
    assert status == 1
    assert "external account binding" in assert_one_line_error(err)
    status, out, err = run(
        capsys, "account", "register", *common, "--eab-kid", "kid-7", "--eab-hmac-key", "AAAA"
    )
    assert status == 1  # wrong HMAC key: refused by the CA, reported in one line
    assert "the server refused" in assert_one_line_error(err)
    status, out, err = run(
        capsys, "account", "register", *common, "--eab-kid", "kid-7", "--eab-hmac-key", hmac_key
    )
    assert status == 0, err
    assert "status  valid" in out
