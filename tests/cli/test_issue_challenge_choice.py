"""``acme issue --challenge``: dns-01 and dns-account-01 are only offered with a way to
publish their records; dns-persist-01 publishes nothing; ``--dns-check`` is for DNS only.

Refusals are usage errors (exit status 2, one line) raised before any file is written or any
request is sent; the accepted combinations are shown end to end against ``acme.testing``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from acme.testing import ACMETestServer
from support.cli import run

NOWHERE = ["--directory", "https://127.0.0.1:1/directory"]  # never reached: refused before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--challenge", "dns-01", "a.test"],
            "acme issue: error: dns-01 needs a way to publish TXT records: add --dns-hook CMD "
            "(run as `CMD present NAME VALUE` and `CMD cleanup NAME VALUE`); "
            "see acme issue --help",
        ),
        (
            ["*.a.test"],
            "acme issue: error: *.a.test: wildcard names are validated through DNS only (RFC "
            "8555 section 7.1.3); add --dns-hook CMD to publish the TXT records, or use "
            "--challenge dns-persist-01; see acme issue --help",
        ),
        (
            ["--challenge", "tls-alpn-01", "a.test", "*.a.test"],
            "acme issue: error: *.a.test: wildcard names are validated through DNS only (RFC "
            "8555 section 7.1.3); add --dns-hook CMD to publish the TXT records, or use "
            "--challenge dns-persist-01; see acme issue --help",
        ),
        (
            ["--challenge", "http-01", "--dns-hook", "true", "a.test"],
            "acme issue: error: --challenge http-01 contradicts --dns-hook, which answers dns-01; "
            "see acme issue --help",
        ),
        (
            ["--challenge", "dns-01", "--tls-alpn", "a.test"],
            "acme issue: error: --challenge dns-01 contradicts --tls-alpn, which answers "
            "tls-alpn-01; see acme issue --help",
        ),
        (
            ["--challenge", "dns-02", "a.test"],
            "acme issue: error: argument --challenge: invalid choice: 'dns-02' (choose from "
            "'http-01', 'tls-alpn-01', 'dns-01', 'dns-account-01', 'dns-persist-01'); "
            "see acme issue --help",
        ),
        (
            ["--challenge", "dns-account-01", "a.test"],
            "acme issue: error: dns-account-01 needs a way to publish TXT records: add "
            "--dns-hook CMD (run as `CMD present NAME VALUE` and `CMD cleanup NAME VALUE`); "
            "see acme issue --help",
        ),
        (
            ["--challenge", "dns-persist-01", "--dns-hook", "true", "a.test"],
            "acme issue: error: --challenge dns-persist-01 contradicts --dns-hook, which answers "
            "dns-01; see acme issue --help",
        ),
        (
            ["--dns-check", "a.test"],
            "acme issue: error: --dns-check and its options apply to DNS challenges, not "
            "http-01; see acme issue --help",
        ),
        (
            ["--webroot", ".", "--dns-check-server", "127.0.0.1:5353", "a.test"],
            "acme issue: error: --dns-check and its options apply to DNS challenges, not "
            "http-01; see acme issue --help",
        ),
        (
            ["--challenge", "dns-persist-01", "--dns-resolver", "ns1.example", "a.test"],
            "acme issue: error: argument --dns-resolver: not an IP address: 'ns1.example' "
            "(in 'ns1.example'); see acme issue --help",
        ),
        (
            ["--challenge", "dns-persist-01", "--dns-check-server", "[::1]:", "a.test"],
            "acme issue: error: argument --dns-check-server: not a port number: ''; "
            "see acme issue --help",
        ),
        (
            [
                "--challenge",
                "dns-persist-01",
                "--dns-resolver",
                "127.0.0.1",
                "--dns-check-server",
                "127.0.0.1",
                "a.test",
            ],
            "acme issue: error: argument --dns-check-server: not allowed with argument "
            "--dns-resolver; see acme issue --help",
        ),
        (
            ["--challenge", "dns-persist-01", "--dns-check-server", "[::1]:99999", "a.test"],
            "acme issue: error: argument --dns-check-server: port out of range 0-65535: 99999; "
            "see acme issue --help",
        ),
    ],
)
def test_refused_combinations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    status, out, err = run(
        capsys, "issue", *NOWHERE, "--config-dir", tmp_path / "cfg", "--key-file",
        tmp_path / "k", "--chain-file", tmp_path / "c", *argv,
    )  # fmt: skip
    assert status == 2
    assert out == ""
    assert err.strip() == message
    assert list(tmp_path.iterdir()) == []  # nothing written, no account made


def test_explicit_dns01_with_a_hook_and_webroot_http01(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--challenge dns-01 --dns-hook`` and ``--challenge http-01 --webroot`` both issue."""
    hook = tmp_path / "hook.py"  # publishes straight into the in-process CA's store
    hook.write_text(
        "import json, sys\n"
        "with open(sys.argv[1], 'a') as out:\n"
        "    out.write(json.dumps(sys.argv[2:]) + '\\n')\n"
    )
    calls = tmp_path / "calls.jsonl"
    root = tmp_path / "www"
    root.mkdir()
    with ACMETestServer(always_valid=True) as server:
        ca = [
            "--directory", server.directory_url, "--ca-bundle", server.ca_bundle_path,
            "--config-dir", tmp_path / "cfg", "--agree-tos",
        ]  # fmt: skip
        status, out, err = run(
            capsys, "issue", *ca, "--challenge", "dns-01", "--dns-hook",
            f"{sys.executable} {hook} {calls}", "--key-file", tmp_path / "k1",
            "--chain-file", tmp_path / "c1", "*.hook.test",
        )  # fmt: skip
        assert status == 0, err
        assert "certificate issued for *.hook.test" in out
        assert "dns-01 challenge answered" in err
        assert [line.split('"')[1] for line in calls.read_text().splitlines()] == [
            "present",
            "cleanup",
        ]
        status, out, err = run(
            capsys, "issue", *ca, "--challenge", "http-01", "--webroot", root,
            "--key-file", tmp_path / "k2", "--chain-file", tmp_path / "c2", "web.test",
        )  # fmt: skip
        assert status == 0, err
        assert "certificate issued for web.test" in out
        assert "http-01 challenge answered" in err


