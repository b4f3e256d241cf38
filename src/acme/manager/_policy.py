"""When to ask for renewal information and when to renew: pure decisions, no I/O.

Every function takes the current time (``now``, aware UTC) and, where chance is involved, a
random source, so a test can replay any schedule. The rules:

- Renewal information (RFC 9773) is fetched right after issuance (section 4.3) and then again
  at the time its ``Retry-After`` gave, clamped to [1 minute, 1 day] (section 4.3.2); after a
  long-term error, six hours later (section 4.3.3). Never for an expired certificate.
- The renewal time is a uniformly random instant in the suggested window (section 4.2, step 2),
  drawn once per window: the same window fetched again keeps the time already drawn, so
  frequent checks do not bias renewals towards the window's start. A window that is in the
  past (a CA's revocation drill) means "renew now" (step 3).
- Without renewal information (a CA without ARI, or none fetched yet), renew at 2/3 of the
  certificate's lifetime.
- A failed renewal waits an exponential back-off (RFC 9773 section 4.2: "subject to the
  client's existing error backoff"); a ``rateLimited`` answer blocks every lineage of that CA
  until its ``Retry-After`` (RFC 8555 section 6.6).
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from collections.abc import Callable

from acme import errors

__all__ = [
    "ARIUpdate",
    "CABackoff",
    "CheckRenewalInfo",
    "Decision",
    "Issue",
    "Policy",
    "Schedule",
    "Wait",
    "decide",
    "failure_backoff",
    "fallback_renewal_time",
    "renewal_info_failed",
    "renewal_info_received",
]

Clock = Callable[[], datetime.datetime]
_SECOND = datetime.timedelta(seconds=1)


@dataclasses.dataclass(frozen=True)
class Policy:
    """The knobs of the schedule (seconds unless named otherwise)."""

    #: RFC 9773 section 4.3.2: Retry-After values are clamped into [min, max].
    ari_min_interval: float = 60.0
    ari_max_interval: float = 86400.0
    #: RFC 9773 section 4.3.3: the next check after a long-term error.
    ari_error_interval: float = 6 * 3600.0
    #: Fraction of the lifetime after which to renew when there is no renewal window.
    fallback_fraction: float = 2 / 3
    #: Failed renewals wait ``failure_base * 2**(failures - 1)``, at most ``failure_max``.
    failure_base: float = 60.0
    failure_max: float = 86400.0
    #: A ``rateLimited`` answer without a usable Retry-After blocks the CA this long.
    rate_limit_default: float = 3600.0
    #: The longest Retry-After honoured for a rate limit.
    rate_limit_max: float = 7 * 86400.0


@dataclasses.dataclass(frozen=True)
class Issue:
    """Order a certificate now; ``replaces`` is the RFC 9773 id of the one it replaces."""

    replaces: str | None
    reason: str


@dataclasses.dataclass(frozen=True)
class CheckRenewalInfo:
    """Fetch the current certificate's renewal information now."""


@dataclasses.dataclass(frozen=True)
class Wait:
    """Nothing to do before ``until``."""

    until: datetime.datetime
    reason: str


