"""The acme.testing knobs renewal tests need: drill, rate limit, refusing ``replaces``."""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from acme import client, crypto_util, errors, messages
from acme.testing import ACMETestServer, RateLimit
from support.manager import new_client

UTC = datetime.timezone.utc


def _issue(acme: client.ClientV2, name: str, replaces: bytes | None = None) -> bytes:
    """Issue a certificate for ``name``; its chain as PEM bytes."""
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    order = acme.new_order(crypto_util.make_csr(key, [name]), replaces=replaces)
    for authz in order.authorizations:
        for challb in authz.body.challenges:
            if challb.chall.typ == "http-01":
                acme.answer_challenge(challb, challb.response(acme.net.key))
    pem = acme.poll_and_finalize(order).fullchain_pem
    assert pem is not None
    return pem.encode("ascii")


def test_move_windows_into_past_is_a_revocation_drill(
    ca: ACMETestServer, acme_client: client.ClientV2
) -> None:
    first = _issue(acme_client, "d1.test")
    second = _issue(acme_client, "d2.test")
    now = datetime.datetime.now(UTC)
    info, _ = acme_client.renewal_info(first)
    assert info.suggested_window.start > now + datetime.timedelta(days=50)
    assert ca.core.move_windows_into_past(first) == 1
    moved, _ = acme_client.renewal_info(first)
    assert moved.suggested_window.end < now
    untouched, _ = acme_client.renewal_info(second)
    assert untouched.suggested_window.start > now
    assert ca.core.move_windows_into_past() == 2  # every unexpired certificate
    everyone, _ = acme_client.renewal_info(second)
    assert everyone.suggested_window.end < now


def test_rate_limit_refuses_past_the_count_with_retry_after() -> None:
    clock = [datetime.datetime.now(UTC)]
    with ACMETestServer(always_valid=True, clock=lambda: clock[0]) as server:
        acme = new_client(server)
        with acme.net:
            server.core.rate_limit = RateLimit("newOrder", limit=2, retry_after=90)
            _issue(acme, "r1.test")
            _issue(acme, "r2.test")
            with pytest.raises(messages.Error) as refused:
                _issue(acme, "r3.test")
            assert refused.value.code == "rateLimited"
            assert refused.value.http_status == 429
            assert refused.value.retry_after is not None
            wait = refused.value.retry_after - datetime.datetime.now(UTC)
            assert datetime.timedelta(seconds=80) < wait <= datetime.timedelta(seconds=91)
            clock[0] += datetime.timedelta(seconds=30)
            with pytest.raises(messages.Error, match="rateLimited"):
                _issue(acme, "r3.test")
            clock[0] += datetime.timedelta(seconds=61)  # the period is over: two more pass
            _issue(acme, "r3.test")
            _issue(acme, "r4.test")
            with pytest.raises(messages.Error, match="rateLimited"):
                _issue(acme, "r5.test")
            assert server.core.internal_errors == []


@pytest.mark.parametrize(("mode", "expected"), [("alreadyReplaced", 409), ("malformed", 400)])
def test_reject_replaces(
    ca: ACMETestServer, acme_client: client.ClientV2, mode: str, expected: int
) -> None:
    old = _issue(acme_client, "x.test")
    ca.core.reject_replaces = mode
    with pytest.raises(errors.Error) as refused:
        _issue(acme_client, "x.test", replaces=old)
    problem = getattr(refused.value, "error", refused.value)
    assert isinstance(problem, messages.Error)
    assert problem.code == mode
    assert problem.http_status == expected
    assert _issue(acme_client, "x.test")  # without replaces: fine
    ca.core.reject_replaces = None
    assert _issue(acme_client, "x.test", replaces=old)
