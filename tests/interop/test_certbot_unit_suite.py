"""certbot 5.8's own unit tests pass with this package as its `acme`.

certbot ships its unit tests inside the package (`certbot/_internal/tests/`); they drive acme's
public API the way certbot does, with doubles for the network, so they catch signature and
behaviour differences an end-to-end run against Pebble never reaches. They run in the venv of
interop/certbot_env.py (built once, from PyPI), in a subprocess bounded in time. None is
deselected: on acme 5.9 all of them pass here, as root too, except those certbot itself skips
(Windows-only tests, and the apache plugin's, which need the augeas C library).
"""

from __future__ import annotations

from interop.certbot_env import CERTBOT_VERSION, certbot_venv, site_packages
from interop.foreign_suite import run_suite

# certbot's suite takes 30-90 s on a shared 2-core machine; a hang must not stall CI.
SUITE_TIMEOUT = 600


def test_certbot_unit_suite_passes_on_our_acme() -> None:
    venv = certbot_venv()
    tests = site_packages(venv) / "certbot" / "_internal" / "tests"
    result = run_suite(venv / "bin" / "python", [tests], rootdir=tests, timeout=SUITE_TIMEOUT)
    problems = "\n".join(f"{p.nodeid}: {p.message[:300]}" for p in result.problems())
    assert not problems, f"certbot {CERTBOT_VERSION} unit tests: {result.summary()}\n{problems}"
    counts = result.counts()
    # The suite really ran (not an empty collection), nginx plugin tests included.
    assert counts["passed"] >= 1200, result.summary() + "\n" + result.output[-3000:]
    assert result.returncode == 0, result.output[-3000:]
