"""The pytest wiring: the ``pebble`` marker and the ``pebble`` / ``pebble_factory`` fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from interop.pebble_harness.instance import (
    PebbleInstance,
    require_binaries,
    start_pebble,
)

# --- pytest wiring (conftest.py re-exports these) ---

_FIXTURE_NAMES = frozenset({"pebble", "pebble_factory"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a Pebble fixture ``pebble``, so ``-m "not pebble"`` works."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _FIXTURE_NAMES and item.get_closest_marker("pebble") is None:
            item.add_marker(pytest.mark.pebble)


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    """The session's default Pebble (`start_pebble` defaults); clear challtestsrv mocks you add."""
    require_binaries()
    with start_pebble(tmp_path_factory.mktemp("pebble")) as instance:
        yield instance


@pytest.fixture
def pebble_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., PebbleInstance]]:
    """``pebble_factory(**start_pebble_options)`` starts a custom instance, stopped at teardown."""
    require_binaries()
    started: list[PebbleInstance] = []

    def make(**options: Any) -> PebbleInstance:
        instance = start_pebble(tmp_path_factory.mktemp("pebble"), **options)
        started.append(instance)
        return instance

    yield make
    for instance in reversed(started):
        instance.stop()
