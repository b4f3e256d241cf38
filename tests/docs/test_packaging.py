"""Packaging facts a user relies on: the distribution name, ``acme --version``, the extras.

The build itself (sdist contents, wheel installed in a clean venv, ``acme demo`` from it) is
checked by ``.ci/package-check``, which CI runs after ``make test``.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

from acme.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_version_option_names_the_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"acme {importlib.metadata.version('acme-protocol')} (acme-protocol)"
    assert re.fullmatch(r"acme \d+\.\d+\.\d+\S* \(acme-protocol\)", out)


def test_python_m_acme_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acme", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("acme ")


def test_distribution_metadata() -> None:
    meta = importlib.metadata.metadata("acme-protocol")
    assert meta["Name"] == "acme-protocol"  # not certbot's "acme"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Requires-Python"] == ">=3.10"
    license_text = (ROOT / "LICENSE").read_text("utf-8")
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text


def test_test_extra_has_no_linters_and_dev_has_them() -> None:
    requirements = importlib.metadata.requires("acme-protocol") or []

    def names(extra: str) -> set[str]:
        marker = f'extra == "{extra}"'
        return {
            re.split(r"[<>=\[ ;]", req, maxsplit=1)[0].lower()
            for req in requirements
            if req.endswith(marker)
        }

    assert not names("test") & {"ruff", "mypy", "types-requests"}
    assert {"ruff", "mypy", "types-requests", "build"} <= names("dev")
    assert {"sphinx", "furo", "myst-parser", "sphinx-argparse"} <= names("docs")