def test_a_dns01_only_authorization_names_the_missing_hook(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A CA that offers only dns-01: the http-01 run fails and says what would work."""
    root = tmp_path / "www"
    root.mkdir()
    with ACMETestServer(always_valid=True, challenge_types=("dns-01",)) as server:
        status, _, err = run(
            capsys, "issue", "--directory", server.directory_url, "--ca-bundle",
            server.ca_bundle_path, "--config-dir", tmp_path / "cfg", "--agree-tos",
            "--webroot", root, "--key-file", tmp_path / "k", "--chain-file", tmp_path / "c",
            "only-dns.test",
        )  # fmt: skip
    assert status == 1
    assert err.splitlines()[-1] == (
        "acme: error: the CA offers no http-01 challenge for only-dns.test (it offers: dns-01); "
        "dns-01 needs --dns-hook CMD to publish its TXT records"
    )


def test_the_chosen_challenge_is_what_the_lineage_records() -> None:
    """``acme renew`` answers what ``acme issue`` chose, also when chosen by --challenge."""
    from acme.cli._issue import challenge_type
    from acme.cli._manage import solver_options
    from acme.cli._parser import build_parser

    def recorded(*argv: str) -> tuple[str, dict[str, str]]:
        args = build_parser().parse_args(["issue", *argv, "a.test"])
        args.challenge = challenge_type(args, ["a.test"])
        return solver_options(args)

    assert recorded("--challenge", "tls-alpn-01", "--tls-port", "8443") == (
        "tls-alpn-01",
        {"solver": "tls-alpn", "bind": "", "port": "8443"},
    )
    assert recorded("--challenge", "dns-account-01", "--dns-hook", "h", "--dns-check") == (
        "dns-account-01",
        {
            "solver": "dns-hook", "dns_hook": "h", "dns_hook_timeout": "300.0",
            "dns_check": "1", "dns_check_timeout": "300.0", "dns_resolvers": "",
            "dns_check_servers": "",
        },
    )  # fmt: skip
    assert recorded("--challenge", "dns-persist-01", "--dns-check-server", "::1") == (
        "dns-persist-01",
        {"solver": "dns-persist"},
    )
    assert recorded()[0] == "http-01"
