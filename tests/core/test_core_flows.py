"""Core flows driven against a scripted fake server function and a fake clock
(tests/support/core_fakes.py): no mock.patch and no real sleeping."""

from __future__ import annotations

import datetime
import email.utils
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from josepy import jwa

from acme import errors, jws, messages
from acme._core import account as account_flows
from acme._core import certificate as cert_flows
from acme._core import order as order_flows
from acme._core.http import HTTPRequest, HTTPResponse
from acme._core.operations import ClientFlows
from acme._core.retry import PollPolicy
from acme._core.session import Session, post
from acme._wire import renewal_id as _ari
from support.core_fakes import (
    BASE,
    DIRECTORY,
    FakeClock,
    FakeServer,
    account_key,
    drive,
    issue_leaf,
    key_and_csr,
    make_ctx,
    make_session,
    problem,
    reply,
)

# Nonces and signing (RFC 8555 sections 6.2-6.5).


def test_new_nonce_only_when_the_pool_is_empty() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /thing", lambda req, hdr: reply(200, {}))
    session = make_session(clock)
    for _ in range(3):
        drive(post(session, f"{BASE}/thing", None), server, clock)
    assert server.count("HEAD", "/nonce") == 1
    used = [hdr["nonce"] for r, hdr in server.requests if r.method == "POST"]
    assert len(set(used)) == 3  # every nonce used once


def test_invalid_nonce_headers_are_ignored() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /thing", lambda req, hdr: reply(200, {}, Replay_Nonce="not+valid="))
    session = make_session(clock)
    drive(post(session, f"{BASE}/thing", None), server, clock)
    drive(post(session, f"{BASE}/thing", None), server, clock)
    assert server.count("HEAD", "/nonce") == 2


def test_bad_nonce_is_retried_with_the_error_responses_nonce() -> None:
    clock, server = FakeClock(), FakeServer()
    answers = iter([problem(400, "badNonce"), problem(400, "badNonce"), reply(200, {"ok": 1})])
    server.route("POST /thing", lambda req, hdr: next(answers))
    response = drive(post(make_session(clock), f"{BASE}/thing", None), server, clock)
    assert response.json() == {"ok": 1}
    assert server.count("POST", "/thing") == 3
    assert server.count("HEAD", "/nonce") == 1


def test_a_bad_nonce_storm_is_ridden_out_with_default_settings() -> None:
    """Each badNonce error carries a fresh nonce (RFC 8555 section 6.5): 40 rejections in a
    row cost 40 round trips, not the request."""
    clock, server = FakeClock(), FakeServer()
    answers = iter([*(problem(400, "badNonce") for _ in range(40)), reply(200, {"ok": 1})])
    server.route("POST /thing", lambda req, hdr: next(answers))
    response = drive(post(make_session(clock), f"{BASE}/thing", None), server, clock)
    assert response.json() == {"ok": 1}
    assert server.count("POST", "/thing") == 41
    assert server.count("HEAD", "/nonce") == 1  # every retry used the error's nonce
    used = [hdr["nonce"] for r, hdr in server.requests if r.method == "POST"]
    assert len(set(used)) == 41


def test_bad_nonce_forever_gives_up_after_the_attempt_cap() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /thing", lambda req, hdr: problem(400, "badNonce"))
    with pytest.raises(errors.BadNonce) as failed:
        drive(post(make_session(clock), f"{BASE}/thing", None), server, clock)
    assert server.count("POST", "/thing") == 100
    assert isinstance(failed.value.error, messages.Error)
    assert failed.value.error.code == "badNonce"
    session = make_session(clock)
    session.max_nonce_attempts = 3
    with pytest.raises(errors.BadNonce):
        drive(post(session, f"{BASE}/thing", None), server, clock)
    assert server.count("POST", "/thing") == 103


def test_bad_nonce_forever_fails_with_bad_nonce_by_the_calls_deadline() -> None:
    """A server answering badNonce forever, 0.25 s per answer: a call with a 10 s deadline
    retries until the deadline and fails with `BadNonce` (not a timeout), by the deadline."""
    clock = FakeClock()
    server = FakeServer(clock, latency=0.25)
    server.route("POST /f", lambda req, hdr: problem(400, "badNonce"))
    _, csr = key_and_csr(["a.test"])
    body = messages.Order.from_json(
        {"status": "ready", "identifiers": [], "authorizations": [], "finalize": f"{BASE}/f"}
    )
    orderr = messages.OrderResource(body=body, uri=f"{BASE}/order/1", csr_pem=csr)
    started = clock.mono
    ctx = make_ctx(clock)
    with pytest.raises(errors.BadNonce) as failed:
        drive(ClientFlows(ctx).finalize_order(orderr, 10.0, False), server, clock, ctx)
    assert clock.mono - started <= 10.0
    assert clock.mono - started >= 9.75  # it did not give up early
    assert 35 <= server.count("POST", "/f") <= 40
    assert isinstance(failed.value.__cause__, errors.TimeoutError)
    # Each request was given the time left to the deadline, never more.
    assert all(t is not None and t <= 10.0 for t in server.timeouts)


