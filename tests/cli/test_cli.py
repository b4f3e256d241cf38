"""The ``acme`` command line: argument errors, files, accounts, and whole runs against the
in-process test CA (`acme.testing`) with real http-01 validation on loopback.

CLI runs go through ``acme.cli.main`` in-process (fast, and every thread it starts must be
joined before it returns, which ``filterwarnings = error`` would otherwise reveal); ``acme
demo`` and ``acme serve-test-ca`` run as real subprocesses, as a user would run them.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from acme import crypto_util, errors, messages
from acme.cli._accounts import AccountStore, default_config_dir
from acme.cli._files import check_can_write, generate_key, private_pem, write_file
from acme.cli._output import CLIError, describe
from acme.testing import ACMETestServer
from support.cli import assert_one_line_error, run, web_server

SUBPROCESS_TIMEOUT = 60


# --- argument errors: exit status 2, one line ---------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "required"),
        (["no-such-command"], "invalid choice"),
        (["issue", "--directory", "https://ca.invalid/dir"], "NAME"),
        (["issue", "--http-port", "99999", "a.test"], "port out of range"),
        (["issue", "--timeout", "0", "a.test"], "seconds must be"),
        (["issue", "--webroot", "/w", "--dns-hook", "h", "a.test"], "not allowed with"),
        (["issue", "--key-type", "dsa", "a.test"], "invalid choice"),
        (["revoke", "c.pem", "--reason", "whim"], "unknown reason"),
        (["account"], "required"),
        (["account", "update", "--directory", "https://ca.invalid/d"], "required"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    line = assert_one_line_error(err)
    assert line.startswith("acme")
    assert expected in line


def test_missing_directory_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ACME_DIRECTORY", raising=False)
    status, _, err = run(capsys, "issue", "--config-dir", tmp_path, "a.test")
    assert status == 2
    assert "--directory is required" in assert_one_line_error(err)
    # The environment variable fills it in (then the unreachable CA fails with status 1).
    monkeypatch.setenv("ACME_DIRECTORY", "ftp://ca.invalid/")
    status, _, err = run(capsys, "issue", "--config-dir", tmp_path, "a.test")
    assert status == 2
    assert "https:// URL" in assert_one_line_error(err)


def test_deactivate_needs_yes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(
        capsys, "account", "deactivate", "--directory", "https://ca.invalid/d", "--config-dir",
        tmp_path,
    )  # fmt: skip
    assert status == 2
    assert "--yes" in assert_one_line_error(err)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["demo"],
        ["issue"],
        ["revoke"],
        ["renewal-info"],
        ["account"],
        ["account", "register"],
        ["account", "show"],
        ["account", "update"],
        ["account", "rollover"],
        ["account", "deactivate"],
        ["serve-test-ca"],
    ],
)
def test_help_for_every_command(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, err = run(capsys, *argv, "--help")
    assert status == 0
    assert err == ""
    assert out.startswith("usage: acme")
    assert len(out.splitlines()) > 3


def test_python_dash_m_and_console_script_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acme", "issue", "--http-port", "x", "a.test"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    from importlib import metadata

    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts.get("acme") == "acme.cli:main"


# --- files ---------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_file_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    write_file(target, b"first", private=True, what="key")
    assert _mode(target) == 0o600
    with pytest.raises(CLIError, match="refusing to overwrite"):
        write_file(target, b"second", private=True, what="key")
    assert target.read_bytes() == b"first"
    write_file(target, b"third", private=True, force=True, what="key")
    assert target.read_bytes() == b"third"
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.pem"]  # no temporary left


def test_private_file_mode_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_file(tmp_path / "k.pem", b"x", private=True, what="key")
        write_file(tmp_path / "c.pem", b"x", private=False, what="chain")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "k.pem") == 0o600
    assert _mode(tmp_path / "c.pem") == 0o644  # negative control: public files are readable


def test_check_can_write(tmp_path: Path) -> None:
    (tmp_path / "exists.pem").write_text("x")
    with pytest.raises(CLIError, match="use --force"):
        check_can_write(tmp_path / "exists.pem", force=False, what="key")
    check_can_write(tmp_path / "exists.pem", force=True, what="key")
    check_can_write(tmp_path / "new.pem", force=False, what="key")
    with pytest.raises(CLIError, match="does not exist"):
        check_can_write(tmp_path / "no" / "new.pem", force=False, what="key")


def test_account_store_layout_and_modes(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "cfg")
    url = "https://ca.example:14000/dir"
    assert store.load(url) is None
    key = generate_key("ec256")
    account = store.create(url, key)
    assert _mode(account.key_path) == 0o600
    assert _mode(account.folder) == 0o700
    assert "ca.example_14000" in account.folder.name
    store.save_registration(account, "https://ca.example:14000/acct/1", ("mailto:a@b.test",))
    loaded = store.load(url)
    assert loaded is not None
    assert loaded.uri == "https://ca.example:14000/acct/1"
    assert loaded.contact == ("mailto:a@b.test",)
    assert private_pem(loaded.key) == private_pem(key)
    assert b"PRIVATE KEY" not in (account.folder / "account.json").read_bytes()
    # Another directory URL on the same host is another account.
    assert store.folder("https://ca.example:14000/other") != account.folder
    with pytest.raises(CLIError, match="refusing to overwrite"):
        store.create(url, generate_key("ec256"))
    # Rollover: staged key, then one rename.
    new_key = generate_key("ec384")
    staged = store.stage_key(account, new_key)
    assert _mode(staged) == 0o600
    store.commit_key(account, staged, new_key)
    reloaded = store.load(url)
    assert reloaded is not None
    assert isinstance(reloaded.key, ec.EllipticCurvePrivateKey)
    assert reloaded.key.curve.name == "secp384r1"
    assert not staged.exists()


def test_default_config_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_dir() == tmp_path / "acme-python-cli"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/path")  # ignored, per the XDG spec
    assert default_config_dir() == Path.home() / ".config" / "acme-python-cli"


def test_describe_is_one_line_for_server_and_validation_errors() -> None:
    problem = messages.Error.with_code("rateLimited", detail="too many\ncertificates")
    assert describe(problem) == "the server refused: rateLimited: too many certificates"
    chall = messages.ChallengeBody.from_json(
        {
            "type": "http-01",
            "url": "https://ca.test/chall/1",
            "status": "invalid",
            "token": "A" * 43,
            "error": {"type": "urn:ietf:params:acme:error:connection", "detail": "refused"},
        }
    )
    authz = messages.AuthorizationResource(
        uri="https://ca.test/authz/1",
        body=messages.Authorization(
            identifier=messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="a.test"),
            challenges=(chall,),
            status=messages.STATUS_INVALID,
        ),
    )
    text = describe(errors.ValidationError([authz]))
    assert text == "validation failed for a.test (http-01: refused)"


# --- runs against the in-process test CA ---------------------------------------------------


@pytest.fixture
def webroot_ca(tmp_path: Path) -> Iterator[tuple[ACMETestServer, Path]]:
    """A test CA validating http-01 against a static server for ``tmp_path/www``."""
    root = tmp_path / "www"
    root.mkdir()
    with web_server(root) as port, ACMETestServer(http_port=port) as server:
        yield server, root


def _ca_args(server: ACMETestServer, tmp_path: Path) -> list[Any]:
    return [
        "--directory", server.directory_url, "--ca-bundle", server.ca_bundle_path,
        "--config-dir", tmp_path / "cfg",
    ]  # fmt: skip


def test_issue_with_webroot_writes_key_and_chain_and_reuses_the_account(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, webroot_ca: tuple[ACMETestServer, Path]
) -> None:
    server, root = webroot_ca
    common = [*_ca_args(server, tmp_path), "--webroot", root]
    key_file, chain_file = tmp_path / "k.pem", tmp_path / "c.pem"
    files = ["--key-file", key_file, "--chain-file", chain_file]

    # A new account needs the terms of service accepted.
    status, out, err = run(capsys, "issue", *common, *files, "a.demo.test")
    assert status == 1
    assert "--agree-tos" in assert_one_line_error(err)
    assert not key_file.exists()

    status, out, err = run(
        capsys, "issue", *common, *files, "--agree-tos", "--email", "me@demo.test",
        "a.demo.test", "B.demo.test",
    )  # fmt: skip
    assert status == 0, err
    assert "certificate issued for a.demo.test, b.demo.test" in out
    assert "waiting for the CA to validate 2 authorization(s)" in err
    assert "registering a new account" in err
    assert _mode(key_file) == 0o600
    chain = x509.load_pem_x509_certificates(chain_file.read_bytes())
    assert len(chain) == 2
    assert chain[0].public_key() == _load_key(key_file).public_key()
    assert not (root / ".well-known" / "acme-challenge").exists()  # cleaned up
    assert "PRIVATE KEY" not in out + err

    # The second run reuses the saved account, and refuses to overwrite the key.
    before = key_file.read_bytes()
    status, out, err = run(capsys, "issue", *common, *files, "a.demo.test")
    assert status == 1
    assert "refusing to overwrite" in assert_one_line_error(err)
    assert key_file.read_bytes() == before
    status, out, err = run(capsys, "issue", *common, *files, "--force", "a.demo.test")
    assert status == 0, err
    assert "using the saved account" in err
    assert "registering" not in err
    assert key_file.read_bytes() != before
    assert _mode(key_file) == 0o600
    accounts = list((tmp_path / "cfg" / "accounts").iterdir())
    assert len(accounts) == 1
    assert _mode(accounts[0] / "account.key") == 0o600


def test_saved_account_unknown_to_a_restarted_ca(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A CA that forgot the account (a test CA restarted on the same URL): issue registers the
    saved key again; commands that only use an account say what to do."""
    args = ["--agree-tos", "--key-file", tmp_path / "k", "--chain-file", tmp_path / "c"]
    with ACMETestServer(always_valid=True) as first:
        port = first.port
        status, _, err = run(capsys, "issue", *_ca_args(first, tmp_path), *args, "r.demo.test")
        assert status == 0, err
        status, before, err = run(capsys, "account", "show", *_ca_args(first, tmp_path))
    with ACMETestServer(always_valid=True, port=port) as second:
        ca = _ca_args(second, tmp_path)
        status, _, err = run(capsys, "account", "show", *ca)
        assert status == 1
        assert "no account for the key saved in" in assert_one_line_error(err)
        status, _, err = run(capsys, "issue", *ca, *args, "--force", "r.demo.test")
        assert status == 0, err
        assert "registering it again" in err
        status, after, err = run(capsys, "account", "show", *ca)
        assert status == 0, err
    account_line = [line for line in before.splitlines() if line.startswith("account")]
    assert account_line
    assert account_line[0] not in after  # a new account URL, same saved key
    assert _thumbprint_line(before) == _thumbprint_line(after)


