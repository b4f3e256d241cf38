"""Every code example of the documentation runs, as written, against ``acme.testing``.

The examples live in ``docs/examples/`` and are included into the pages with
``literalinclude``, so what a reader copies is what runs here. Each runs in a fresh interpreter
with warnings as errors, and what it prints is checked: a changed API or behaviour fails here
before it rots on the documentation site. The README's Use example is the file
``docs/examples/quickstart.py``, kept identical to the README's copy.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from josepy import b64, jwk

from acme import messages
from acme.cli import main as acme_main
from acme.testing import ACMETestServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
TIMEOUT = 120


def run_example(name: str, *args: str, stderr: bool = False) -> str:
    """Run ``docs/examples/NAME`` with ``-W error``; return its stdout (exit status 0), or its
    stderr when ``stderr`` (else stderr must be empty)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    if stderr:
        return done.stderr
    assert done.stderr == "", done.stderr
    return done.stdout


def test_readme_use_example_is_the_tested_file() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README has no python example"
    assert blocks[0] == (EXAMPLES / "quickstart.py").read_text("utf-8")


def test_quickstart_issues_for_both_names() -> None:
    out = run_example("quickstart.py")
    chain = x509.load_pem_x509_certificates(out.encode("ascii"))
    assert len(chain) >= 2
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["example.com", "www.example.com"]


def test_issue_with_each_challenge_type() -> None:
    assert run_example("issue_challenges.py").splitlines() == [
        "http-01: ['http.example.com']",
        "dns-01: ['*.example.com']",
        "tls-alpn-01: ['tls.example.com']",
    ]


def test_draft_dns_challenges() -> None:
    assert run_example("dns_drafts.py").splitlines() == [
        "dns-account-01: ['*.example.com']",
        "publish once: _validation-persist.example.org",
        "dns-persist-01: ['example.org', '*.example.org']",
        "dns-persist-01: ['example.org']",
        "changed by a rollover: True",
    ]


def test_renewal_with_ari_and_replaces() -> None:
    lines = run_example("renew_ari.py").splitlines()
    assert lines[0].startswith("renew now: False - ask again after ")
    assert lines[1] == "after the CA moved the window, renew now: True"
    assert re.fullmatch(r"renewed: serial 0x[0-9a-f]+ replaces 0x[0-9a-f]+", lines[2])
    assert lines[3] == "second renewal refused: alreadyReplaced"


def test_profiles() -> None:
    assert run_example("profiles.py").splitlines() == [
        "profiles: classic, shortlived",
        "order profile: shortlived",
        "valid for: 6 days, 0:00:00",
        "refused: invalidProfile",
    ]


def test_external_account_binding() -> None:
    assert run_example("eab.py").splitlines() == [
        "external account required: True",
        "without EAB: externalAccountRequired",
        "registered: valid",
    ]


def test_account_management_and_key_rollover() -> None:
    assert run_example("account.py").splitlines() == [
        "same account: True",
        "contact: ['mailto:new-ops@example.com']",
        "rolled over: True",
        "status: deactivated",
    ]


def test_revocation_by_account_and_by_certificate_key() -> None:
    assert run_example("revocation.py").splitlines() == [
        "revoked by the account: True",
        "revoked by the certificate key: True",
    ]


def test_asyncio_issues_concurrently() -> None:
    assert run_example("asyncio_issue.py").splitlines() == ["issued: 20"]


def test_error_handling_reports_each_failure() -> None:
    lines = run_example("handling_errors.py").splitlines()
    assert re.fullmatch(r"account exists at https://127\.0\.0\.1:\d+/acct/\S+", lines[0])
    assert lines[1:] == [
        "validation failed for unreachable.example.com: connection",
        "cannot issue: Not a domain name: 'not a name'",
        "the CA refused: rejectedIdentifier",
        "network error: RequestsNetworkError",
    ]


def test_pytest_fixture_example_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         str(EXAMPLES / "testing_fixture.py")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_dns_hook_example_publishes_what_the_ca_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``acme issue --dns-hook docs/examples/dns_hook.py``: the CA validates dns-01 by reading
    the hook's zone file (RFC 8555 section 8.4 value), so the hook contract is proven end to
    end: present before the answer, the right name and value, cleanup after."""
    zone = tmp_path / "zone.json"
    monkeypatch.setenv("DNS_HOOK_ZONE", str(zone))
    seen: list[tuple[str, bool]] = []

    def validator(
        typ: str, ident: messages.Identifier, token: str, key_auth: str, key: jwk.JWK
    ) -> messages.Error | None:
        name = f"_acme-challenge.{ident.value.removeprefix('*.')}"
        expected = b64.b64encode(hashlib.sha256(key_auth.encode()).digest()).decode()
        published = json.loads(zone.read_text("utf-8")) if zone.exists() else {}
        ok = typ == "dns-01" and expected in published.get(name, [])
        seen.append((name, ok))
        return None if ok else messages.Error.with_code("unauthorized", detail="no TXT record")

    with ACMETestServer(validator=validator) as ca:
        status = acme_main(
            ["issue", "-q", "--directory", ca.directory_url, "--ca-bundle", ca.ca_bundle_path,
             "--config-dir", str(tmp_path / "config"), "--agree-tos",
             "--dns-hook", f"{sys.executable} {EXAMPLES / 'dns_hook.py'}",
             "--key-file", str(tmp_path / "key.pem"), "--chain-file", str(tmp_path / "chain.pem"),
             "hook.example.com", "*.hook.example.com"]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "certificate issued for" in out
    assert sorted(seen) == [("_acme-challenge.hook.example.com", True)] * 2
    assert json.loads(zone.read_text("utf-8")) == {}  # both records cleaned up


def test_acme5_style_code_runs_unchanged() -> None:
    assert run_example("acme5_style.py").splitlines() == [
        "renew at is aware: True",
        "ask again is naive: True",
    ]


def test_every_example_is_shown_and_run() -> None:
    """An example file no page includes, or no test runs, is a rotting example."""
    pages = "".join(p.read_text("utf-8") for p in (ROOT / "docs").rglob("*.md"))
    tests = Path(__file__).read_text("utf-8")
    for example in sorted(EXAMPLES.glob("*.py")):
        assert f"examples/{example.name}" in pages, f"no page includes {example.name}"
        assert f'"{example.name}"' in tests or f"'{example.name}'" in tests, example.name


def test_logging_example_shows_the_requests() -> None:
    lines = run_example("logging_setup.py", stderr=True).splitlines()
    pattern = (
        r"\S+ \S+ acme\._net\.sync_transport: (GET|POST) https://127\.0\.0\.1:\d+/(\S+) -> (\d+) .*"
    )
    found = [re.fullmatch(pattern, line) for line in lines]
    assert all(found), lines
    assert [(m.group(1), m.group(2), m.group(3)) for m in found if m] == [
        ("GET", "directory", "200"),
        ("POST", "new-account", "201"),
    ]