def test_bad_nonce_storm_without_a_deadline_stops_after_the_default_timeout() -> None:
    clock = FakeClock()
    server = FakeServer(clock, latency=2.0)
    server.route("POST /thing", lambda req, hdr: problem(400, "badNonce"))
    session = make_session(clock)
    with pytest.raises(errors.BadNonce):
        drive(post(session, f"{BASE}/thing", None), server, clock)
    # The newNonce HEAD and 44 POSTs of 2 s each: no attempt starts after 90 s.
    assert clock.mono - 1000.0 == pytest.approx(session.policy.default_timeout)
    assert server.count("POST", "/thing") == 44


def test_kid_after_account_jwk_before_and_post_as_get_is_empty() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /thing", lambda req, hdr: reply(200, {}))
    session = make_session(clock, account=False)
    drive(post(session, f"{BASE}/thing", {"a": 1}, embed_jwk=True), server, clock)
    session.account = {"uri": f"{BASE}/acct/1"}  # acme 5.x's tests assign a mapping
    drive(post(session, f"{BASE}/thing", None), server, clock)
    first, second = (hdr for r, hdr in server.requests if r.method == "POST")
    assert "jwk" in first
    assert "kid" not in first
    assert first["payload"] == b'{"a": 1}'
    assert second["kid"] == f"{BASE}/acct/1"
    assert "jwk" not in second
    assert second["payload"] == b""  # POST-as-GET, RFC 8555 section 6.3


def test_post_without_account_or_key_is_refused_before_sending() -> None:
    clock, server = FakeClock(), FakeServer()
    with pytest.raises(errors.ClientError, match="No account"):
        drive(post(make_session(clock, account=False), f"{BASE}/x", None), server, clock)
    session = make_session(clock)
    session.key = None
    with pytest.raises(errors.ClientError, match="no key"):
        drive(post(session, f"{BASE}/x", None), server, clock)
    assert server.requests == []


# Responses.


def test_problem_documents_keep_status_and_retry_after() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /thing", lambda req, hdr: problem(429, "rateLimited", Retry_After="120"))
    with pytest.raises(messages.Error) as raised:
        drive(post(make_session(clock), f"{BASE}/thing", None), server, clock)
    assert raised.value.code == "rateLimited"
    assert raised.value.http_status == 429
    assert raised.value.retry_after == clock.now() + datetime.timedelta(seconds=120)


def test_conflict_and_redirects() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /c", lambda req, hdr: reply(409, None, Location=f"{BASE}/acct/9"))
    server.route("POST /r", lambda req, hdr: reply(302, None, Location=f"{BASE}/elsewhere"))
    with pytest.raises(errors.ConflictError) as conflict:
        drive(post(make_session(clock), f"{BASE}/c", None), server, clock)
    assert conflict.value.location == f"{BASE}/acct/9"
    with pytest.raises(errors.ClientError, match="never redirected"):
        drive(post(make_session(clock), f"{BASE}/r", None), server, clock)
    assert server.count("POST", "/elsewhere") == 0


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://ca.test/x", True),
        ("http://ca.test/x", False),
        ("http://127.0.0.1:14000/x", "loopback"),
        ("http://[::1]:14000/x", "loopback"),
        ("ftp://ca.test/x", False),
        ("/relative", False),
    ],
)
def test_only_https_urls_are_requested(url: str, allowed: bool | str) -> None:
    from acme._core.session import check_url

    strict = Session()
    lenient = Session(allow_insecure_loopback=True)
    assert (check_url_ok(check_url, strict, url)) is (allowed is True)
    assert (check_url_ok(check_url, lenient, url)) is bool(allowed)


def check_url_ok(check: Callable[[Session, str], str], session: Session, url: str) -> bool:
    try:
        check(session, url)
    except errors.ClientError:
        return False
    return True


# Polling with Retry-After, backoff and deadlines.


def _authz(status: str) -> dict[str, Any]:
    return {
        "status": status,
        "identifier": {"type": "dns", "value": "a.test"},
        "challenges": [],
    }


def _order_with_authz(status_script: list[str], **headers: str) -> tuple[FakeServer, Any]:
    server = FakeServer()
    statuses = iter(status_script)
    server.route("POST /authz/1", lambda req, hdr: reply(200, _authz(next(statuses)), **headers))
    body = messages.Order.from_json(
        {
            "status": "pending",
            "identifiers": [],
            "authorizations": [f"{BASE}/authz/1"],
            "finalize": f"{BASE}/finalize",
        }
    )
    return server, messages.OrderResource(body=body, uri=f"{BASE}/order/1", authorizations=[])


def test_polling_starts_fast_and_backs_off_without_real_sleep() -> None:
    clock = FakeClock()
    server, orderr = _order_with_authz(["pending", "pending", "pending", "valid"])
    ctx = make_ctx(clock)
    done = drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 60), server, clock, ctx)
    assert done.authorizations[0].body.status == messages.STATUS_VALID
    assert clock.sleeps == pytest.approx([0.005, 0.0125, 0.03125, 0.078125])
    assert server.count("POST", "/authz/1") == 4


def test_polling_honours_retry_after() -> None:
    clock = FakeClock()
    server, orderr = _order_with_authz(["pending", "valid"], Retry_After="7")
    ctx = make_ctx(clock)
    drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 60), server, clock, ctx)
    assert clock.sleeps == pytest.approx([0.005, 7.0])


