"""pytest plugin (``pytest11`` entry point ``acme_testing``): fixtures running `ACMETestServer`.

- ``acme_test_server``: a running server that accepts every answered challenge.
- ``acme_test_server_factory``: ``factory(**options)`` starts a server with any
  `ACMETestServer` options (real validation, profiles, EAB, fault knobs, ...).

Every server a test starts is closed when the test ends. FOR TESTS ONLY. ``acme.testing`` is
imported only when a fixture is used, so merely having the plugin installed costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from acme.testing import ACMETestServer

__all__ = ["acme_test_server", "acme_test_server_factory"]


@pytest.fixture
def acme_test_server_factory() -> Iterator[Callable[..., ACMETestServer]]:
    """A function starting test servers (``ACMETestServer(**options)``), closed after the test."""
    from acme.testing import ACMETestServer

    started: list[ACMETestServer] = []

    def start(**options: Any) -> ACMETestServer:
        server = ACMETestServer(**options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def acme_test_server(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> ACMETestServer:
    """A running always-valid test ACME server (``.directory_url``, ``.ca_bundle_path``)."""
    return acme_test_server_factory(always_valid=True)