def _load_key(path: Path) -> Any:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def test_failed_validation_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    served, wrong = tmp_path / "served", tmp_path / "not-served"
    served.mkdir()
    wrong.mkdir()
    with web_server(served) as port, ACMETestServer(http_port=port) as server:
        status, out, err = run(
            capsys, "issue", *_ca_args(server, tmp_path), "--agree-tos", "--webroot", wrong,
            "--key-file", tmp_path / "k.pem", "--chain-file", tmp_path / "c.pem", "x.demo.test",
        )  # fmt: skip
    assert status == 1
    line = assert_one_line_error(err)
    assert line.startswith("acme: error: validation failed for x.demo.test (http-01:")
    assert out == ""
    assert not (tmp_path / "k.pem").exists()
    assert not (tmp_path / "c.pem").exists()


def test_issue_standalone_renewal_info_revoke_and_account_lifecycle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unused_port: int
) -> None:
    with ACMETestServer(http_port=unused_port) as server:
        ca = _ca_args(server, tmp_path)
        status, out, err = run(capsys, "account", "show", *ca)
        assert status == 1
        assert "no saved account" in assert_one_line_error(err)

        status, out, err = run(
            capsys, "account", "register", *ca, "--agree-tos", "--email", "one@demo.test"
        )
        assert status == 0, err
        assert "mailto:one@demo.test" in out
        assert "status  valid" in out

        chain_file = tmp_path / "c.pem"
        status, out, err = run(
            capsys, "issue", *ca, "--bind", "127.0.0.1", "--http-port", unused_port,
            "--key-file", tmp_path / "k.pem", "--chain-file", chain_file, "s.demo.test",
        )  # fmt: skip
        assert status == 0, err
        assert "using the saved account" in err

        status, out, err = run(capsys, "renewal-info", *ca, chain_file)
        assert status == 0, err
        assert "suggested window" in out
        assert "renew now?        not yet" in out

        status, out, err = run(capsys, "revoke", *ca, "--reason", "superseded", chain_file)
        assert status == 0, err
        assert "revoked certificate" in out
        assert server.core.is_revoked(x509.load_pem_x509_certificates(chain_file.read_bytes())[0])
        status, out, err = run(capsys, "revoke", *ca, chain_file)
        assert status == 1
        assert "alreadyRevoked" in assert_one_line_error(err)
        # After revocation the CA suggests renewing at once (RFC 9773 section 4.2).
        status, out, err = run(capsys, "renewal-info", *ca, chain_file)
        assert "renew now?        yes" in out

        status, out, err = run(
            capsys, "account", "update", *ca, "--email", "two@demo.test", "--email", "3@demo.test"
        )
        assert status == 0, err
        assert "mailto:two@demo.test, mailto:3@demo.test" in out

        status, before, err = run(capsys, "account", "show", *ca)
        status, after, err = run(capsys, "account", "rollover", *ca, "--key-type", "rsa2048")
        assert status == 0, err
        assert "RSA 2048" in after
        assert _thumbprint_line(before) != _thumbprint_line(after)
        status, shown, err = run(capsys, "account", "show", *ca)
        assert status == 0, err
        assert _thumbprint_line(shown) == _thumbprint_line(after)

        status, out, err = run(capsys, "account", "deactivate", *ca, "--yes")
        assert status == 0, err
        assert "deactivated" in out
        status, out, err = run(capsys, "account", "show", *ca)
        assert status == 1
        assert "no saved account" in assert_one_line_error(err)


