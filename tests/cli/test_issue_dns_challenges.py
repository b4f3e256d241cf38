"""``acme issue`` and ``acme renew`` with dns-account-01, dns-persist-01 and ``--dns-check``.

Against ``acme serve-test-ca`` as a real subprocess on loopback: its CA validates for real
from the TXT records set through its management API, and its DNS responder serves the same
records, so ``--dns-check-server`` can watch them as the CA will see them.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.query
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, messages
from acme.cli._dns_solvers import PersistCheck, zone_line
from acme.cli._output import Reporter
from acme.cli._solvers import Answering
from support.cli import run
from support.served_ca import HOOK_SOURCE, ServedCA

NAMES = ["*.example.test", "example.test"]
PERSIST_NAME = "_validation-persist.example.test"

#: `HOOK_SOURCE`, but ``present`` returns at once and the record appears ACME_HOOK_DELAY
#: seconds later (a provider whose API answers before its servers have the record).
DELAYED_HOOK = f"""\
import os, subprocess, sys, time
delay = float(os.environ.pop("ACME_HOOK_DELAY", "0") or 0)
if delay and sys.argv[1] == "present":
    subprocess.Popen(
        [sys.executable, __file__, *sys.argv[1:]],
        env={{**os.environ, "ACME_HOOK_SLEEP": str(delay)}},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    sys.exit(0)
time.sleep(float(os.environ.get("ACME_HOOK_SLEEP", "0")))
{HOOK_SOURCE}"""


@pytest.fixture
def ca(serve_test_ca: Callable[..., ServedCA], tmp_path: Path) -> ServedCA:
    return serve_test_ca("--no-authz-reuse", "--request-log", tmp_path / "requests.log")


@pytest.fixture
def hook(tmp_path: Path, ca: ServedCA, monkeypatch: pytest.MonkeyPatch) -> str:
    """The hook command line; its calls are logged in ``hook.log``."""
    script = tmp_path / "hook.py"
    script.write_text(DELAYED_HOOK)
    monkeypatch.setenv("ACME_MANAGEMENT_URL", ca.management)  # inherited by the hook
    monkeypatch.setenv("ACME_HOOK_LOG", str(tmp_path / "hook.log"))
    return f"{sys.executable} {script}"


def _issue(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, tmp_path: Path, *argv: object
) -> tuple[int, str, str]:
    return run(
        capsys, "issue", *ca.ca_args(tmp_path / "cfg"), "--agree-tos",
        "--key-file", tmp_path / "key.pem", "--chain-file", tmp_path / "chain.pem", *argv,
    )  # fmt: skip


def _sans(path: Path) -> list[str]:
    leaf = x509.load_pem_x509_certificates(path.read_bytes())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(san.get_values_for_type(x509.DNSName))


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificates(path.read_bytes())[0].serial_number


def _txt(ca: ServedCA, name: str) -> list[str]:
    """What the CA's DNS responder serves at ``name``."""
    host, port = ca.dns
    response = dns.query.udp(dns.message.make_query(name + ".", "TXT"), host, port=port, timeout=5)
    return [b"".join(r.strings).decode() for rrset in response.answer for r in rrset]


def _set_txt(ca: ServedCA, name: str, value: str) -> None:
    """Publish through the management API, as a DNS operator would publish once."""
    body = json.dumps({"host": name, "value": value}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(ca.management + "/set-txt", data=body), timeout=10):
        pass


def _account_url(capsys: pytest.CaptureFixture[str], ca: ServedCA, tmp_path: Path) -> str:
    status, out, err = run(capsys, "account", "show", *ca.ca_args(tmp_path / "cfg"))
    assert status == 0, err
    match = re.search(r"^account\s+(\S+)$", out, re.MULTILINE)
    assert match is not None, out
    return match.group(1)


def _requests(tmp_path: Path) -> list[str]:
    return (tmp_path / "requests.log").read_text().splitlines()


# -- dns-account-01 ----------------------------------------------------------------------------


def test_dns_account01_wildcard_then_renewal_through_the_same_hook(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, hook: str, tmp_path: Path
) -> None:
    status, out, err = _issue(
        capsys, ca, tmp_path, "--challenge", "dns-account-01", "--dns-hook", hook, *NAMES
    )
    assert status == 0, err
    assert "certificate issued for *.example.test, example.test" in out
    assert err.count("dns-account-01 challenge answered") == 2
    assert _sans(tmp_path / "chain.pem") == NAMES
    # Both authorizations publish at the account-labelled name (draft section 3.2).
    label = challenges.DNSAccount01.account_label(_account_url(capsys, ca, tmp_path))
    name = f"{label}._acme-challenge.example.test"
    calls = (tmp_path / "hook.log").read_text().splitlines()
    assert calls == [f"present {name}"] * 2 + [f"cleanup {name}"] * 2
    assert _txt(ca, name) == []  # cleaned up

    # The lineage remembers dns-account-01: a forced renewal answers it the same way.
    first = _serial(tmp_path / "chain.pem")
    status, out, err = run(
        capsys, "renew", "--force", "--config-dir", tmp_path / "cfg", "--ca-bundle", ca.ca_bundle
    )
    assert status == 0, err
    assert "renewed wildcard.example.test" in out
    assert _serial(tmp_path / "chain.pem") != first
    calls = (tmp_path / "hook.log").read_text().splitlines()
    assert calls[4:] == [f"present {name}"] * 2 + [f"cleanup {name}"] * 2


# -- dns-persist-01 ----------------------------------------------------------------------------


def _persist_record(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, tmp_path: Path, *options: str
) -> dict[str, str]:
    status, out, err = run(
        capsys, "dns-persist-record", *ca.ca_args(tmp_path / "cfg"), "--json", *options,
        "example.test",
    )  # fmt: skip
    assert status == 0, err
    (record,) = json.loads(out)
    return dict(record)


def test_dns_persist01_record_printed_published_once_then_only_read(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, tmp_path: Path
) -> None:
    status, _, err = run(
        capsys, "account", "register", "--agree-tos", *ca.ca_args(tmp_path / "cfg")
    )
    assert status == 0, err
    # The zone file line, and the same record as JSON, computed as the draft says (4.1).
    status, out, err = run(
        capsys, "dns-persist-record", *ca.ca_args(tmp_path / "cfg"), "--wildcard", "example.test"
    )
    assert status == 0, err
    record = _persist_record(capsys, ca, tmp_path, "--wildcard")
    assert record["name"] == PERSIST_NAME
    assert out.strip() == f'{PERSIST_NAME}. IN TXT "{record["value"]}"'
    # A name given as *.NAME asks for the same record.
    status, out_wild, err = run(
        capsys, "dns-persist-record", *ca.ca_args(tmp_path / "cfg"), "*.example.test"
    )
    assert (status, out_wild) == (0, out), err
    account_url = _account_url(capsys, ca, tmp_path)
    parsed = challenges.DNSPersist01Record.from_text(record["value"])
    assert parsed.issuer_domain_name == "acme-testing.invalid"
    assert parsed.policy == "wildcard"
    assert f"accounturi={parsed.account_uri}" in record["value"]
    assert account_url not in record["value"]  # the URI is hashed (section 4.1 item 3)

    _set_txt(ca, PERSIST_NAME, record["value"])  # published once
    host, port = ca.dns
    status, out, err = _issue(
        capsys, ca, tmp_path, "--challenge", "dns-persist-01",
        "--dns-check-server", f"{host}:{port}", *NAMES,
    )  # fmt: skip
    assert status == 0, err
    assert _sans(tmp_path / "chain.pem") == NAMES
    assert f"dns: {PERSIST_NAME} visible on {host}:{port}" in err
    assert err.count("dns-persist-01 challenge answered") == 2

    first = _serial(tmp_path / "chain.pem")
    status, out, err = run(
        capsys, "renew", "--force", "--config-dir", tmp_path / "cfg", "--ca-bundle", ca.ca_bundle
    )
    assert status == 0, err
    assert _serial(tmp_path / "chain.pem") != first
    # Nothing ever published or removed a record: the one published once is still served.
    assert _txt(ca, PERSIST_NAME) == [record["value"]]
    requests = _requests(tmp_path)
    assert requests.count("POST /set-txt 200") == 1  # ours
    assert not any("/clear-txt" in line for line in requests)


def test_dns_persist01_missing_record_is_named_with_what_to_publish(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, tmp_path: Path
) -> None:
    host, port = ca.dns
    status, _, err = _issue(
        capsys, ca, tmp_path, "--challenge", "dns-persist-01", "--dns-check-server",
        f"{host}:{port}", "--dns-check-timeout", "1", "example.test",
    )  # fmt: skip
    assert status == 1
    expected = _persist_record(capsys, ca, tmp_path)  # the account exists now
    line = err.splitlines()[-1]
    assert line.startswith("acme: error: DNS records not visible after 1s: ")
    assert f"at {host}:{port}: serves no TXT record" in line
    assert f'{PERSIST_NAME}. IN TXT "{expected["value"]}"' in line  # what to publish
    # The check failed before the challenge was answered: the CA was never asked to validate.
    assert not any(line.startswith("POST /chall/") for line in _requests(tmp_path))

    # Without --dns-check the CA finds no record; the error says what to publish as well.
    status, _, err = _issue(
        capsys, ca, tmp_path, "--challenge", "dns-persist-01", "--force", "example.test"
    )
    assert status == 1
    line = err.splitlines()[-1]
    assert "dns-persist-01" in line
    assert f"publish once (it stays; `acme dns-persist-record` prints it): {PERSIST_NAME}." in line


# -- --dns-check -------------------------------------------------------------------------------


def test_dns_check_waits_for_a_record_that_appears_after_the_hook_returned(
    capsys: pytest.CaptureFixture[str],
    ca: ServedCA,
    hook: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delay = 2.0
    monkeypatch.setenv("ACME_HOOK_DELAY", str(delay))
    host, port = ca.dns
    # Without the check the CA validates at once, before the record exists.
    status, _, err = _issue(capsys, ca, tmp_path, "--dns-hook", hook, "late.example.test")
    assert status == 1
    assert "dns-01" in err.splitlines()[-1]
    time.sleep(delay + 1)  # let the late publisher of that run finish

    began = time.monotonic()
    status, out, err = _issue(
        capsys, ca, tmp_path, "--dns-hook", hook, "--dns-check",
        "--dns-check-server", f"{host}:{port}", "--force", "example.test",
    )  # fmt: skip
    took = time.monotonic() - began
    assert status == 0, err
    assert "certificate issued for example.test" in out
    assert f"dns: _acme-challenge.example.test visible on {host}:{port}" in err
    assert took >= delay  # it waited for the record rather than answering at once
    # The lineage keeps --dns-check for `acme renew`.
    status, out, err = run(
        capsys, "renew", "--force", "--config-dir", tmp_path / "cfg", "--ca-bundle", ca.ca_bundle
    )
    assert status == 0, err
    assert f"dns: _acme-challenge.example.test visible on {host}:{port}" in err


def test_dns_persist_record_refusals(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, tmp_path: Path
) -> None:
    cfg = ca.ca_args(tmp_path / "cfg")
    status, out, err = run(capsys, "dns-persist-record", *cfg, "example.test")
    assert (status, out) == (1, "")
    assert "no saved account for" in err.splitlines()[-1]
    assert run(capsys, "account", "register", "--agree-tos", *cfg)[0] == 0
    status, out, err = run(capsys, "dns-persist-record", *cfg, "127.0.0.1")
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == (
        "acme dns-persist-record: error: 127.0.0.1: dns-persist-01 validates DNS names only; "
        "see acme dns-persist-record --help"
    )
    status, out, err = run(capsys, "dns-persist-record", *cfg, "--issuer", "other.ca", "a.test")
    assert (status, out) == (1, "")
    assert "'other.ca' is not one of this challenge's issuer domain names" in err
    status, _, err = run(
        capsys, "dns-persist-record", *cfg, "--persist-until", "2001-02-03", "a.test"
    )
    assert status == 2
    assert err.splitlines()[-1] == (
        "acme dns-persist-record: error: --persist-until 2001-02-03T00:00:00Z has passed; "
        "see acme dns-persist-record --help"
    )
    status, _, err = run(capsys, "dns-persist-record", *cfg, "--persist-until", "soon", "a.test")
    assert status == 2
    assert "not an ISO 8601 date or time: 'soon'" in err
    status, out, err = run(
        capsys, "dns-persist-record", *cfg, "--persist-until", "2030-01-02", "a.test"
    )
    assert status == 0, err
    assert "persistUntil=1893542400" in out  # 2030-01-02T00:00:00Z (draft section 4.1)


def test_zone_line_quotes_and_splits_long_values() -> None:
    assert zone_line("_v.a.test", 'ca.test; x="y\\z"') == (
        '_v.a.test. IN TXT "ca.test; x=\\"y\\\\z\\""'
    )
    line = zone_line("_v.a.test", "a" * 300)
    assert line == f'_v.a.test. IN TXT "{"a" * 255}" "{"a" * 45}"'


def test_the_publish_hint_names_the_wildcard_record_whatever_the_order() -> None:
    """A name and its wildcard share one record name: the hint must show the record with
    policy=wildcard, which validates both, even when the base name came first."""
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    meta = {"accountHashPrefix": "https://ca.test/h/", "issuerDomainNames": ["ca.test"]}
    account = Answering(key, "https://ca.test/acct/1", meta)
    chall = challenges.DNSPersist01(issuer_domain_names=("ca.test",))
    challb = messages.ChallengeBody(chall=chall, uri="https://ca.test/chall/1", status="pending")
    hints = []
    for wildcards in ([False, True], [True, False]):
        solver = PersistCheck(Reporter(quiet=True))
        for wildcard in wildcards:
            identifier = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="a.test")
            body = messages.Authorization(
                identifier=identifier, challenges=[challb], wildcard=wildcard or None
            )
            solver.add(messages.AuthorizationResource(body=body, uri="u"), challb, account)
        hints.append(solver.hint())
    assert hints[0] == hints[1]
    assert "policy=wildcard" in hints[0]
