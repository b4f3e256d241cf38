"""Fault injection knobs of the test server, drawn from seeded random streams.

Every kind of fault has its own stream derived from ``Faults.seed``, so turning one knob does
not change which requests another knob hits, and a test run is reproducible.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Set as AbstractSet

from acme import errors

__all__ = ["FaultDice", "Faults", "RateLimit"]


@dataclasses.dataclass(frozen=True)
class Faults:
    """What to break, and how often (each rate is a share of eligible requests, 0 to 1).

    :ivar seed: seeds the random streams.
    :ivar bad_nonce_rate: share of correctly signed requests refused with ``badNonce``
        (RFC 8555 section 6.5) although their nonce was good.
    :ivar error_rate: share of requests answered with ``error_status`` before they take
        effect: 429 is a ``rateLimited`` problem (section 6.6), 5xx ``serverInternal``.
    :ivar error_status: the status used by ``error_rate``.
    :ivar retry_after: the ``Retry-After`` seconds sent with those errors (None: no header).
    :ivar delay_seconds: (HTTPS shell only) wait this long before every eligible response.
    :ivar drop_response_rate: (HTTPS shell only) share of requests that take effect but whose
        connection is closed without a response.
    :ivar resources: restrict faults to these resource names (see
        `acme.testing.RESOURCES`); empty means every resource.
    """

    seed: int = 0
    bad_nonce_rate: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    retry_after: int | None = 1
    delay_seconds: float = 0.0
    drop_response_rate: float = 0.0
    resources: AbstractSet[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("bad_nonce_rate", "error_rate", "drop_response_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise errors.InvalidArgument(f"Faults.{name} must be between 0 and 1, got {rate!r}")
        if self.error_status != 429 and not 500 <= self.error_status <= 599:
            raise errors.InvalidArgument(
                f"Faults.error_status must be 429 or 5xx, got {self.error_status}"
            )
        if self.delay_seconds < 0:
            raise errors.InvalidArgument("Faults.delay_seconds must not be negative")
        object.__setattr__(self, "resources", frozenset(self.resources))


class FaultDice:
    """Seeded yes/no draws, one independent stream per fault kind."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._streams: dict[str, random.Random] = {}

    def roll(self, kind: str, rate: float, resource: str) -> bool:
        """Whether fault ``kind`` hits this request to ``resource``."""
        if rate <= 0.0 or (self.faults.resources and resource not in self.faults.resources):
            return False
        stream = self._streams.get(kind)
        if stream is None:
            stream = self._streams[kind] = random.Random(f"{self.faults.seed}/{kind}")
        return stream.random() < rate


@dataclasses.dataclass(frozen=True)
class RateLimit:
    """A rate limit on one resource: ``limit`` requests pass, the next ones are refused with
    ``rateLimited`` (429, RFC 8555 section 6.6) and ``Retry-After: retry_after`` until that
    many seconds have passed on the server's clock; then the count starts again.

    :ivar resource: a resource name of `acme.testing.RESOURCES` (e.g. ``newOrder``).
    """

    resource: str = "newOrder"
    limit: int = 0
    retry_after: int = 60

    def __post_init__(self) -> None:
        if self.limit < 0 or self.retry_after < 1:
            raise errors.InvalidArgument("RateLimit needs limit >= 0 and retry_after >= 1")