def _thumbprint_line(out: str) -> str:
    return next(line for line in out.splitlines() if "thumbprint" in line)


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_standalone_port_in_use_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as busy, ACMETestServer(always_valid=True) as server:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status, _out, err = run(
            capsys, "issue", *_ca_args(server, tmp_path), "--agree-tos", "--bind", "127.0.0.1",
            "--http-port", port, "--key-file", tmp_path / "k", "--chain-file", tmp_path / "c",
            "busy.demo.test",
        )  # fmt: skip
    assert status == 1
    line = assert_one_line_error(err)
    assert f"cannot listen for http-01 on 127.0.0.1:{port}" in line
    assert not (tmp_path / "cfg").exists()  # failed before asking anything of the CA


def test_profile_and_replaces(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, webroot_ca: tuple[ACMETestServer, Path]
) -> None:
    server, root = webroot_ca
    common = [*_ca_args(server, tmp_path), "--agree-tos", "--webroot", root]
    first = ["--key-file", tmp_path / "1.key", "--chain-file", tmp_path / "1.pem"]
    status, _, err = run(capsys, "issue", *common, *first, "p.demo.test")
    assert status == 0, err
    old = x509.load_pem_x509_certificates((tmp_path / "1.pem").read_bytes())[0]
    assert old.not_valid_after_utc - old.not_valid_before_utc > datetime.timedelta(days=80)

    second = ["--key-file", tmp_path / "2.key", "--chain-file", tmp_path / "2.pem"]
    status, _, err = run(
        capsys, "issue", *common, *second, "--profile", "shortlived", "--replaces",
        tmp_path / "1.pem", "p.demo.test",
    )  # fmt: skip
    assert status == 0, err
    new = x509.load_pem_x509_certificates((tmp_path / "2.pem").read_bytes())[0]
    assert new.not_valid_after_utc - new.not_valid_before_utc < datetime.timedelta(days=7)

    # RFC 9773 section 5: a certificate is replaced once; the CA refuses a second order.
    third = ["--key-file", tmp_path / "3.key", "--chain-file", tmp_path / "3.pem"]
    status, _, err = run(
        capsys, "issue", *common, *third, "--replaces", tmp_path / "1.pem", "p.demo.test"
    )
    assert status == 1
    assert "alreadyReplaced" in assert_one_line_error(err)
    status, _, err = run(
        capsys, "issue", *common, *third, "--profile", "no-such-profile", "p.demo.test"
    )
    assert status == 1
    assert "invalidProfile" in assert_one_line_error(err)
    assert not (tmp_path / "3.key").exists()


