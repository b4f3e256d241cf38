"""The harness's own errors."""

from __future__ import annotations

__all__ = ["ChallTestSrvError", "PebbleStartError"]


class PebbleStartError(RuntimeError):
    """Pebble or challtestsrv did not come up; the message carries their captured output."""


class ChallTestSrvError(RuntimeError):
    """challtestsrv's management API refused a request."""