Decision = Issue | CheckRenewalInfo | Wait


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The scheduling state of one lineage, as `decide` reads it (see `Certificate`)."""

    has_certificate: bool
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    ari_id: str | None = None
    window: tuple[datetime.datetime, datetime.datetime] | None = None
    renew_at: datetime.datetime | None = None
    next_ari_check: datetime.datetime | None = None
    retry_at: datetime.datetime | None = None
    skip_replaces: bool = False
    force: bool = False


def fallback_renewal_time(
    not_before: datetime.datetime, not_after: datetime.datetime, policy: Policy = Policy()
) -> datetime.datetime:
    """``not_before + fraction * lifetime``: when to renew without a renewal window."""
    return not_before + (not_after - not_before) * policy.fallback_fraction


def decide(
    state: Schedule,
    now: datetime.datetime,
    *,
    ca_has_ari: bool,
    ca_blocked_until: datetime.datetime | None = None,
    policy: Policy = Policy(),
) -> Decision:
    """What to do for one lineage at ``now``."""
    _require_aware(now)
    if ca_blocked_until is not None and ca_blocked_until > now:
        return Wait(ca_blocked_until, "the CA asked us to slow down (rateLimited)")
    if not state.has_certificate:
        if state.retry_at is not None and state.retry_at > now and not state.force:
            return Wait(state.retry_at, "backing off after a failed issuance")
        return Issue(None, "no certificate yet")
    assert state.not_before is not None
    assert state.not_after is not None
    replaces = state.ari_id if ca_has_ari and not state.skip_replaces else None
    if state.force:
        return Issue(replaces, "renewal forced")
    if state.retry_at is not None and state.retry_at > now:
        return Wait(state.retry_at, "backing off after a failed renewal")
    if state.not_after <= now:
        return Issue(replaces, "the certificate has expired")
    # RFC 9773 section 4.3: fetch right after issuance and whenever Retry-After says.
    if ca_has_ari and (state.next_ari_check is None or state.next_ari_check <= now):
        return CheckRenewalInfo()
    renew_at = state.renew_at
    if renew_at is None:
        renew_at = fallback_renewal_time(state.not_before, state.not_after, policy)
    if renew_at <= now:
        why = "inside the suggested renewal window" if state.window else "2/3 of its lifetime"
        return Issue(replaces, why)
    until = renew_at
    if ca_has_ari and state.next_ari_check is not None:
        until = min(until, state.next_ari_check)
    return Wait(until, "not due yet")


@dataclasses.dataclass(frozen=True)
class ARIUpdate:
    """What a renewalInfo answer changes: the window, the renewal time, the next check."""

    window: tuple[datetime.datetime, datetime.datetime] | None
    renew_at: datetime.datetime | None
    next_ari_check: datetime.datetime
    window_changed: bool


def renewal_info_received(
    state: Schedule,
    start: datetime.datetime,
    end: datetime.datetime,
    retry_at: datetime.datetime,
    now: datetime.datetime,
    rng: random.Random,
    policy: Policy = Policy(),
) -> ARIUpdate:
    """Apply a renewalInfo answer (RFC 9773 section 4.2, steps 2-3; 4.3.2 clamping)."""
    _require_aware(now, start, end, retry_at)
    wait = (retry_at - now).total_seconds()
    wait = min(policy.ari_max_interval, max(policy.ari_min_interval, wait))
    next_check = now + datetime.timedelta(seconds=wait)
    if end <= start:  # section 4.2: invalid, treat it as no answer at all
        return renewal_info_failed(state, now, policy)
    window = (start, end)
    changed = window != state.window
    renew_at = state.renew_at
    if changed or renew_at is None:
        span = (end - start).total_seconds()
        renew_at = start + datetime.timedelta(seconds=rng.random() * span)
    if end <= now:  # the window was moved into the past: renew now (step 3)
        renew_at = now
    return ARIUpdate(window, renew_at, next_check, changed)


def renewal_info_failed(
    state: Schedule, now: datetime.datetime, policy: Policy = Policy()
) -> ARIUpdate:
    """A long-term renewalInfo error: keep what we knew, ask again in six hours (4.3.3)."""
    next_check = now + datetime.timedelta(seconds=policy.ari_error_interval)
    return ARIUpdate(state.window, state.renew_at, next_check, False)


def failure_backoff(
    failures: int, now: datetime.datetime, rng: random.Random, policy: Policy = Policy()
) -> datetime.datetime:
    """When to try again after the ``failures``-th failure in a row (with 10% jitter)."""
    exponent = max(0, min(failures - 1, 40))
    seconds = min(policy.failure_max, policy.failure_base * 2**exponent)
    seconds *= 0.9 + 0.2 * rng.random()
    return now + datetime.timedelta(seconds=seconds)


class CABackoff:
    """Per-CA blocks after ``rateLimited`` answers (RFC 8555 section 6.6), by directory URL."""

    def __init__(self, policy: Policy = Policy()) -> None:
        self.policy = policy
        self._until: dict[str, datetime.datetime] = {}

    def rate_limited(
        self, ca: str, retry_after: datetime.datetime | None, now: datetime.datetime
    ) -> datetime.datetime:
        """Record a rateLimited answer; returns when the CA may be asked again."""
        _require_aware(now)
        if retry_after is None or retry_after <= now:
            until = now + datetime.timedelta(seconds=self.policy.rate_limit_default)
        else:
            cap = now + datetime.timedelta(seconds=self.policy.rate_limit_max)
            until = min(retry_after, cap)
        self._until[ca] = max(until, self._until.get(ca, until))
        return self._until[ca]

    def blocked_until(self, ca: str, now: datetime.datetime) -> datetime.datetime | None:
        """When ``ca`` may be asked again, or None if it may be asked now."""
        until = self._until.get(ca)
        if until is None or until <= now:
            self._until.pop(ca, None)
            return None
        return until


def _require_aware(*times: datetime.datetime) -> None:
    for when in times:
        if when.tzinfo is None or when.utcoffset() is None:
            raise errors.Error(f"Expected an aware UTC datetime, got naive {when!r}")