def _http_date(clock: FakeClock, seconds: float) -> str:
    return email.utils.format_datetime(clock.now() + datetime.timedelta(seconds=seconds), True)


@pytest.mark.parametrize("finally_valid", [True, False])
def test_a_retry_after_date_past_the_deadline_gets_one_last_poll_at_the_deadline(
    finally_valid: bool,
) -> None:
    """An HTTP-date Retry-After is only as exact as the two clocks agree: one past the
    deadline does not end the polling at once; the client polls once more just before the
    deadline (1 s before it, the time the poll may take), then gives up."""
    clock, server = FakeClock(), FakeServer()
    statuses = iter(["pending", "valid" if finally_valid else "pending", "pending"])
    server.route(
        "POST /authz/1",
        lambda req, hdr: reply(200, _authz(next(statuses)), Retry_After=_http_date(clock, 100)),
    )
    _, orderr = _order_with_authz([])
    deadline = clock.mono + 50
    ctx = make_ctx(clock)
    flow = order_flows.poll_authorizations(ctx, orderr, deadline)
    if finally_valid:
        done = drive(flow, server, clock, ctx)
        assert done.authorizations[0].body.status == messages.STATUS_VALID
    else:
        with pytest.raises(errors.TimeoutError):
            drive(flow, server, clock, ctx)
    assert server.count("POST", "/authz/1") == 2
    assert clock.sleeps == pytest.approx([0.005, 50 - 0.005 - 1.0])
    assert clock.mono == pytest.approx(deadline - 1.0)


def test_an_order_whose_retry_after_date_passes_the_deadline_is_polled_once_more() -> None:
    clock, server = FakeClock(), FakeServer()
    key, csr = key_and_csr(["a.test"])
    processing = {
        "status": "processing",
        "identifiers": [],
        "authorizations": [],
        "finalize": f"{BASE}/f",
    }
    server.route(
        "POST /f", lambda req, hdr: reply(200, processing, Retry_After=_http_date(clock, 30))
    )
    valid = {**processing, "status": "valid", "certificate": f"{BASE}/cert/1"}
    server.route("POST /order/1", lambda req, hdr: reply(200, valid))
    leaf = issue_leaf(key, ["a.test"])
    server.route("POST /cert/1", lambda req, hdr: reply(200, leaf.encode(), PEM_CHAIN))
    body = messages.Order.from_json({**processing, "status": "ready"})
    orderr = messages.OrderResource(body=body, uri=f"{BASE}/order/1", csr_pem=csr)
    ctx = make_ctx(clock)
    started = clock.mono
    done = drive(ClientFlows(ctx).finalize_order(orderr, 10.0, False), server, clock, ctx)
    assert done.fullchain_pem == leaf
    assert server.count("POST", "/order/1") == 1
    assert clock.mono - started == pytest.approx(9.0)


def test_a_retry_after_in_seconds_past_the_deadline_still_ends_at_once() -> None:
    """Delta-seconds is the server's exact word: no early poll against it."""
    clock = FakeClock()
    server, orderr = _order_with_authz(["pending"] * 3, Retry_After="100")
    ctx = make_ctx(clock)
    with pytest.raises(errors.TimeoutError):
        drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 50), server, clock, ctx)
    assert server.count("POST", "/authz/1") == 1
    assert clock.sleeps == pytest.approx([0.005])  # never slept the 100 s it could not afford


def test_a_backoff_step_past_the_deadline_is_cut_for_one_last_poll() -> None:
    """Without Retry-After the waits are ours: 10 s steps and 25 s to go mean polls at 10 s
    and 20 s, then one at 24 s instead of giving up at 20 s, then TimeoutError."""
    clock = FakeClock()
    server, orderr = _order_with_authz(["pending"] * 10)
    ctx = make_ctx(clock)
    ctx.policy = PollPolicy(initial=10.0, factor=1.0, max_delay=10.0, jitter=0.0)
    with pytest.raises(errors.TimeoutError):
        drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 25), server, clock, ctx)
    assert clock.sleeps == pytest.approx([10.0, 10.0, 4.0])
    assert server.count("POST", "/authz/1") == 3


@pytest.mark.parametrize("processing_polls", [0, 2])
def test_an_order_is_polled_after_1_ms_after_finalize_then_with_backoff(
    processing_polls: int,
) -> None:
    """Issuing takes a CA milliseconds: without a Retry-After the first order poll comes after
    1 ms, not after the backoff's first 5 ms step; later ones follow the backoff."""
    clock, server = FakeClock(), FakeServer()
    statuses = iter(["processing"] * processing_polls + ["valid"])
    order = {"identifiers": [], "authorizations": [], "finalize": f"{BASE}/f"}
    server.route(
        "POST /order/1",
        lambda req, hdr: reply(200, {**order, "status": next(statuses), "certificate": "x"}),
    )
    body = messages.Order.from_json({**order, "status": "processing"})
    orderr = messages.OrderResource(body=body, uri=f"{BASE}/order/1")
    ctx = make_ctx(clock)
    done = drive(order_flows.poll_order(ctx, orderr, clock.mono + 60), server, clock, ctx)
    assert done.body.status == messages.STATUS_VALID
    assert server.count("POST", "/order/1") == processing_polls + 1
    assert clock.sleeps == pytest.approx([0.001, 0.005, 0.0125][: processing_polls + 1])


