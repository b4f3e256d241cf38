"""``acme serve-test-ca`` options, each shown through what a client sees from the subprocess.

The CA runs as ``python -m acme serve-test-ca`` on loopback (fixture ``serve_test_ca``);
``acme`` client commands run in-process against it. Usage errors are checked in-process too:
they must be refused before any server starts.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.query
import pytest
import requests
from cryptography import x509

from support.cli import assert_one_line_error, run
from support.served_ca import ServedCA
from support.served_ca import issue_with_webroot as _issue

EAB_KID = "kid-1"
EAB_KEY = "c2VjcmV0LWtleS1mb3ItdGhlLXRlc3QtY2EtMTIzNDU2"  # base64url, no padding
LINE = re.compile(r"(GET|HEAD|POST) /\S* \d{3}( \(response dropped\))?\Z")


def test_first_lines_name_directory_bundle_management_and_dns(
    serve_test_ca: Callable[..., ServedCA],
) -> None:
    ca = serve_test_ca()
    first = ca.stdout_path.read_text().splitlines()[:4]
    assert [line.split()[0] for line in first] == ["directory", "ca-bundle", "management", "dns"]
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/directory", ca.directory)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", ca.management)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", ca.lines["dns"])
    root = x509.load_pem_x509_certificate(Path(ca.ca_bundle).read_bytes())
    assert root.issuer == root.subject  # the root itself
    directory = requests.get(ca.directory, verify=ca.ca_bundle, timeout=5).json()
    assert directory["meta"]["externalAccountRequired"] is False
    assert set(directory["meta"]["profiles"]) == {"classic", "shortlived"}
    posted = requests.post(
        ca.management + "/set-txt", json={"host": "a.test.", "value": "v"}, timeout=5
    )
    assert posted.status_code == 200
    host, port = ca.dns
    answer = dns.query.udp(dns.message.make_query("a.test.", "TXT"), host, port=port, timeout=5)
    assert [b"".join(rd.strings) for rrset in answer.answer for rd in rrset] == [b"v"]


def test_eab_is_required_and_accepted(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = serve_test_ca("--eab", f"{EAB_KID}:{EAB_KEY}", "--always-valid")
    directory = requests.get(ca.directory, verify=ca.ca_bundle, timeout=5).json()
    assert directory["meta"]["externalAccountRequired"] is True
    register = ["account", "register", *ca.ca_args(tmp_path / "cfg"), "--agree-tos"]

    status, _, err = run(capsys, *register)
    assert status == 1
    assert assert_one_line_error(err) == (
        "acme: error: this CA requires external account binding: use --eab-kid, --eab-hmac-key"
    )

    wrong = "d3Jvbmcta2V5LWQzSnZibWN0YTJWNQ"
    status, _, err = run(capsys, *register, "--eab-kid", EAB_KID, "--eab-hmac-key", wrong)
    assert status == 1
    assert "unauthorized" in assert_one_line_error(err)

    status, out, err = run(capsys, *register, "--eab-kid", EAB_KID, "--eab-hmac-key", EAB_KEY)
    assert status == 0, err
    assert re.search(r"status\s+valid", out)


def test_authorization_reuse_on_and_off(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for option, second_run in [
        ("--authz-reuse", "reuse.test: already authorized"),
        ("--no-authz-reuse", "reuse.test: http-01 challenge answered"),
    ]:
        ca = serve_test_ca("--always-valid", option)
        workdir = tmp_path / option
        workdir.mkdir()
        status, _, err = _issue(capsys, ca, workdir, "reuse.test")
        assert status == 0, err
        assert "reuse.test: http-01 challenge answered" in err
        status, _, err = _issue(capsys, ca, workdir, "reuse.test")
        assert status == 0, err
        assert second_run in err
        assert ("already authorized" in err) == (option == "--authz-reuse")


def test_fault_knobs_break_requests_reproducibly(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = serve_test_ca(
        "--always-valid", "--error-rate", "1", "--error-status", "429", "--retry-after", "none",
        "--fault-resource", "newOrder",
    )  # fmt: skip
    status, _, err = _issue(capsys, ca, tmp_path, "limited.test")
    assert status == 1
    line = assert_one_line_error(err)
    assert line == "acme: error: the server refused: rateLimited: Injected fault"

    log = tmp_path / "nonces.log"
    ca = serve_test_ca(
        "--always-valid", "--bad-nonce-rate", "0.3", "--fault-seed", "1", "--request-log", log
    )
    status, out, err = _issue(capsys, ca, tmp_path, "nonces.test")
    assert status == 0, err  # the client retries each badNonce (RFC 8555 section 6.5)
    assert "certificate issued for nonces.test" in out
    lines = log.read_text().splitlines()
    refused = [line for line in lines if line.startswith("POST ") and line.endswith(" 400")]
    assert refused  # some were refused ...
    assert any(line.startswith("POST /cert/") and line.endswith(" 200") for line in lines)


def test_request_log_to_stderr(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = serve_test_ca("--always-valid", "--request-log", "-")
    status, _, err = _issue(capsys, ca, tmp_path, "logged.test")
    assert status == 0, err
    requests.post(ca.management + "/clear-txt", json={"host": "x.test"}, timeout=5)
    stderr = ca.stop()
    lines = [line for line in stderr.splitlines() if not line.startswith("[")]
    assert lines, stderr
    assert all(LINE.match(line) for line in lines), lines
    generic = [re.sub(r"/[\w-]{16}(?=[/ ])", "/ID", line) for line in lines]
    assert generic == [
        "GET /directory 200",
        "POST /new-account 201",
        "POST /new-order 201",
        "POST /authz/ID 200",
        "POST /chall/ID 200",
        "POST /authz/ID 200",
        "POST /order/ID/finalize 200",
        "POST /cert/ID 200",
        "POST /clear-txt 200",
    ]


def test_profiles_lifetime_and_renewal_window(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = serve_test_ca(
        "--always-valid", "--profile", "fast=Two-day certificates", "--profile", "slow",
        "--default-profile", "fast", "--certificate-lifetime", "2",
    )  # fmt: skip
    meta = requests.get(ca.directory, verify=ca.ca_bundle, timeout=5).json()["meta"]
    assert meta["profiles"] == {"fast": "Two-day certificates", "slow": "the slow profile"}
    status, _, err = _issue(capsys, ca, tmp_path, "fast.test")
    assert status == 0, err
    chain = tmp_path / "fast.test.pem"
    leaf = x509.load_pem_x509_certificates(chain.read_bytes())[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=2)
    status, _, err = _issue(capsys, ca, tmp_path, "fast.test", "--profile", "classic")
    assert status == 1
    assert "invalidProfile" in assert_one_line_error(err)

    window = {"start": "2031-05-06T07:08:09Z", "end": "2031-05-07T00:00:00Z"}
    body = {"certificate": chain.read_text(), **window}
    posted = requests.post(ca.management + "/set-renewal-window", json=body, timeout=5)
    assert posted.status_code == 200, posted.text
    status, out, err = run(
        capsys, "renewal-info", "--directory", ca.directory, "--ca-bundle", ca.ca_bundle, chain
    )
    assert status == 0, err
    assert "suggested window  2031-05-06 07:08:09 UTC to 2031-05-07 00:00:00 UTC" in out
    assert "renew now?        not yet" in out


def test_no_profiles_and_no_terms(
    serve_test_ca: Callable[..., ServedCA],
) -> None:
    ca = serve_test_ca("--no-profiles", "--terms-of-service", "none", "--no-pre-authorization")
    directory = requests.get(ca.directory, verify=ca.ca_bundle, timeout=5).json()
    # What remains: the dns-persist-01 metadata, offered by default (draft section 3.2).
    assert directory["meta"] == {
        "externalAccountRequired": False,
        "accountHashPrefix": ca.directory.replace("/directory", "/account-hash/"),
        "issuerDomainNames": ["acme-testing.invalid"],
    }
    assert "newAuthz" not in directory


def test_issuer_domain_names(serve_test_ca: Callable[..., ServedCA]) -> None:
    ca = serve_test_ca("--issuer-domain-name", "ca.example", "--issuer-domain-name", "b.example")
    directory = requests.get(ca.directory, verify=ca.ca_bundle, timeout=5).json()
    assert directory["meta"]["issuerDomainNames"] == ["ca.example", "b.example"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--eab", "no-colon"], "argument --eab: expected KID:HMAC_KEY, got 'no-colon'"),
        (["--eab", "k:pad=="], "argument --eab: the HMAC key of 'k' is not unpadded base64url"),
        (["--bad-nonce-rate", "2"], "argument --bad-nonce-rate: a rate is a share from 0 to 1"),
        (["--error-status", "404"], "Faults.error_status must be 429 or 5xx, got 404"),
        (["--fault-resource", "nope"], "--fault-resource: unknown nope; choose from directory"),
        (["--resolve", "a.test=192.0.2.1"], "--resolve a.test=192.0.2.1: the test CA only"),
        (["--resolve", "a.test"], "argument --resolve: expected NAME=ADDRESS, got 'a.test'"),
        (["--profile", "x", "--no-profiles"], "--profile and --no-profiles contradict"),
        (["--default-profile", "nope"], "default_profile 'nope' is not in profiles"),
        (["--challenge-types", ","], "--challenge-types needs at least one type"),
        (["--certificate-lifetime", "0"], "argument --certificate-lifetime: days must be in"),
        (["--host", "192.0.2.1"], "argument --host: '192.0.2.1' is not a loopback address"),
        (["--issuer-domain-name", "Not A Name"], "issuer_domain_names: "),
    ],
)
def test_bad_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, "serve-test-ca", *argv)
    assert status == 2
    assert out == ""
    assert err.startswith(f"acme serve-test-ca: error: {message}")
    assert err.endswith("; see acme serve-test-ca --help\n")
    assert err.count("\n") == 1


def test_fixed_management_and_dns_ports(serve_test_ca: Callable[..., ServedCA]) -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    ca = serve_test_ca("--management-port", ports[0], "--dns-port", ports[1])
    assert ca.management == f"http://127.0.0.1:{ports[0]}"
    assert ca.dns == ("127.0.0.1", ports[1])
    reply = requests.post(ca.management + "/set-txt", data=json.dumps([]), timeout=5)
    assert (reply.status_code, reply.text) == (400, "the body must be a JSON object\n")
