"""Fixtures for command-line tests (helpers in ``support.served_ca``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.served_ca import HOOK_SOURCE, ServedCA, start_served_ca


@pytest.fixture
def serve_test_ca(tmp_path: Path) -> Iterator[Callable[..., ServedCA]]:
    """``serve_test_ca(*options)`` starts ``python -m acme serve-test-ca OPTIONS``; every one
    is stopped at teardown, must exit 0 without a traceback and must have removed its files."""
    started: list[ServedCA] = []

    def start(*options: Any) -> ServedCA:
        served = start_served_ca(tmp_path, *options)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
        assert not Path(served.ca_bundle).exists()


@pytest.fixture
def dns_hook(tmp_path: Path) -> Path:
    """An executable hook script (see `support.served_ca.HOOK_SOURCE`) run by this interpreter."""
    hook = tmp_path / "dns-hook.py"
    hook.write_text(f"#!{sys.executable}\n{HOOK_SOURCE}")
    hook.chmod(0o755)
    return hook
