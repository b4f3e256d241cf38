"""Fixtures of the acme.dns tests: two authoritative servers for one zone, and BIND 9."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.dns_servers import AuthoritativeServer, Bind, free_port, zone_text

ZONE = "example.test"
OTHER_ZONE = "delegated.test"


@pytest.fixture
def two_servers() -> Iterator[tuple[AuthoritativeServer, AuthoritativeServer]]:
    """ns1.example.test on 127.0.0.1 and ns2.example.test on 127.0.0.2, one port for both,
    each serving example.test and delegated.test from its own copy."""
    port = free_port("127.0.0.1", "127.0.0.2")
    nameservers = {"ns1": "127.0.0.1", "ns2": "127.0.0.2"}
    other = zone_text(OTHER_ZONE, {}) + "@ NS ns1.example.test.\n@ NS ns2.example.test.\n"
    zones = {ZONE: zone_text(ZONE, nameservers), OTHER_ZONE: other}
    first = AuthoritativeServer("127.0.0.1", port, zones)
    try:
        second = AuthoritativeServer("127.0.0.2", port, zones)
    except BaseException:
        first.close()
        raise
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[Bind]:
    server = Bind(tmp_path)
    yield server
    server.stop()
