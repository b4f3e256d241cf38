"""Fixtures of the manager tests: an always-valid acme.testing CA and a client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acme import client
from acme.testing import ACMETestServer
from support.manager import new_client


@pytest.fixture
def ca(acme_test_server: ACMETestServer) -> ACMETestServer:
    return acme_test_server


@pytest.fixture
def acme_client(ca: ACMETestServer) -> Iterator[client.ClientV2]:
    acme = new_client(ca)
    yield acme
    acme.net.close()


from support.postgres import postgres_dsn, postgres_server  # noqa: E402, F401 - fixtures