def test_invalid_authorization_raises_validation_error() -> None:
    clock = FakeClock()
    server, orderr = _order_with_authz(["pending", "invalid"])
    ctx = make_ctx(clock)
    with pytest.raises(errors.ValidationError) as failed:
        drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 60), server, clock, ctx)
    assert failed.value.failed_authzrs[0].body.status == messages.STATUS_INVALID


def test_invalid_order_raises_issuance_error() -> None:
    clock, server = FakeClock(), FakeServer()
    invalid = {
        "status": "invalid",
        "identifiers": [],
        "authorizations": [],
        "finalize": f"{BASE}/f",
        "error": {"type": messages.ERROR_PREFIX + "badCSR"},
    }
    server.route("POST /order/1", lambda req, hdr: reply(200, invalid))
    processing = {key: value for key, value in invalid.items() if key != "error"}
    body = messages.Order.from_json({**processing, "status": "processing"})
    orderr = messages.OrderResource(body=body, uri=f"{BASE}/order/1")
    ctx = make_ctx(clock)
    with pytest.raises(errors.IssuanceError) as failed:
        drive(order_flows.poll_order(ctx, orderr, clock.mono + 60), server, clock, ctx)
    assert failed.value.error.code == "badCSR"


# New orders: identifiers, profile, replaces.


def test_new_order_sends_identifiers_profile_and_replaces_and_fetches_authzs() -> None:
    clock, server = FakeClock(), FakeServer()
    seen: dict[str, Any] = {}

    def new_order(req: HTTPRequest, hdr: dict[str, Any]) -> HTTPResponse:
        seen.update(json.loads(hdr["payload"]))
        body = {
            "status": "pending",
            "identifiers": seen["identifiers"],
            "authorizations": [f"{BASE}/authz/1"],
            "finalize": f"{BASE}/finalize",
        }
        return reply(201, body, Location=f"{BASE}/order/1")

    server.route("POST /new-order", new_order)
    server.route("POST /authz/1", lambda req, hdr: reply(200, _authz("pending")))
    _, csr = key_and_csr(["a.test", "b.test"])
    ctx = make_ctx(clock)
    orderr = drive(
        ClientFlows(ctx).new_order(csr, "shortlived", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"),
        server,
        clock,
        ctx,
    )
    assert seen == {
        "identifiers": [{"type": "dns", "value": "a.test"}, {"type": "dns", "value": "b.test"}],
        "profile": "shortlived",
        "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
    }
    assert orderr.uri == f"{BASE}/order/1"
    assert [a.uri for a in orderr.authorizations] == [f"{BASE}/authz/1"]


# Certificate download checks (RFC 8555 section 11.4).


def _valid_order(csr: bytes) -> messages.OrderResource:
    body = messages.Order.from_json(
        {
            "status": "valid",
            "identifiers": [],
            "authorizations": [],
            "finalize": f"{BASE}/f",
            "certificate": f"{BASE}/cert/1",
        }
    )
    return messages.OrderResource(body=body, uri=f"{BASE}/order/1", csr_pem=csr)


PEM_CHAIN = "application/pem-certificate-chain"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("good", None),
        ("other-content-type", None),  # a bare PEM chain is accepted as acme 5.x does
        ("wrapped-in-html", "Content-Type"),
        ("private-key-block", "only CERTIFICATE blocks"),
        ("other-key", "public key"),
        ("missing-name", "lacks requested names"),
    ],
)
def test_downloaded_chain_checks(case: str, message: str | None) -> None:
    key, csr = key_and_csr(["a.test", "b.test"])
    leaf = issue_leaf(key, ["a.test", "b.test"])
    content_type = PEM_CHAIN
    if case == "other-content-type":
        content_type = "application/x-pem-file"
    elif case == "wrapped-in-html":
        content_type = "text/html"
        leaf = f"<html><body><pre>{leaf}</pre></body></html>"
    elif case == "private-key-block":
        leaf += "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    elif case == "other-key":
        leaf = issue_leaf(ec.generate_private_key(ec.SECP256R1()), ["a.test", "b.test"])
    elif case == "missing-name":
        leaf = issue_leaf(key, ["a.test"])
    clock, server = FakeClock(), FakeServer()
    server.route("POST /cert/1", lambda req, hdr: reply(200, leaf.encode(), content_type))
    ctx = make_ctx(clock)
    flow = cert_flows.download_certificate(ctx, _valid_order(csr))
    if message is None:
        assert drive(flow, server, clock, ctx).fullchain_pem == leaf
    else:
        with pytest.raises(errors.ClientError, match=message):
            drive(flow, server, clock, ctx)