def test_progress_lines_while_polling(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A CA that keeps authorizations pending and the order processing for a few polls."""
    root = tmp_path / "www"
    root.mkdir()
    with (
        web_server(root) as port,
        ACMETestServer(
            http_port=port, validation_delay_polls=2, processing_polls=1, poll_retry_after=1
        ) as server,
    ):
        status, out, err = run(
            capsys, "issue", *_ca_args(server, tmp_path), "--agree-tos", "--webroot", root,
            "--key-file", tmp_path / "k", "--chain-file", tmp_path / "c", "slow.demo.test",
        )  # fmt: skip
    assert status == 0, err
    validation = [line for line in err.splitlines() if "validation: still pending" in line]
    finalization = [line for line in err.splitlines() if "finalization: still pending" in line]
    assert len(validation) >= 2
    assert len(finalization) >= 1
    assert re.search(r"checking again in \d+ ms$", validation[0])  # no hint yet: a short step
    assert "checking again in 1.0 s" in validation[1]  # then the CA's Retry-After
    assert "certificate issued for slow.demo.test" in out


def test_tls_alpn01_with_the_standalone_server(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unused_port: int
) -> None:
    with ACMETestServer(tls_port=unused_port, http_port=1) as server:
        status, out, err = run(
            capsys, "issue", *_ca_args(server, tmp_path), "--agree-tos", "--tls-alpn",
            "--bind", "127.0.0.1", "--tls-port", unused_port, "--key-file", tmp_path / "k",
            "--chain-file", tmp_path / "c", "alpn.demo.test", "127.0.0.1",
        )  # fmt: skip
    assert status == 0, err
    assert "tls-alpn-01 challenge answered" in err
    assert "certificate issued for alpn.demo.test, 127.0.0.1" in out


def test_dns_hook_failure_is_reported_and_cleaned_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "hook.log"
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:3]) + '\\n')\n"
        "if sys.argv[1] == 'present':\n"
        "    sys.exit('no API token for the DNS provider')\n"
    )
    with ACMETestServer() as server:
        status, _out, err = run(
            capsys, "issue", *_ca_args(server, tmp_path), "--agree-tos",
            "--dns-hook", f"{sys.executable} {hook}", "--key-file", tmp_path / "k",
            "--chain-file", tmp_path / "c", "*.wild.demo.test",
        )  # fmt: skip
    assert status == 1
    line = assert_one_line_error(err)
    assert "dns hook present _acme-challenge.wild.demo.test exited with status 1" in line
    assert "no API token for the DNS provider" in line
    assert log.read_text().splitlines() == [
        "present _acme-challenge.wild.demo.test",
        "cleanup _acme-challenge.wild.demo.test",
    ]


def test_unreachable_ca_and_bad_files_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = run(
        capsys, "renewal-info", "--directory", "https://127.0.0.1:1/dir", __file__
    )
    assert status == 1
    assert "holds no PEM certificate" in assert_one_line_error(err)

    key = generate_key("ec256")
    cert_file = tmp_path / "cert.pem"
    with pytest.warns(DeprecationWarning, match="make_self_signed_cert is deprecated"):
        cert = crypto_util.make_self_signed_cert(key, ["self.demo.test"])
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    status, out, err = run(
        capsys, "renewal-info", "--directory", "https://127.0.0.1:1/dir", cert_file
    )
    assert status == 1
    assert "127.0.0.1:1" in assert_one_line_error(err)
    assert out == ""

    status, out, err = run(
        capsys, "revoke", "--directory", "https://127.0.0.1:1/dir", "--cert-key", __file__,
        cert_file,
    )  # fmt: skip
    assert status == 1
    assert "not an unencrypted PEM certificate key" in assert_one_line_error(err)


# --- demo and serve-test-ca as a user runs them ----------------------------------------------


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"https_proxy", "http_proxy"}}
    env["PYTHONWARNINGS"] = "error"
    return env


def test_demo_end_to_end(tmp_path: Path) -> None:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "acme", "demo", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
        env={**_clean_env(), "HTTPS_PROXY": "http://127.0.0.1:9"},  # must not be used
    )
    elapsed = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert "acme demo: issued, verified, checked and revoked a certificate" in out
    assert "names        demo.test, www.demo.test, api.demo.test" in out
    assert "verified for every name" in out
    assert "renewal      suggested" in out
    assert "revoked      reason superseded" in out
    assert "timings" in out
    assert "waiting for the CA to validate 3 authorization(s)" in done.stderr
    assert elapsed < 30
    key = tmp_path / "out" / "privkey.pem"
    assert _mode(key) == 0o600
    chain = x509.load_pem_x509_certificates((tmp_path / "out" / "fullchain.pem").read_bytes())
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {
        "demo.test",
        "www.demo.test",
        "api.demo.test",
    }
    assert "PRIVATE KEY" not in done.stdout + done.stderr


def test_demo_with_custom_names_and_bad_names(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acme", "demo", "-q", "one.example.test"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # --quiet
    assert "names        one.example.test" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "acme", "demo", "-q", "bad..name"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
        env=_clean_env(),
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_serve_test_ca_then_issue_against_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unused_port: int
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "acme", "serve-test-ca", "--http-port", str(unused_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        assert proc.stdout is not None
        directory = proc.stdout.readline().split()
        bundle = proc.stdout.readline().split()
        assert directory[0] == "directory"
        assert bundle[0] == "ca-bundle"
        status, out, err = run(
            capsys, "issue", "--directory", directory[1], "--ca-bundle", bundle[1],
            "--config-dir", tmp_path / "cfg", "--agree-tos", "--http-port", unused_port,
            "--key-file", tmp_path / "k", "--chain-file", tmp_path / "c", "served.demo.test",
        )  # fmt: skip
        assert status == 0, err
        assert "certificate issued for served.demo.test" in out
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not Path(bundle[1]).exists()  # the server removed its files on the way out
