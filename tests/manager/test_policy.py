"""The schedule's decisions, pure: a fixed clock and a seeded random source, no network."""

from __future__ import annotations

import datetime
import random

import pytest

from acme import errors, messages
from acme.manager import _policy
from acme.manager._flow import replaces_rejected
from acme.manager._policy import (
    CABackoff,
    CheckRenewalInfo,
    Issue,
    Policy,
    Schedule,
    Wait,
    decide,
    failure_backoff,
    renewal_info_failed,
    renewal_info_received,
)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 1, tzinfo=UTC)
DAY = datetime.timedelta(days=1)
NB, NA = T0, T0 + 90 * DAY  # a 90-day certificate
CERT = Schedule(has_certificate=True, not_before=NB, not_after=NA, ari_id="aki.serial")


def test_no_certificate_means_issue_now() -> None:
    assert decide(Schedule(has_certificate=False), T0, ca_has_ari=True) == Issue(
        None, "no certificate yet"
    )


def test_renewal_info_is_fetched_first_then_when_retry_after_says() -> None:
    assert isinstance(decide(CERT, T0 + DAY, ca_has_ari=True), CheckRenewalInfo)
    later = Schedule(**{**CERT.__dict__, "next_ari_check": T0 + 2 * DAY, "renew_at": NA})
    assert decide(later, T0 + DAY, ca_has_ari=True) == Wait(T0 + 2 * DAY, "not due yet")
    assert isinstance(decide(later, T0 + 2 * DAY, ca_has_ari=True), CheckRenewalInfo)


def test_retry_after_is_clamped_to_one_minute_and_one_day() -> None:
    rng = random.Random(1)
    start, end = T0 + 60 * DAY, T0 + 62 * DAY
    short = renewal_info_received(CERT, start, end, T0 + datetime.timedelta(seconds=5), T0, rng)
    assert short.next_ari_check == T0 + datetime.timedelta(minutes=1)
    long = renewal_info_received(CERT, start, end, T0 + 30 * DAY, T0, rng)
    assert long.next_ari_check == T0 + DAY
    exact = renewal_info_received(CERT, start, end, T0 + datetime.timedelta(hours=6), T0, rng)
    assert exact.next_ari_check == T0 + datetime.timedelta(hours=6)


def test_renewal_time_is_uniform_in_the_window_and_kept_while_the_window_stays() -> None:
    start, end = T0 + 60 * DAY, T0 + 62 * DAY
    expected = start + (end - start) * random.Random(7).random()
    update = renewal_info_received(CERT, start, end, T0 + DAY, T0, random.Random(7))
    assert update.renew_at == expected
    assert update.window == (start, end)
    assert update.window_changed
    draws = [
        renewal_info_received(CERT, start, end, T0 + DAY, T0, random.Random(seed)).renew_at
        for seed in range(200)
    ]
    assert all(d is not None and start <= d <= end for d in draws)
    assert len(set(draws)) == 200
    # Fetched again, same window: the time already drawn is kept (no re-roll).
    known = Schedule(**{**CERT.__dict__, "window": (start, end), "renew_at": expected})
    again = renewal_info_received(known, start, end, T0 + DAY, T0 + DAY, random.Random(99))
    assert again.renew_at == expected
    assert not again.window_changed
    # A moved window is drawn again, inside the new one.
    moved = renewal_info_received(known, start - DAY, start, T0 + DAY, T0, random.Random(99))
    assert moved.window_changed
    assert moved.renew_at is not None
    assert start - DAY <= moved.renew_at <= start


def test_a_window_moved_into_the_past_means_renew_now_with_replaces() -> None:
    now = T0 + 10 * DAY
    update = renewal_info_received(CERT, T0 + DAY, T0 + 2 * DAY, now + DAY, now, random.Random())
    assert update.renew_at == now
    state = Schedule(
        **{**CERT.__dict__, "window": update.window, "renew_at": update.renew_at,
           "next_ari_check": update.next_ari_check}
    )  # fmt: skip
    decision = decide(state, now, ca_has_ari=True)
    assert decision == Issue("aki.serial", "inside the suggested renewal window")


