"""certbot on this library, installed as docs/certbot.md tells users (the one recipe).

`install_steps()` reads the ``pip install`` lines of docs/certbot.md: this package first (the
``acme-protocol`` distribution), then ``certbot==5.8.*`` with ``--no-deps``, then certbot's
other requirements. Every test that needs certbot follows them, so the page cannot drift.

`certbot_venv()` is such a venv for certbot's own unit tests, built once under `.venv/foreign/`
and reused: this package is installed editable there (so the cache stays valid as the code
changes), plus `_EXTRA`. It is rebuilt when docs/certbot.md, pyproject.toml or the Python
version change. Only PyPI is contacted, and only while building; every pip call has a time
limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CERTBOT_VERSION", "ROOT", "certbot_venv", "install_steps", "site_packages"]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "certbot.md"
# Bump when the recipe below changes, so cached venvs are rebuilt.
_RECIPE = 3
# For the unit tests only: pyparsing, from certbot's "nginx" extra, so its nginx plugin tests
# run too (the apache ones need the augeas C library and skip, as on acme 5.9); pytest.
_EXTRA = ("pyparsing>=3.0.0", "pytest>=8")
_PIP_TIMEOUT = 600


def install_steps() -> list[list[str]]:
    """The ``pip install`` lines of docs/certbot.md, as argument lists after ``pip install``."""
    page = DOCS.read_text("utf-8")
    steps = [
        shlex.split(line)[2:]
        for line in page.splitlines()
        if line.startswith("certbot-env/bin/pip install ")
    ]
    assert steps[0] == ["acme-protocol"]
    assert steps[1][0] == "--no-deps"
    assert steps[1][1].startswith("certbot==")
    return steps


def _certbot_version() -> str:
    """``5.8`` for the ``certbot==5.8.*`` of docs/certbot.md."""
    return install_steps()[1][1].removeprefix("certbot==").removesuffix(".*")


CERTBOT_VERSION = _certbot_version()


def _run(*cmd: str | Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=_PIP_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def site_packages(venv: Path) -> Path:
    """The venv's site-packages directory (same interpreter version as ours)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / version / "site-packages"


def certbot_venv() -> Path:
    """The cached venv's directory, built first if missing or made from another recipe."""
    tag = f"certbot-{CERTBOT_VERSION}-py{sys.version_info[0]}.{sys.version_info[1]}"
    venv = ROOT / ".venv" / "foreign" / tag
    stamp = venv / ".built"
    inputs = hashlib.sha256(DOCS.read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    key = json.dumps({"recipe": _RECIPE, "python": sys.version, "inputs": inputs.hexdigest()})
    with _locked(venv.parent / f"{tag}.lock"):
        if stamp.exists() and stamp.read_text() == key:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        _run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        pip = (python, "-m", "pip", "install", "-q", "--disable-pip-version-check")
        for step in install_steps():
            _run(*pip, *(["-e", str(ROOT)] if step == ["acme-protocol"] else step))
        _run(*pip, *_EXTRA)
        script = "import acme, certbot; print(acme.__file__, certbot.__version__)"
        acme_file, version = _run(python, "-c", script).split()
        # Our acme (from this checkout's src/), and the certbot the page names.
        assert Path(acme_file).resolve() == ROOT / "src" / "acme" / "__init__.py", acme_file
        assert version.startswith(f"{CERTBOT_VERSION}."), version
        stamp.write_text(key)
    return venv