def test_failed_alternate_chain_keeps_the_primary() -> None:
    key, csr = key_and_csr(["a.test"])
    leaf = issue_leaf(key, ["a.test"])
    clock, server = FakeClock(), FakeServer()
    links = f'<{BASE}/cert/1/alt/1>;rel="alternate", <{BASE}/cert/1/alt/2>;rel="alternate"'
    server.route("POST /cert/1", lambda req, hdr: reply(200, leaf.encode(), PEM_CHAIN, Link=links))
    server.route("POST /cert/1/alt/1", lambda req, hdr: problem(500, "serverInternal"))
    server.route("POST /cert/1/alt/2", lambda req, hdr: reply(200, leaf.encode(), PEM_CHAIN))
    ctx = make_ctx(clock)
    flow = cert_flows.download_certificate(ctx, _valid_order(csr), True)
    orderr = drive(flow, server, clock, ctx)
    assert orderr.fullchain_pem == leaf
    assert list(orderr.alternative_fullchains_pem) == [leaf]


# Orders list pagination, renewal information.


def _offering_alternates(count: int, clock: FakeClock, latency: float = 0.0) -> FakeServer:
    key, csr = key_and_csr(["a.test"])
    leaf = issue_leaf(key, ["a.test"]).encode()
    server = FakeServer(clock, latency)
    links = ", ".join(f'<{BASE}/cert/1/alt/{n}>;rel="alternate"' for n in range(count))
    server.route("POST /cert/1", lambda req, hdr: reply(200, leaf, PEM_CHAIN, Link=links))
    for n in range(count):
        server.route(f"POST /cert/1/alt/{n}", lambda req, hdr: reply(200, leaf, PEM_CHAIN))
    server.csr = csr  # type: ignore[attr-defined]
    return server


def _alternates_fetched(server: FakeServer) -> int:
    return sum(1 for r, _ in server.requests if "/alt/" in r.url)


def test_at_most_ten_alternate_chains_are_fetched() -> None:
    """A CA offering 300 alternate chains (RFC 8555 section 7.4.2) gets 10 requests, not 300."""
    clock = FakeClock()
    server = _offering_alternates(300, clock)
    ctx = make_ctx(clock)
    orderr = _valid_order(server.csr)  # type: ignore[attr-defined]
    done = drive(ClientFlows(ctx).poll_finalization(orderr, 60.0, True), server, clock, ctx)
    assert _alternates_fetched(server) == 10
    assert len(done.alternative_fullchains_pem) == 10
    assert done.fullchain_pem is not None


def test_alternate_chains_stop_at_the_deadline_and_keep_the_issued_chain() -> None:
    """Each answer takes 1 s and the call has 4.5 s: the newNonce HEAD, the chain and two
    alternates fit, the third alternate is cut at the deadline, and the call returns the
    issued chain with what it got, by its deadline, without asking for more."""
    clock = FakeClock()
    server = _offering_alternates(8, clock, latency=1.0)
    ctx = make_ctx(clock)
    orderr = _valid_order(server.csr)  # type: ignore[attr-defined]
    started = clock.mono
    done = drive(ClientFlows(ctx).poll_finalization(orderr, 4.5, True), server, clock, ctx)
    assert clock.mono - started == pytest.approx(4.5)
    assert done.fullchain_pem is not None
    assert len(done.alternative_fullchains_pem) == 2
    assert _alternates_fetched(server) == 3  # the third was cut by the deadline


def test_orders_list_follows_next_links_and_stops_on_a_cycle() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route(
        "POST /orders",
        lambda req, hdr: reply(
            200, {"orders": [f"{BASE}/order/1"]}, Link=f'<{BASE}/orders?page=2>;rel="next"'
        ),
    )
    server.route(
        "POST /orders?page=2",
        lambda req, hdr: reply(
            200, {"orders": [f"{BASE}/order/2"]}, Link=f'<{BASE}/orders>;rel="next"'
        ),
    )
    ctx = make_ctx(clock)
    urls = drive(cert_flows.list_orders(ctx, f"{BASE}/orders"), server, clock, ctx)
    assert urls == [f"{BASE}/order/1", f"{BASE}/order/2"]
    assert len(server.requests) == 3  # newNonce + two pages, the cycle is not followed


def _ari_cert() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ari.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x87654321)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.AuthorityKeyIdentifier(b"\x01" * 20, None, None), critical=False)
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("10", 60.0), ("3600", 3600.0), ("9999999", 86400.0), (None, 21600.0)],
)
def test_renewal_info_clamps_retry_after(retry_after: str | None, expected: float) -> None:
    clock, server = FakeClock(), FakeServer()
    window = {"suggestedWindow": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}}
    headers = {"Retry_After": retry_after} if retry_after else {}
    cert = _ari_cert()
    path = "/ari/" + _ari.certificate_identifier(cert)
    server.route("GET " + path, lambda req, hdr: reply(200, window, **headers))
    ctx = make_ctx(clock)
    info, retry = drive(cert_flows.renewal_info(ctx, cert), server, clock, ctx)
    assert retry == expected
    assert info.suggested_window.start == datetime.datetime(
        2026, 12, 1, tzinfo=datetime.timezone.utc
    )


