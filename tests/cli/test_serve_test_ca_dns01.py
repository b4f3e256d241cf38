"""Wildcard certificates over dns-01 from ``acme serve-test-ca``, by lego and by our own CLI.

The CA runs as a real subprocess on loopback with real validation. Each client publishes its
TXT records through the CA's management API with a hook script (`support.served_ca.HOOK_SOURCE`):
lego with its ``exec`` DNS provider, ``acme issue`` with ``--dns-hook``. lego also checks the
record itself before answering: it asks the CA's DNS responder (``--dns.resolvers``), and is
told not to chase the zone's authoritative servers on port 53 (``--dns.disable-cp``), which
cannot exist offline.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.query
import pytest
from cryptography import x509
from cryptography.x509 import verification

from acme.cli import main
from support.served_ca import ServedCA, clean_env

LEGO_TIMEOUT = 120
NAMES = ["*.example.test", "example.test"]


def _lego() -> str:
    lego = shutil.which("lego")
    if lego is None:
        if os.environ.get("CI"):
            pytest.fail("lego is not installed; .ci/run installs Debian's lego package")
        pytest.skip("needs Debian's lego package (apt-get install lego; .ci/run installs it)")
    return lego


def _verify(chain_pem: bytes, root_pem: bytes, names: list[str]) -> x509.Certificate:
    """The leaf, after RFC 5280 path validation to the CA's root for every name."""
    chain = x509.load_pem_x509_certificates(chain_pem)
    root = x509.load_pem_x509_certificate(root_pem)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = verification.PolicyBuilder().store(verification.Store([root])).time(now)
    for name in ["example.test", "www.example.test", "any.example.test"]:
        builder.build_server_verifier(x509.DNSName(name)).verify(chain[0], chain[1:])
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    return chain[0]


def _no_txt_left(ca: ServedCA) -> None:
    """Every hook cleanup removed its record: the CA's DNS answers no TXT any more."""
    host, port = ca.dns
    query = dns.message.make_query("_acme-challenge.example.test.", "TXT")
    assert dns.query.udp(query, host, port=port, timeout=5).answer == []


def test_lego_exec_provider_gets_a_wildcard_certificate(
    serve_test_ca: Callable[..., ServedCA], dns_hook: Path, tmp_path: Path
) -> None:
    lego = _lego()
    request_log = tmp_path / "requests.log"
    ca = serve_test_ca("--request-log", request_log)
    hook_log = tmp_path / "hook.log"
    host, port = ca.dns
    env = clean_env(
        LEGO_CA_CERTIFICATES=ca.ca_bundle,  # trust the test CA's root for its HTTPS
        EXEC_PATH=str(dns_hook),
        EXEC_PROPAGATION_TIMEOUT="20",
        EXEC_POLLING_INTERVAL="1",
        EXEC_SEQUENCE_INTERVAL="1",  # exec solves one name after another; default waits 60 s
        ACME_MANAGEMENT_URL=ca.management,
        ACME_HOOK_LOG=str(hook_log),
    )
    argv = [
        lego, "--server", ca.directory, "--accept-tos", "--email", "admin@example.test",
        "--path", tmp_path / "lego", "--key-type", "ec256", "--dns", "exec",
        "--dns.resolvers", f"{host}:{port}", "--dns.disable-cp",
        *[arg for name in NAMES for arg in ("--domains", name)], "run",
    ]  # fmt: skip
    done = subprocess.run(
        [str(arg) for arg in argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=LEGO_TIMEOUT,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Checking DNS record propagation using [{host}:{port}]" in done.stderr
    certs = tmp_path / "lego" / "certificates"
    chain = (certs / "_.example.test.crt").read_bytes()
    _verify(chain, Path(ca.ca_bundle).read_bytes(), NAMES)
    assert (certs / "_.example.test.key").stat().st_mode & 0o077 == 0
    # lego presents and cleans up one record per authorization, FQDNs with the final dot
    assert sorted(hook_log.read_text().splitlines()) == sorted(
        ["present _acme-challenge.example.test.", "cleanup _acme-challenge.example.test."] * 2
    )
    _no_txt_left(ca)
    ca.stop()
    lines = request_log.read_text().splitlines()
    assert lines.count("POST /set-txt 200") == 2
    assert lines.count("POST /clear-txt 200") == 2
    assert lines.count("POST /new-order 201") == 1
    assert sum(line.startswith("POST /chall/") and line.endswith(" 200") for line in lines) == 2


def test_acme_issue_dns_hook_gets_a_wildcard_certificate(
    serve_test_ca: Callable[..., ServedCA],
    dns_hook: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca = serve_test_ca()
    hook_log = tmp_path / "hook.log"
    monkeypatch.setenv("ACME_MANAGEMENT_URL", ca.management)  # inherited by the hook
    monkeypatch.setenv("ACME_HOOK_LOG", str(hook_log))
    status = main(
        [
            "issue", *map(str, ca.ca_args(tmp_path / "cfg")), "--agree-tos",
            "--challenge", "dns-01", "--dns-hook", f"{sys.executable} {dns_hook}",
            "--key-file", str(tmp_path / "key.pem"), "--chain-file", str(tmp_path / "chain.pem"),
            *NAMES,
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "certificate issued for *.example.test, example.test" in out
    assert err.count("dns-01 challenge answered") == 2
    _verify((tmp_path / "chain.pem").read_bytes(), Path(ca.ca_bundle).read_bytes(), NAMES)
    # our hook gets names without the final dot; both records coexist, then both go
    assert hook_log.read_text().splitlines() == [
        "present _acme-challenge.example.test",
        "present _acme-challenge.example.test",
        "cleanup _acme-challenge.example.test",
        "cleanup _acme-challenge.example.test",
    ]
    _no_txt_left(ca)


def test_acme_renew_answers_dns01_through_the_recorded_hook(
    serve_test_ca: Callable[..., ServedCA],
    dns_hook: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lineage issued with --dns-hook renews with the same hook when new challenges are due."""
    ca = serve_test_ca("--no-authz-reuse")
    hook_log = tmp_path / "hook.log"
    monkeypatch.setenv("ACME_MANAGEMENT_URL", ca.management)
    monkeypatch.setenv("ACME_HOOK_LOG", str(hook_log))
    common = [*map(str, ca.ca_args(tmp_path / "cfg"))]
    status = main(
        [
            "issue", *common, "--agree-tos", "--challenge", "dns-01",
            "--dns-hook", f"{sys.executable} {dns_hook}",
            "--key-file", str(tmp_path / "key.pem"), "--chain-file", str(tmp_path / "chain.pem"),
            "example.test",
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    first = x509.load_pem_x509_certificates((tmp_path / "chain.pem").read_bytes())[0]
    renew = ["--config-dir", str(tmp_path / "cfg"), "--ca-bundle", ca.ca_bundle]
    status = main(["renew", "--force", *renew])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "renewed example.test" in out
    second = x509.load_pem_x509_certificates((tmp_path / "chain.pem").read_bytes())[0]
    assert second.serial_number != first.serial_number
    assert (
        hook_log.read_text().splitlines()
        == [
            "present _acme-challenge.example.test",
            "cleanup _acme-challenge.example.test",
        ]
        * 2
    )
    _no_txt_left(ca)
