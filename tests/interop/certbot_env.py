"""A virtual environment with certbot 5.8 whose `acme` is this package (built once, then reused).

certbot requires acme 5.x, so it cannot share our .venv. `certbot_venv()` builds a venv under
`.venv/foreign/` keyed by certbot's version and the Python version: certbot from PyPI with
`--no-deps`, then certbot's declared dependencies except `acme` (read from its installed
metadata), the few packages `_EXTRA` names and this package, installed editable so the cache
stays valid as the code changes (a change to pyproject.toml rebuilds it). Only PyPI is
contacted, and only while building; every pip call has a time limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement

__all__ = ["CERTBOT_SPEC", "CERTBOT_VERSION", "ROOT", "certbot_venv", "site_packages"]

ROOT = Path(__file__).resolve().parents[2]
CERTBOT_VERSION = "5.8"
CERTBOT_SPEC = f"certbot=={CERTBOT_VERSION}.*"
# Bump when the recipe below changes, so cached venvs are rebuilt.
_RECIPE = 2
# Beyond certbot's declared requirements: pyOpenSSL, which certbot imports but gets through
# acme 5.x; pyparsing, from certbot's "nginx" extra, so its nginx plugin tests run too (the
# apache ones need the augeas C library and skip, as they do on acme 5.9); pytest.
_EXTRA = ("pyOpenSSL>=25.0.0", "pyparsing>=3.0.0", "pytest>=8")
_PIP_TIMEOUT = 600


def _run(*cmd: str | Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=_PIP_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def _certbot_requirements(python: Path) -> list[str]:
    """certbot's unconditional requirements for this interpreter, without `acme`."""
    script = "import importlib.metadata as m, json; print(json.dumps(m.requires('certbot')))"
    raw = json.loads(_run(python, "-c", script))
    wanted = []
    for line in raw:
        req = Requirement(line)
        if req.name.lower() == "acme":
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        wanted.append(str(req))
    return wanted


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
    """The cached venv's directory, built first if missing or made by another recipe."""
    tag = f"certbot-{CERTBOT_VERSION}-py{sys.version_info[0]}.{sys.version_info[1]}"
    venv = ROOT / ".venv" / "foreign" / tag
    stamp = venv / ".built"
    # Rebuilt when pyproject.toml changes (our dependencies may have), as make's .venv is.
    project = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    key = json.dumps(
        {"certbot": CERTBOT_SPEC, "recipe": _RECIPE, "python": sys.version, "project": project}
    )
    with _locked(venv.parent / f"{tag}.lock"):
        if stamp.exists() and stamp.read_text() == key:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        _run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        pip = (python, "-m", "pip", "install", "-q", "--disable-pip-version-check")
        _run(*pip, "--no-deps", CERTBOT_SPEC)
        _run(*pip, *_certbot_requirements(python), *_EXTRA, "-e", ROOT)
        script = "import acme, certbot; print(acme.__file__, certbot.__version__)"
        probe = _run(python, "-c", script)
        acme_file, version = probe.split()
        # Our acme (from this checkout's src/), and the certbot we asked for.
        assert Path(acme_file).resolve() == ROOT / "src" / "acme" / "__init__.py", probe
        assert version.startswith(f"{CERTBOT_VERSION}."), probe
        stamp.write_text(key)
    return venv
