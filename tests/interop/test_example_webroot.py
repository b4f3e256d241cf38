"""examples/issue_webroot.py issues a real certificate from Pebble through a webroot folder."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import pathlib
import stat
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest
from cryptography import x509

from interop.pebble_harness import PebbleInstance, require_binaries, start_pebble

pytestmark = pytest.mark.pebble
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "issue_webroot.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("issue_webroot", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def peb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    require_binaries()
    with start_pebble(tmp_path_factory.mktemp("pebble-example"), nonce_reject=0) as instance:
        yield instance


def test_example_issues_through_a_webroot(peb: PebbleInstance, tmp_path: pathlib.Path) -> None:
    webroot, out = tmp_path / "www", tmp_path / "out"
    webroot.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(webroot))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", peb.http_port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        argv = ["--directory", peb.directory_url, "--webroot", str(webroot), "--out", str(out)]
        argv += ["--ca-bundle", peb.ca_bundle, "--email", "ops@example.com", "www.example.com"]
        example = _load_example()
        assert example.main(argv) == 0
        # A second run refuses to overwrite the key and chain, before contacting the CA.
        assert example.main(argv) == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

    chain = x509.load_pem_x509_certificates((out / "fullchain.pem").read_bytes())
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["www.example.com"]
    for key_file in ("privkey.pem", "account.pem"):
        assert stat.S_IMODE((out / key_file).stat().st_mode) == 0o600
    assert list((webroot / ".well-known" / "acme-challenge").iterdir()) == []  # cleaned up
