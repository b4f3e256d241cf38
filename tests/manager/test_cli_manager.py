"""The command line on the manager: issue records, renew (exit codes, --dry-run, --force,
hooks), certificates (--json), delete, renewal-info's "due" status, and --store postgresql://.

Runs ``acme.cli.main`` in-process against acme.testing with REAL http-01 validation: the CA
connects to the standalone server that ``acme issue``/``acme renew`` start on 127.0.0.1.
"""

from __future__ import annotations

import json
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from acme.cli import main
from acme.testing import ACMETestServer


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificates(path.read_bytes())[0].serial_number


@pytest.fixture
def cli_ca(tmp_path: Path) -> Any:
    port = _free_port()
    with ACMETestServer(http_port=port) as server:
        yield server, port


def _issue(capsys: Any, tmp_path: Path, server: ACMETestServer, port: int, *extra: Any) -> None:
    status, out, err = run(
        capsys, "issue", "--directory", server.directory_url, "--ca-bundle",
        server.ca_bundle_path, "--config-dir", tmp_path / "cfg", "--agree-tos", "--bind",
        "127.0.0.1", "--http-port", port, "--key-file", tmp_path / "key.pem", "--chain-file",
        tmp_path / "chain.pem", *extra, "www.cli.test", "cli.test",
    )  # fmt: skip
    assert status == 0, err
    assert "recorded as www.cli.test" in out


def test_issue_certificates_renew_and_delete(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cli_ca: tuple[ACMETestServer, int]
) -> None:
    server, port = cli_ca
    _issue(capsys, tmp_path, server, port)
    common = ["--config-dir", tmp_path / "cfg", "--ca-bundle", server.ca_bundle_path]
    first = _serial(tmp_path / "chain.pem")

    status, out, _ = run(capsys, "certificates", "--json", *common)
    assert status == 0
    (listed,) = json.loads(out)
    assert listed["id"] == "www.cli.test"
    assert listed["names"] == ["www.cli.test", "cli.test"]
    assert listed["serial"] == f"{first:x}"
    assert listed["chain_file"] == str(tmp_path / "chain.pem")
    assert listed["window"] is None  # not asked yet

    status, out, err = run(capsys, "renew", *common)  # asks ARI: not due for weeks
    assert status == 0, err
    assert "not due www.cli.test" in out
    status, out, _ = run(capsys, "certificates", *common)
    assert "ARI window  20" in out  # the window the CA gave is now shown

    status, out, err = run(capsys, "renew", "--dry-run", "--force", *common)
    assert status == 0, err
    assert "would renew www.cli.test (dry run)" in out
    assert _serial(tmp_path / "chain.pem") == first

    env_file = tmp_path / "deploy.json"
    dump = (
        f"{shlex.quote(sys.executable)} -c 'import json, os; "
        f'json.dump(dict(os.environ), open("{env_file}", "w"))\''
    )
    status, out, err = run(capsys, "renew", "--force", "--deploy-hook", dump, *common)
    assert status == 0, err
    assert "renewed www.cli.test" in out
    second = _serial(tmp_path / "chain.pem")
    assert second != first
    env = json.loads(env_file.read_text())
    assert env["ACME_LINEAGE"] == "www.cli.test"
    assert env["RENEWED_DOMAINS"] == "www.cli.test cli.test"
    assert env["ACME_SERIAL"] == f"{second:x}"
    # The deploy hook ran after the user's files were replaced.
    assert _serial(Path(env["ACME_CHAIN_FILE"])) == second
    renewal_order = list(server.core.orders.values())[-1]
    assert renewal_order.replaces is not None  # RFC 9773 replaces on renewal

    status, out, err = run(capsys, "delete", "www.cli.test", *common)
    assert status == 0, err
    status, out, _ = run(capsys, "certificates", *common)
    assert out.strip() == "no certificates"
    status, out, err = run(capsys, "delete", "www.cli.test", *common)
    assert status == 1
    assert "no lineage named www.cli.test" in err


