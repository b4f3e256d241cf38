"""certbot 5.x runs unchanged on this library: register, certonly --standalone, renew, revoke.

certbot gets a virtual environment of its own, set up exactly as docs/certbot.md tells users:
this package (distribution ``acme-protocol``) first, then ``certbot==5.8.*`` with ``--no-deps``
and certbot's other requirements from PyPI, so certbot's own ``acme`` is never installed.
Pebble validates for real, against certbot's standalone plugin, which is our acme.standalone.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from cryptography import x509

from interop.certbot_env import ROOT, install_steps
from interop.pebble_harness import PebbleInstance, require_binaries, start_pebble

pytestmark = pytest.mark.pebble


@pytest.fixture(scope="module")
def certbot(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A venv set up as docs/certbot.md says, with this source tree as ``acme-protocol``."""
    venv = tmp_path_factory.mktemp("certbot-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    for step in install_steps():
        args = [str(ROOT) if arg == "acme-protocol" else arg for arg in step]
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args],
            check=True,
            capture_output=True,
            timeout=600,
        )
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import acme.client, importlib.metadata as m; print(acme.client.__file__);"
         "print(m.version('certbot')); print(sorted(d.metadata['Name'] for d in"
         " m.distributions() if d.metadata['Name'].lower().startswith('acme')))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    module, certbot_version, acme_dists = probe.stdout.splitlines()
    # Our acme.client (it has the asyncio sibling module acme 5.x lacks), and no certbot acme.
    assert (pathlib.Path(module).parent / "asyncio_client.py").exists()
    assert certbot_version.startswith("5.8.")
    assert acme_dists == "['acme-protocol']"
    return venv / "bin" / "certbot"


@pytest.fixture(scope="module")
def peb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    require_binaries()
    with start_pebble(tmp_path_factory.mktemp("pebble-certbot"), nonce_reject=0) as instance:
        yield instance


def test_certbot_issues_renews_and_revokes(
    certbot: pathlib.Path, peb: PebbleInstance, tmp_path: pathlib.Path
) -> None:
    env = {**os.environ, "REQUESTS_CA_BUNDLE": peb.ca_bundle}
    common = [
        str(certbot),
        "--server", peb.directory_url,
        "--config-dir", str(tmp_path / "config"),
        "--work-dir", str(tmp_path / "work"),
        "--logs-dir", str(tmp_path / "logs"),
        "--non-interactive", "--agree-tos", "-m", "ops@example.com",
    ]  # fmt: skip
    standalone = ["--http-01-port", str(peb.http_port), "--http-01-address", "127.0.0.1"]

    def certbot_run(*args: str) -> str:
        done = subprocess.run(
            [*common, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        log = (tmp_path / "logs" / "letsencrypt.log").read_text(errors="replace")
        assert done.returncode == 0, done.stdout + done.stderr + log[-3000:]
        return done.stdout + done.stderr

    certbot_run("certonly", "--standalone", *standalone, "-d", "certbot.example.com")
    live = tmp_path / "config" / "live" / "certbot.example.com"
    first = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    san = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["certbot.example.com"]

    out = certbot_run("renew", "--force-renewal", "--no-random-sleep-on-renew", *standalone)
    assert "all renewals succeeded" in out
    renewed = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    assert renewed.serial_number != first.serial_number

    out = certbot_run("revoke", "--cert-name", "certbot.example.com", "--no-delete-after-revoke")
    assert "successfully revoked" in out
