"""Protocol situations a client meets in the field, on the fake server (tests/support):
finalization that is not ready yet or whose answer was lost (RFC 8555 section 7.4), a valid
order snapshot without certificate URL, a stale saved account URL (section 7.3.1), an expired
certificate and renewal information (RFC 9773 section 4.3), a challenge or authorization that
comes back as another one."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acme import errors, messages
from acme._core.http import HTTPRequest, HTTPResponse
from acme._core.operations import ClientFlows
from support.core_fakes import (
    BASE,
    FakeClock,
    FakeServer,
    drive,
    issue_leaf,
    key_and_csr,
    make_ctx,
    problem,
    reply,
)

PEM_CHAIN = "application/pem-certificate-chain"


def _order(status: str, certificate: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": status,
        "identifiers": [{"type": "dns", "value": "a.test"}],
        "authorizations": [],
        "finalize": f"{BASE}/finalize",
    }
    if certificate:
        body["certificate"] = f"{BASE}/cert/1"
    return body


def _scripted(answers: list[HTTPResponse]) -> Callable[[HTTPRequest, dict[str, Any]], Any]:
    """A handler answering with ``answers`` in turn, repeating the last one."""
    queue: Iterator[HTTPResponse] = iter(answers)
    last: list[HTTPResponse] = []

    def handler(req: HTTPRequest, hdr: dict[str, Any]) -> HTTPResponse:
        answer = next(queue, None)
        if answer is None:
            answer = last[0]
        last[:] = [answer]
        return HTTPResponse(answer.status_code, answer.headers, answer.content, "")

    return handler


def _issuing_server(
    finalize: list[HTTPResponse], order: list[str]
) -> tuple[FakeServer, messages.OrderResource, str]:
    """A server whose finalize URL and order URL answer in turn; the certificate is served."""
    key, csr = key_and_csr(["a.test"])
    leaf = issue_leaf(key, ["a.test"])
    server = FakeServer()
    server.route("POST /finalize", _scripted(finalize))
    statuses = [reply(200, _order(status, status == "valid")) for status in order]
    server.route("POST /order/1", _scripted(statuses))
    server.route("POST /cert/1", lambda req, hdr: reply(200, leaf.encode(), PEM_CHAIN))
    snapshot = messages.OrderResource(
        body=messages.Order.from_json(_order("pending")), uri=f"{BASE}/order/1", csr_pem=csr
    )
    return server, snapshot, leaf


# Finalization (RFC 8555 section 7.4).


def test_finalize_answered_order_not_ready_waits_and_finalizes_again() -> None:
    """The CA makes the order ready a moment after the last authorization (certbot 9766)."""
    server, orderr, leaf = _issuing_server(
        finalize=[problem(403, "orderNotReady"), reply(200, _order("processing"))],
        order=["pending", "pending", "ready", "processing", "valid"],
    )
    clock = FakeClock()
    ctx = make_ctx(clock)
    done = drive(ClientFlows(ctx).finalize_order(orderr, 30.0, False), server, clock, ctx)
    assert done.fullchain_pem == leaf
    assert server.count("POST", "/finalize") == 2  # once refused, once when ready
    assert server.count("POST", "/order/1") == 5
    assert clock.mono - 1000.0 < 1.0  # polled at the backoff's pace, not a second at a time


def test_finalize_never_ready_ends_at_the_deadline() -> None:
    server, orderr, _ = _issuing_server(finalize=[problem(403, "orderNotReady")], order=["pending"])
    clock = FakeClock()
    ctx = make_ctx(clock)
    with pytest.raises(errors.TimeoutError):
        drive(ClientFlows(ctx).finalize_order(orderr, 20.0, False), server, clock, ctx)
    assert clock.mono - 1000.0 <= 20.0
    assert server.count("POST", "/finalize") == 1  # a pending order is not finalized again
    assert server.count("POST", "/order/1") < 20


def test_finalize_answered_order_not_ready_for_an_invalid_order_is_an_issuance_error() -> None:
    server, orderr, _ = _issuing_server(finalize=[problem(403, "orderNotReady")], order=["invalid"])
    clock = FakeClock()
    ctx = make_ctx(clock)
    with pytest.raises(errors.IssuanceError):
        drive(ClientFlows(ctx).finalize_order(orderr, 20.0, False), server, clock, ctx)


@pytest.mark.parametrize("server_state", ["processing", "valid"])
def test_a_retried_finalize_whose_answer_was_lost_continues(server_state: str) -> None:
    """The first finalize went through but its answer was lost; the caller retries with the
    order as it knew it (ready): the CA says orderNotReady, the client picks up from there."""
    order = ["processing", "valid"] if server_state == "processing" else ["valid"]
    server, orderr, leaf = _issuing_server(finalize=[problem(403, "orderNotReady")], order=order)
    ready = orderr.update(body=orderr.body.update(status=messages.STATUS_READY))
    clock = FakeClock()
    ctx = make_ctx(clock)
    done = drive(ClientFlows(ctx).finalize_order(ready, 30.0, False), server, clock, ctx)
    assert done.fullchain_pem == leaf
    assert server.count("POST", "/finalize") == 1


@pytest.mark.parametrize("known", ["processing", "valid"])
def test_an_order_known_finalized_is_not_finalized_again(known: str) -> None:
    server, orderr, leaf = _issuing_server(finalize=[], order=["valid"])
    body = messages.Order.from_json(_order(known, known == "valid"))
    clock = FakeClock()
    ctx = make_ctx(clock)
    done = drive(
        ClientFlows(ctx).finalize_order(orderr.update(body=body), 30.0, False), server, clock, ctx
    )
    assert done.fullchain_pem == leaf
    assert server.count("POST", "/finalize") == 0


def test_poll_finalization_fetches_a_valid_order_without_certificate_url() -> None:
    server, orderr, leaf = _issuing_server(finalize=[], order=["valid"])
    snapshot = orderr.update(body=messages.Order.from_json(_order("valid")))  # no certificate
    clock = FakeClock()
    ctx = make_ctx(clock)
    done = drive(ClientFlows(ctx).poll_finalization(snapshot, 30.0, False), server, clock, ctx)
    assert done.fullchain_pem == leaf
    assert done.body.certificate == f"{BASE}/cert/1"
    assert clock.sleeps == []  # fetched at once: a valid order does not change any more

    server.route("POST /order/1", lambda req, hdr: reply(200, _order("valid")))
    with pytest.raises(errors.ClientError, match="names no certificate URL"):
        drive(ClientFlows(ctx).poll_finalization(snapshot, 30.0, False), server, clock, ctx)


# Accounts (RFC 8555 sections 7.3.1, 7.3.2, 7.3.6).


def _account(status: str = "valid") -> dict[str, Any]:
    return {"status": status, "contact": ["mailto:new@example.com"]}


@pytest.mark.parametrize("operation", ["update_registration", "deactivate_registration"])
@pytest.mark.parametrize("stale_answer", ["accountDoesNotExist", "404"])
def test_a_stale_account_url_is_looked_up_by_key_first(operation: str, stale_answer: str) -> None:
    server = FakeServer()
    seen: list[dict[str, Any]] = []
    if stale_answer == "404":
        server.route("POST /acct/old", lambda req, hdr: reply(404, {"detail": "gone"}))
    else:
        server.route("POST /acct/old", lambda req, hdr: problem(400, "accountDoesNotExist"))

    def lookup(req: HTTPRequest, hdr: dict[str, Any]) -> HTTPResponse:
        seen.append(hdr)
        assert "jwk" in hdr  # newAccount is signed with the key, never a kid (section 6.2)
        assert json.loads(hdr["payload"]) == {"onlyReturnExisting": True}
        return reply(200, _account(), Location=f"{BASE}/acct/7")

    def account(req: HTTPRequest, hdr: dict[str, Any]) -> HTTPResponse:
        seen.append(hdr)
        assert hdr["kid"] == f"{BASE}/acct/7"
        payload = json.loads(hdr["payload"])
        return reply(200, _account(payload.get("status", "valid")))

    server.route("POST /new-account", lookup)
    server.route("POST /acct/7", account)
    clock = FakeClock()
    ctx = make_ctx(clock)
    stale = messages.RegistrationResource(
        body=messages.Registration.from_json(_account()), uri=f"{BASE}/acct/old"
    )
    ctx.net.account = stale  # as loaded from an old account file
    regr = drive(
        getattr(ClientFlows(ctx), operation)(
            stale, *([None] if operation == "update_registration" else [])
        ),
        server,
        clock,
        ctx,
    )
    assert regr.uri == f"{BASE}/acct/7"
    assert ctx.net.account.uri == f"{BASE}/acct/7"  # later requests are signed for it
    assert server.count("POST", "/acct/old") == 0
    assert len(seen) == 2
    if operation == "deactivate_registration":
        assert regr.body.status == messages.STATUS_DEACTIVATED


def test_new_account_is_signed_with_jwk_even_when_an_account_is_set() -> None:
    server = FakeServer()
    headers: list[dict[str, Any]] = []

    def new_account(req: HTTPRequest, hdr: dict[str, Any]) -> HTTPResponse:
        headers.append(hdr)
        return reply(201, _account(), Location=f"{BASE}/acct/9")

    server.route("POST /new-account", new_account)
    clock = FakeClock()
    ctx = make_ctx(clock)  # its session has an account: /acct/1
    regr = drive(ClientFlows(ctx).new_account(messages.NewRegistration()), server, clock, ctx)
    assert "jwk" in headers[0]
    assert "kid" not in headers[0]
    assert ctx.net.account is regr
    assert regr.uri == f"{BASE}/acct/9"


def test_terms_of_service_from_the_link_header() -> None:
    server = FakeServer()
    server.route(
        "POST /new-account",
        lambda req, hdr: reply(
            201,
            _account(),
            Location=f"{BASE}/acct/9",
            Link=f'<{BASE}/tos/v2>;rel="terms-of-service"',
        ),
    )
    clock = FakeClock()
    ctx = make_ctx(clock)
    regr = drive(ClientFlows(ctx).new_account(messages.NewRegistration()), server, clock, ctx)
    assert regr.terms_of_service == f"{BASE}/tos/v2"


# Renewal information (RFC 9773 section 4.3).


def _expired(clock: FakeClock) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.test")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(clock.now() - datetime.timedelta(days=90))
        .not_valid_after(clock.now() - datetime.timedelta(seconds=1))
        .add_extension(x509.AuthorityKeyIdentifier(b"\x02" * 20, None, None), critical=False)
        .sign(key, hashes.SHA256())
    )


def test_no_renewal_information_is_requested_for_an_expired_certificate() -> None:
    server, clock = FakeServer(), FakeClock()
    server.route("GET /ari", lambda req, hdr: pytest.fail("ARI was asked about it"))
    cert = _expired(clock)
    ctx = make_ctx(clock)
    with pytest.raises(errors.ClientError, match=r"expired .* renew it now") as refused:
        drive(ClientFlows(ctx).renewal_info(cert), server, clock, ctx)
    assert not isinstance(refused.value, errors.ARIError)  # not "try again later"
    pem = cert.public_bytes(serialization.Encoding.PEM)
    when, ask_again = drive(ClientFlows(ctx).renewal_time(pem), server, clock, ctx)
    assert when == cert.not_valid_after_utc  # already past: renew now (acme 5.x's answer)
    assert when < clock.now()
    assert ask_again.tzinfo is None
    assert server.requests == []


# Objects that come back as other objects.


def test_a_challenge_answered_at_another_url_is_an_unexpected_update() -> None:
    server, clock = FakeServer(), FakeClock()
    other = {
        "type": "http-01",
        "url": f"{BASE}/chall/2",
        "status": "processing",
        "token": "DGyRejmCefe7v4NfDGDKfA",
    }
    server.route(
        "POST /chall/1", lambda req, hdr: reply(200, other, Link=f'<{BASE}/authz/1>;rel="up"')
    )
    challb = messages.ChallengeBody.from_json({**other, "url": f"{BASE}/chall/1"})
    ctx = make_ctx(clock)
    with pytest.raises(errors.UnexpectedUpdate, match="chall/2"):
        drive(ClientFlows(ctx).answer_challenge(challb, {}), server, clock, ctx)


def test_an_authorization_for_another_identifier_is_an_unexpected_update() -> None:
    server, clock = FakeServer(), FakeClock()
    authz = {"status": "valid", "identifier": {"type": "dns", "value": "b.test"}, "challenges": []}
    server.route("POST /authz/1", lambda req, hdr: reply(200, authz))
    known = messages.AuthorizationResource(
        body=messages.Authorization.from_json(
            {**authz, "status": "pending", "identifier": {"type": "dns", "value": "a.test"}}
        ),
        uri=f"{BASE}/authz/1",
    )
    ctx = make_ctx(clock)
    with pytest.raises(errors.UnexpectedUpdate, match=r"b\.test"):
        drive(ClientFlows(ctx).poll(known), server, clock, ctx)
