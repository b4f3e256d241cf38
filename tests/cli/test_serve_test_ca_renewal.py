"""``acme serve-test-ca --renewal-window`` and the management API's ``/renewal-drill``, shown
through what ARI clients see (RFC 9773 section 4.2).

The CA runs as ``python -m acme serve-test-ca`` on loopback (fixture ``serve_test_ca``);
``acme issue``, ``acme renewal-info`` and ``acme renew`` run in-process against it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cryptography import x509

from support.cli import run
from support.served_ca import ServedCA, issue_with_webroot

RENEWAL_DUE = 3  # acme renewal-info's exit status once the window has begun


def _leaf(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def _utc(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _renewal_info(
    capsys: pytest.CaptureFixture[str], ca: ServedCA, chain: Path
) -> tuple[int, str, str]:
    return run(
        capsys, "renewal-info", "--directory", ca.directory, "--ca-bundle", ca.ca_bundle, chain
    )


def test_percentages_set_the_window_and_a_drill_makes_it_due(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = serve_test_ca("--always-valid", "--renewal-window", "50%,75%")
    status, _, err = issue_with_webroot(capsys, ca, tmp_path, "half.test")
    assert status == 0, err
    chain = tmp_path / "half.test.pem"
    leaf = _leaf(chain)
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=90)
    start = leaf.not_valid_before_utc + datetime.timedelta(days=45)
    end = leaf.not_valid_before_utc + datetime.timedelta(days=67, hours=12)

    status, out, err = _renewal_info(capsys, ca, chain)
    assert status == 0, err
    assert f"suggested window  {_utc(start)} to {_utc(end)}\n" in out
    assert "renew now?        not yet: the window starts in 45.0 days" in out

    drill = requests.post(ca.management + "/renewal-drill", json={}, timeout=5)
    assert (drill.status_code, drill.text) == (200, "1\n")
    status, out, err = _renewal_info(capsys, ca, chain)
    assert status == RENEWAL_DUE, err
    assert "renew now?        yes: the suggested window has begun" in out


def test_fractions_from_the_start_are_due_at_once(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = serve_test_ca(
        "--always-valid",
        "--renewal-window",
        "0,0.25",
        "--certificate-lifetime",
        "8",
        "--no-profiles",
    )
    status, _, err = issue_with_webroot(capsys, ca, tmp_path, "early.test")
    assert status == 0, err
    chain = tmp_path / "early.test.pem"
    leaf = _leaf(chain)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=8)
    status, out, err = _renewal_info(capsys, ca, chain)
    assert status == RENEWAL_DUE, err
    two_days = leaf.not_valid_before_utc + datetime.timedelta(days=2)
    assert f"suggested window  {_utc(leaf.not_valid_before_utc)} to {_utc(two_days)}\n" in out


def test_due_makes_acme_renew_replace_the_certificate(
    serve_test_ca: Callable[..., ServedCA], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = serve_test_ca("--always-valid", "--renewal-window", "due", "--request-log", "-")
    status, _, err = issue_with_webroot(capsys, ca, tmp_path, "drill.test")
    assert status == 0, err
    chain = tmp_path / "drill.test.pem"
    first = _leaf(chain).serial_number

    status, out, err = _renewal_info(capsys, ca, chain)
    assert status == RENEWAL_DUE, err
    assert "renew now?        yes: the suggested window has begun" in out

    status, out, err = run(
        capsys, "renew", "--config-dir", tmp_path / "cfg", "--ca-bundle", ca.ca_bundle
    )
    assert status == 0, err
    assert "renewed drill.test" in out  # no --force: ARI said it is due
    assert _leaf(chain).serial_number != first
    finalized = re.findall(r"^POST /order/[\w-]+/finalize 200$", ca.stop(), re.MULTILINE)
    assert len(finalized) == 2  # the first issuance and its renewal


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.8,0.5", "the window must have 0 <= START < END <= 1 (0% to 100%), got '0.8,0.5'"),
        ("50%,50%", "the window must have 0 <= START < END <= 1 (0% to 100%), got '50%,50%'"),
        ("0.5,120%", "the window must have 0 <= START < END <= 1 (0% to 100%), got '0.5,120%'"),
        ("-0.1,0.5", "the window must have 0 <= START < END <= 1"),
        ("nan,0.5", "the window must have 0 <= START < END <= 1"),
        (
            "0.5",
            "expected START,END (fractions like 0.5,0.75 or percentages like 50%,75%) or "
            "'due', got '0.5'",
        ),
        ("0.1,0.2,0.3", "expected START,END"),
        ("soon", "expected START,END"),
        ("half,0.75", "not a fraction or percentage: 'half'"),
        ("0.5,%", "not a fraction or percentage: ''"),
    ],
)
def test_bad_renewal_windows_are_usage_errors(
    capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    status, out, err = run(capsys, "serve-test-ca", f"--renewal-window={value}")
    assert status == 2
    assert out == ""
    assert err.startswith(f"acme serve-test-ca: error: argument --renewal-window: {message}")
    assert err.endswith("; see acme serve-test-ca --help\n")
    assert err.count("\n") == 1
