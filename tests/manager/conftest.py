"""Fixtures of the manager tests: an always-valid acme.testing CA and a client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from manager_support import new_client

from acme import client
from acme.testing import ACMETestServer


@pytest.fixture
def ca(acme_test_server: ACMETestServer) -> ACMETestServer:
    return acme_test_server


@pytest.fixture
def acme_client(ca: ACMETestServer) -> Iterator[client.ClientV2]:
    acme = new_client(ca)
    yield acme
    acme.net.close()


from postgres_server import postgres_dsn, postgres_server  # noqa: E402, F401 - fixtures