def test_renew_exits_1_when_a_lineage_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cli_ca: tuple[ACMETestServer, int]
) -> None:
    server, port = cli_ca
    _issue(capsys, tmp_path, server, port, "--pre-hook", "exit 7")
    common = ["--config-dir", tmp_path / "cfg", "--ca-bundle", server.ca_bundle_path]
    status, out, err = run(capsys, "renew", "--force", *common)
    assert status == 1
    assert "acme: error: www.cli.test: pre hook exited 7" in err
    assert "Traceback" not in err
    status, out, err = run(capsys, "renew", "--force", "--pre-hook", "true", *common)
    assert status == 0, err  # the command-line hook replaces the saved one for this run
    assert "renewed www.cli.test" in out
    status, _out, err = run(capsys, "renew", "--cert-name", "nope", *common)
    assert status == 1
    assert "no lineage named nope" in err


def test_renewal_info_exit_status_says_whether_renewal_is_due(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cli_ca: tuple[ACMETestServer, int]
) -> None:
    server, port = cli_ca
    _issue(capsys, tmp_path, server, port)
    ca = ["--directory", server.directory_url, "--ca-bundle", server.ca_bundle_path]
    status, out, _ = run(capsys, "renewal-info", *ca, tmp_path / "chain.pem")
    assert status == 0
    assert "not yet" in out
    server.core.move_windows_into_past()
    status, out, _ = run(capsys, "renewal-info", *ca, tmp_path / "chain.pem")
    assert status == 3
    assert "renew now?        yes" in out


def test_renew_with_a_postgresql_store(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    cli_ca: tuple[ACMETestServer, int],
    postgres_dsn: str,
) -> None:
    server, port = cli_ca
    user, host = "postgres", postgres_dsn.split("host=")[1].split()[0]
    dbname = postgres_dsn.split("dbname=")[1].split()[0]
    url = f"postgresql://{user}@/{dbname}?host={host}"
    _issue(capsys, tmp_path, server, port, "--store", url)
    assert not (tmp_path / "cfg" / "store").exists()
    common = ["--config-dir", tmp_path / "cfg", "--ca-bundle", server.ca_bundle_path]
    first = _serial(tmp_path / "chain.pem")
    status, out, err = run(capsys, "renew", "--force", "--store", url, *common)
    assert status == 0, err
    assert "renewed www.cli.test" in out
    assert _serial(tmp_path / "chain.pem") != first
    status, out, _ = run(capsys, "certificates", "--json", "--store", url, *common)
    assert json.loads(out)[0]["serial"] == f"{_serial(tmp_path / 'chain.pem'):x}"


def test_config_file_gives_defaults_and_refuses_typos(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cli_ca: tuple[ACMETestServer, int]
) -> None:
    server, port = cli_ca
    marker = tmp_path / "deployed"
    config = tmp_path / "acme.ini"
    config.write_text(
        "[defaults]\n"
        f"directory = {server.directory_url}\n"
        f"ca-bundle = {server.ca_bundle_path}\n"
        f"config-dir = {tmp_path / 'cfg'}\n"
        f"store = {tmp_path / 'lineages'}\n"
        "agree-tos = yes\n"
        "bind = 127.0.0.1\n"
        f"http-port = {port}\n"
        "key-type = ec384\n"
        f"deploy-hook = touch {shlex.quote(str(marker))}\n"
    )
    status, out, err = run(
        capsys, "--config", config, "issue", "--key-file", tmp_path / "k.pem",
        "--chain-file", tmp_path / "c.pem", "conf.test",
    )  # fmt: skip
    assert status == 0, err
    assert "ECDSA P-384" in out  # key-type from the file
    assert (tmp_path / "lineages" / "lineages" / "conf.test").is_symlink()  # store from the file
    status, out, err = run(capsys, "--config", config, "renew", "--force")
    assert status == 0, err
    assert "renewed conf.test" in out
    assert marker.exists()  # the deploy hook saved by issue, from the file
    status, out, _ = run(capsys, "--config", config, "certificates", "--json")
    assert [c["id"] for c in json.loads(out)] == ["conf.test"]

    config.write_text("[defaults]\nagree-tos = yes\nhttp-prot = 80\n")
    status, _out, err = run(capsys, "--config", config, "certificates")
    assert status == 2
    assert err.strip() == f"acme: error: {config}: unknown setting http-prot"
    config.write_text("[defaults]\nagree-tos = perhaps\n")
    status, _out, err = run(capsys, "--config", config, "certificates")
    assert status == 2
    assert "agree-tos must be true or false" in err
    status, _out, err = run(capsys, "--config", tmp_path / "missing.ini", "certificates")
    assert status == 2
    assert "does not exist" in err