def test_renewal_time_keeps_the_5x_contract() -> None:
    clock, server = FakeClock(), FakeServer()
    window = {"suggestedWindow": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}}
    cert = _ari_cert()
    server.route(
        "GET /ari/" + _ari.certificate_identifier(cert),
        lambda req, hdr: reply(200, window, Retry_After="3600"),
    )
    ctx = make_ctx(clock)
    flows = ClientFlows(ctx)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    when, retry = drive(flows.renewal_time(pem), server, clock, ctx)
    assert when == datetime.datetime(2026, 12, 2, tzinfo=datetime.timezone.utc)  # rand = 0.5
    assert when.tzinfo is not None
    assert retry.tzinfo is None

    no_ari = messages.Directory.from_json({"newNonce": f"{BASE}/nonce"})
    bare_ctx = make_ctx(clock, directory=no_ari)
    when, retry = drive(ClientFlows(bare_ctx).renewal_time(pem), server, clock, bare_ctx)
    assert when is None
    assert retry.tzinfo is None

    server.route(
        "GET /ari/" + _ari.certificate_identifier(cert),
        lambda req, hdr: problem(500, "serverInternal"),
    )
    with pytest.raises(errors.ARIError) as failed:
        drive(flows.renewal_time(pem), server, clock, ctx)
    assert failed.value.retry_after.tzinfo is None


def test_key_change_signs_inner_jws_with_the_new_key() -> None:
    clock, server = FakeClock(), FakeServer()
    captured: dict[str, Any] = {}

    def key_change(req: HTTPRequest, hdr: dict[str, Any]) -> HTTPResponse:
        captured.update(hdr)
        return reply(200, {})

    server.route("POST /key-change", key_change)
    ctx = make_ctx(clock)
    session = ctx.net
    old_key, new_key = session.key, account_key()
    assert old_key is not None
    drive(account_flows.change_key(ctx, new_key, jwa.ES256), server, clock, ctx)
    inner = jws.JWS.json_loads(captured["payload"])
    inner_header = json.loads(inner.signature.protected)
    assert captured["kid"] == f"{BASE}/acct/1"  # outer: signed by the account (old key)
    assert inner_header["url"] == f"{BASE}/key-change"
    assert "nonce" not in inner_header
    assert inner.verify(new_key.public_key())
    assert json.loads(inner.payload) == {
        "account": f"{BASE}/acct/1",
        "oldKey": old_key.public_key().to_json(),
    }
    assert session.key is new_key


def test_client_v2_runs_on_an_injected_transport_and_clock() -> None:
    """The sync shell takes the fake server as transport and the fake clock: no real I/O."""
    from acme import client

    clock = FakeClock()
    server, orderr = _order_with_authz(["pending", "pending", "valid"])
    net = client.ClientNetwork(account_key())
    net.transport.send = server  # type: ignore[method-assign]
    net.acme_session.clock, net.acme_session.now = clock.monotonic, clock.now
    net.account = messages.RegistrationResource(body=messages.Registration(), uri=f"{BASE}/acct/1")
    acme = client.ClientV2(DIRECTORY, net)
    acme.sleep, acme.clock, acme.now = clock.sleep, clock.monotonic, clock.now
    deadline = clock.now() + datetime.timedelta(seconds=30)
    done = acme.poll_authorizations(orderr, deadline)
    assert done.authorizations[0].body.status == messages.STATUS_VALID
    assert len(clock.sleeps) == 3
    assert sum(clock.sleeps) < 0.2
    net.close()


@pytest.mark.parametrize("validation_seconds", [0.004, 0.5, 2.0, 2.5])
def test_polite_against_a_slow_validator(validation_seconds: float) -> None:
    """Fast and polite at once: at most 8 polls for a validation of up to 2.5 s, and a server
    that validates within 5 ms is polled exactly once."""
    clock, server = FakeClock(), FakeServer()
    ready_at = clock.mono + validation_seconds
    server.route(
        "POST /authz/1",
        lambda req, hdr: reply(200, _authz("valid" if clock.mono >= ready_at else "pending")),
    )
    _, orderr = _order_with_authz([])
    ctx = make_ctx(clock)
    ctx.rand = random.Random(7).random  # real jitter, reproducible
    ctx.policy = PollPolicy()
    drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 60), server, clock, ctx)
    polls = server.count("POST", "/authz/1")
    assert polls <= 8
    if validation_seconds < 0.0045:
        assert polls == 1
    # Never much later than needed: the last wait is under 2.5x the time already spent.
    assert clock.mono - ready_at <= 1.6 * validation_seconds + 0.01


def test_an_impossible_status_change_is_an_unexpected_update() -> None:
    """RFC 8555 section 7.1.6 as data (acme._core.states) guards what polls may observe."""
    clock = FakeClock()
    server, orderr = _order_with_authz([])
    pending = messages.AuthorizationResource(
        body=messages.Authorization.from_json(_authz("pending")), uri=f"{BASE}/authz/1"
    )
    server.route("POST /authz/1", lambda req, hdr: reply(200, _authz("bogus-status")))
    ctx = make_ctx(clock)
    with pytest.raises(errors.UnexpectedUpdate, match="bogus-status"):
        drive(
            order_flows.poll_authorizations(
                ctx, orderr.update(authorizations=[pending]), clock.mono + 60
            ),
            server,
            clock,
            ctx,
        )
    # An order cannot go back from processing to pending.
    regressed = {"status": "pending", "identifiers": [], "authorizations": [], "finalize": "x"}
    server.route("POST /order/1", lambda req, hdr: reply(200, regressed))
    processing = orderr.update(body=orderr.body.update(status=messages.STATUS_PROCESSING))
    with pytest.raises(errors.UnexpectedUpdate, match="processing"):
        drive(order_flows.poll_order(ctx, processing, clock.mono + 60), server, clock, ctx)
    # Negative control: processing -> valid is fine.
    finished = {**regressed, "status": "valid", "certificate": f"{BASE}/cert/1"}
    server.route("POST /order/1", lambda req, hdr: reply(200, finished))
    done = drive(order_flows.poll_order(ctx, processing, clock.mono + 60), server, clock, ctx)
    assert done.body.status == messages.STATUS_VALID