def test_without_ari_renew_at_two_thirds_of_the_lifetime_without_replaces() -> None:
    two_thirds = NB + (NA - NB) * 2 / 3
    assert _policy.fallback_renewal_time(NB, NA) == two_thirds
    second_before = two_thirds - datetime.timedelta(seconds=1)
    assert decide(CERT, second_before, ca_has_ari=False) == Wait(two_thirds, "not due yet")
    assert decide(CERT, two_thirds, ca_has_ari=False) == Issue(None, "2/3 of its lifetime")


def test_invalid_window_or_error_asks_again_in_six_hours_and_keeps_the_fallback() -> None:
    bad = renewal_info_received(CERT, T0 + 2 * DAY, T0 + DAY, T0 + DAY, T0, random.Random())
    assert bad == renewal_info_failed(CERT, T0)
    assert bad.next_ari_check == T0 + datetime.timedelta(hours=6)
    assert bad.renew_at is None
    state = Schedule(**{**CERT.__dict__, "next_ari_check": bad.next_ari_check})
    hour = datetime.timedelta(hours=1)
    assert decide(state, T0 + hour, ca_has_ari=True) == Wait(T0 + 6 * hour, "not due yet")
    assert isinstance(decide(state, T0 + 6 * hour, ca_has_ari=True), CheckRenewalInfo)


def test_expired_certificate_is_renewed_without_asking_ari() -> None:
    assert decide(CERT, NA, ca_has_ari=True) == Issue("aki.serial", "the certificate has expired")


def test_ca_rate_limit_blocks_until_retry_after_capped_and_defaulted() -> None:
    backoff = CABackoff()
    until = backoff.rate_limited("https://ca/dir", T0 + datetime.timedelta(minutes=30), T0)
    assert until == T0 + datetime.timedelta(minutes=30)
    assert backoff.blocked_until("https://ca/dir", T0) == until
    assert backoff.blocked_until("https://other/dir", T0) is None
    blocked = decide(CERT, T0, ca_has_ari=True, ca_blocked_until=until)
    assert isinstance(blocked, Wait)
    assert blocked.until == until
    assert backoff.blocked_until("https://ca/dir", until) is None  # over
    assert CABackoff().rate_limited("x", None, T0) == T0 + datetime.timedelta(hours=1)
    assert CABackoff().rate_limited("x", T0 + 365 * DAY, T0) == T0 + 7 * DAY


def test_failure_backoff_doubles_with_jitter_up_to_a_day() -> None:
    rng = random.Random(3)
    for failures, base in [(1, 60), (2, 120), (5, 960)]:
        wait = (failure_backoff(failures, T0, rng) - T0).total_seconds()
        assert base * 0.9 <= wait <= base * 1.1
    assert failure_backoff(30, T0, rng) - T0 <= datetime.timedelta(days=1, hours=2.4)
    state = Schedule(**{**CERT.__dict__, "retry_at": T0 + DAY})
    backing_off = Wait(T0 + DAY, "backing off after a failed renewal")
    assert decide(state, T0, ca_has_ari=True) == backing_off
    forced = Schedule(**{**state.__dict__, "force": True})
    assert decide(forced, T0, ca_has_ari=True) == Issue("aki.serial", "renewal forced")


def test_skip_replaces_orders_without_it() -> None:
    state = Schedule(**{**CERT.__dict__, "skip_replaces": True})
    assert decide(state, NA, ca_has_ari=True) == Issue(None, "the certificate has expired")


def test_naive_times_are_refused() -> None:
    with pytest.raises(errors.Error, match="naive"):
        decide(CERT, datetime.datetime(2026, 1, 1), ca_has_ari=True)


def test_custom_policy_fraction() -> None:
    policy = Policy(fallback_fraction=0.5)
    assert decide(CERT, NB + 45 * DAY, ca_has_ari=False, policy=policy) == Issue(
        None, "2/3 of its lifetime"
    )


def test_which_refusals_mean_order_again_without_replaces() -> None:
    already = messages.Error.with_code("alreadyReplaced", detail="replaced by order X")
    assert replaces_rejected(errors.ConflictError(None, already))
    unknown = messages.Error.with_code("malformed", detail='"replaces": no certificate found')
    assert replaces_rejected(unknown)
    assert not replaces_rejected(messages.Error.with_code("malformed", detail="bad CSR"))
    assert not replaces_rejected(messages.Error.with_code("rateLimited", detail="slow down"))
    assert not replaces_rejected(errors.NetworkError("https://ca/", "refused"))