@pytest.mark.parametrize("method", ["finalize_order", "poll_and_finalize"])
def test_composed_operations_keep_the_callers_deadline(method: str) -> None:
    """A deadline converted once must not be read again as 'seconds from now' (a clock at
    10 000 s would otherwise stretch a 5 s deadline to hours)."""
    clock = FakeClock()
    clock.mono = 10_000.0
    server = FakeServer()
    stuck = {
        "status": "processing",
        "identifiers": [],
        "authorizations": [],
        "finalize": f"{BASE}/f",
    }
    server.route("POST /f", lambda req, hdr: reply(200, stuck))
    server.route("POST /order/1", lambda req, hdr: reply(200, stuck))
    _, csr = key_and_csr(["a.test"])
    body = messages.Order.from_json({**stuck, "status": "ready"})
    orderr = messages.OrderResource(body=body, uri=f"{BASE}/order/1", csr_pem=csr)
    ctx = make_ctx(clock)
    flows = ClientFlows(ctx)
    flow = (
        flows.finalize_order(orderr, 5.0, False)
        if method == "finalize_order"
        else flows.poll_and_finalize(orderr, 5.0)
    )
    with pytest.raises(errors.TimeoutError):
        drive(flow, server, clock, ctx)
    assert clock.mono - 10_000.0 <= 5.0


@pytest.mark.parametrize(
    ("update", "sent"),
    [
        (None, {"contact": ["mailto:old@example.com"]}),
        (
            messages.UpdateRegistration(status=messages.STATUS_DEACTIVATED),
            {"status": "deactivated"},
        ),
        (messages.Registration(terms_of_service_agreed=True), {"termsOfServiceAgreed": True}),
        (
            messages.Registration.from_data(email="new@example.com"),
            {"contact": ["mailto:new@example.com"]},
        ),
        (messages.Registration(contact=()), {"contact": []}),  # explicitly clearing contacts
    ],
)
def test_update_registration_sends_what_the_update_sets(update: Any, sent: dict[str, Any]) -> None:
    clock, server = FakeClock(), FakeServer()
    payloads: list[Any] = []

    def account(req: HTTPRequest, hdr: dict[str, Any]) -> HTTPResponse:
        payloads.append(json.loads(hdr["payload"]))
        return reply(200, {"status": "valid", "contact": ["mailto:old@example.com"]})

    server.route("POST /acct/1", account)
    body = messages.Registration.from_json(
        {
            "status": "valid",
            "contact": ["mailto:old@example.com"],
            "orders": f"{BASE}/o",
            "key": account_key().public_key().to_json(),
        }
    )
    regr = messages.RegistrationResource(body=body, uri=f"{BASE}/acct/1")
    ctx = make_ctx(clock)
    drive(account_flows.update_account(ctx, regr, update), server, clock, ctx)
    assert payloads == [sent]


# Hostile or sloppy server input (review findings): always an acme error, never a raw one.


@pytest.mark.parametrize("value", ["\u00b2", "999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_absurd_retry_after_on_a_problem_is_clamped(value: str) -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /thing", lambda req, hdr: problem(429, "rateLimited", Retry_After=value))
    with pytest.raises(messages.Error) as raised:
        drive(post(make_session(clock), f"{BASE}/thing", None), server, clock)
    when = raised.value.retry_after
    assert when is None or when <= clock.now() + datetime.timedelta(hours=1)


@pytest.mark.parametrize("value", ["\u00b2", "999999999999", "-5", "soon"])
def test_client_v2_retry_after_is_naive_and_bounded(value: str) -> None:
    from acme import client

    response = reply(200, {}, Retry_After=value)
    when = client.ClientV2.retry_after(response, 3)
    assert when.tzinfo is None
    assert when <= datetime.datetime.now() + datetime.timedelta(hours=1, seconds=5)


@pytest.mark.parametrize("patched", ["acme.client.datetime", "datetime.datetime"])
def test_client_v2_retry_after_reads_a_replaceable_clock(
    monkeypatch: pytest.MonkeyPatch, patched: str
) -> None:
    """acme 5.x reads ``datetime.datetime.now()`` with no argument in ``retry_after``, and
    programs' tests replace it: acme's by patching ``acme.client.datetime``, certbot's by
    putting a class whose ``now`` takes no argument on the datetime module. The clock is read
    in the shell, once; the rule is the core's `retry_time`."""
    import types

    from acme import client

    frozen = datetime.datetime(2015, 3, 27, 12, 0, 0)

    class FrozenNow(datetime.datetime):
        @classmethod
        def now(cls) -> datetime.datetime:  # type: ignore[override]
            return frozen

    later = email.utils.format_datetime(
        (frozen + datetime.timedelta(seconds=90)).astimezone(datetime.timezone.utc), usegmt=True
    )
    second = datetime.timedelta(seconds=1)
    if patched == "acme.client.datetime":
        fake = types.SimpleNamespace(datetime=FrozenNow, timedelta=datetime.timedelta)
        monkeypatch.setattr(client, "datetime", fake)
    else:
        monkeypatch.setattr(datetime, "datetime", FrozenNow)
    retry_after = client.ClientV2.retry_after
    assert retry_after(reply(200, {}, Retry_After="50"), 10) == frozen + 50 * second
    assert retry_after(reply(200, {}), 10) == frozen + 10 * second
    assert retry_after(reply(200, {}, Retry_After=later), 10) == frozen + 90 * second


def test_deeply_nested_json_is_a_client_error() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /authz/1", lambda req, hdr: reply(200, b"[" * 200_000))
    ctx = make_ctx(clock)
    with pytest.raises(errors.ClientError, match="not JSON"):
        drive(order_flows.fetch_authorization(ctx, f"{BASE}/authz/1"), server, clock, ctx)


def test_a_directory_without_the_resource_is_a_client_error() -> None:
    clock, server = FakeClock(), FakeServer()
    bare = messages.Directory.from_json({"newNonce": f"{BASE}/nonce"})
    _, csr = key_and_csr(["a.test"])
    ctx = make_ctx(clock, directory=bare)
    with pytest.raises(errors.ClientError, match="no newOrder"):
        drive(ClientFlows(ctx).new_order(csr, None, None), server, clock, ctx)
    assert server.requests == []


def test_a_key_that_cannot_sign_with_the_algorithm_is_a_client_error() -> None:
    clock, server = FakeClock(), FakeServer()
    session = make_session(clock)
    session.alg = jwa.RS256  # but the key is EC
    with pytest.raises(errors.ClientError, match="cannot sign with RS256"):
        drive(post(session, f"{BASE}/thing", None), server, clock)


def test_relative_location_and_up_links_are_resolved() -> None:
    clock, server = FakeClock(), FakeServer()
    order = {
        "status": "pending",
        "identifiers": [{"type": "dns", "value": "a.test"}],
        "authorizations": [],
        "finalize": f"{BASE}/finalize",
    }
    server.route("POST /new-order", lambda req, hdr: reply(201, order, Location="/order/7"))
    _, csr = key_and_csr(["a.test"])
    ctx = make_ctx(clock)
    orderr = drive(order_flows.new_order(ctx, csr), server, clock, ctx)
    assert orderr.uri == f"{BASE}/order/7"
    challenge = {
        "type": "http-01",
        "url": f"{BASE}/chall/1",
        "status": "processing",
        "token": "DGyRejmCefe7v4NfDGDKfA",
    }
    server.route(
        "POST /chall/1", lambda req, hdr: reply(200, challenge, Link='<../authz/1>;rel="up"')
    )
    challb = messages.ChallengeBody.from_json(challenge)
    chall = drive(order_flows.answer_challenge(ctx, challb, {}), server, clock, ctx)
    assert chall.authzr_uri == f"{BASE}/authz/1"


def test_network_objects_refuse_a_key_the_algorithm_cannot_sign_with() -> None:
    from acme import client
    from acme.asyncio_client import AsyncClientNetwork

    with pytest.raises(errors.ClientError, match="cannot sign with RS256"):
        client.ClientNetwork(account_key(), alg=jwa.RS256)
    with pytest.raises(errors.ClientError, match="cannot sign with RS256"):
        AsyncClientNetwork(account_key(), alg=jwa.RS256, http_library="httpx")
    net = client.ClientNetwork(account_key())  # the algorithm follows the key by default
    assert net.alg == jwa.ES256
    net.close()


def test_polls_ride_out_busy_answers_within_the_deadline() -> None:
    """429/503 to a poll means 'not yet' (RFC 8555 section 6.6): wait its Retry-After, ask
    again. A 403 is still an error, and a busy server past the deadline is a TimeoutError."""
    clock = FakeClock()
    server = FakeServer()
    answers = iter(
        [
            problem(503, "serverInternal", Retry_After="2"),
            problem(429, "rateLimited", Retry_After="3"),
            reply(200, _authz("valid")),
        ]
    )
    server.route("POST /authz/1", lambda req, hdr: next(answers))
    _, orderr = _order_with_authz([])
    ctx = make_ctx(clock)
    done = drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 60), server, clock, ctx)
    assert done.authorizations[0].body.status == messages.STATUS_VALID
    assert clock.sleeps == pytest.approx([0.005, 2.0, 3.0])

    server.route("POST /authz/1", lambda req, hdr: problem(403, "unauthorized"))
    with pytest.raises(messages.Error, match="unauthorized"):
        drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 60), server, clock, ctx)
    server.route("POST /authz/1", lambda req, hdr: problem(503, "serverInternal", Retry_After="30"))
    with pytest.raises(errors.TimeoutError):
        drive(order_flows.poll_authorizations(ctx, orderr, clock.mono + 40), server, clock, ctx)
