"""The core's issuance steps, challenge choice, http-01 rule and account recovery.

Each piece runs twice over: against the scripted `FakeServer` (exact requests, odd answers)
and against `acme.testing.ACMEServerCore` called directly on the same fake clock (no
sockets), crossed with the test CA's fault knobs: refused nonces, busy answers with
Retry-After, slow validation and processing, failed validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from acme import challenges, crypto_util, errors, messages
from acme._core import account as account_flows
from acme._core.issuance import Issuance, plan_challenges
from acme._core.operations import ClientFlows
from acme.testing import Faults
from support.core_fakes import (
    BASE,
    CoreCA,
    FakeClock,
    FakeServer,
    account_key,
    drive,
    make_ctx,
    problem,
    reply,
)

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEY_AUTHORIZATION = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


# -- which challenge, which authorizations ------------------------------------------------


def _authzr(status: str, *types: str, name: str = "a.test") -> messages.AuthorizationResource:
    body = messages.Authorization.from_json(
        {
            "status": status,
            "identifier": {"type": "dns", "value": name},
            "challenges": [
                {"type": typ, "url": f"{BASE}/chall/{typ}", "status": "pending", "token": TOKEN}
                for typ in types
            ],
        }
    )
    return messages.AuthorizationResource(body=body, uri=f"{BASE}/authz/{name}")


def _order(*authzrs: messages.AuthorizationResource) -> messages.OrderResource:
    body = messages.Order.from_json(
        {
            "status": "pending",
            "identifiers": [],
            "authorizations": [a.uri for a in authzrs],
            "finalize": f"{BASE}/finalize",
        }
    )
    return messages.OrderResource(body=body, uri=f"{BASE}/order/1", authorizations=authzrs)


def test_plan_skips_valid_answers_pending_and_refuses_the_rest() -> None:
    valid = _authzr("valid", "http-01", name="v.test")
    pending = _authzr("pending", "http-01", "dns-01", name="p.test")
    plan = plan_challenges(_order(valid, pending), [challenges.HTTP01])
    assert plan.valid == (valid,)
    assert [(a.uri, c.chall.typ) for a, c in plan.answer] == [(pending.uri, "http-01")]

    for status in ("invalid", "deactivated", "expired", "revoked"):
        with pytest.raises(errors.ClientError, match=f"is {status}: it cannot be answered"):
            plan_challenges(_order(pending, _authzr(status, "http-01")), [challenges.HTTP01])
    only_dns = _authzr("pending", "dns-01", name="w.test")
    with pytest.raises(errors.ClientError) as refused:
        plan_challenges(_order(pending, only_dns), [challenges.HTTP01, challenges.TLSALPN01])
    assert str(refused.value) == (
        "the CA offers no http-01 or tls-alpn-01 challenge for w.test (it offers: dns-01)"
    )


# -- the steps against the scripted fake server -------------------------------------------


def _csr(*names: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key, crypto_util.make_csr(pem, list(names))


def _replier(script: Iterator[dict[str, Any]]) -> Callable[..., Any]:
    """A route answering the next scripted authorization each time it is asked."""
    return lambda req, hdr: reply(200, next(script))


def _scripted_order(server: FakeServer, authz_answers: dict[str, list[dict[str, Any]]]) -> None:
    """newOrder answers an order whose authorizations answer ``authz_answers`` in turn."""
    order = {
        "status": "pending",
        "identifiers": [{"type": "dns", "value": name} for name in authz_answers],
        "authorizations": [f"{BASE}/authz/{name}" for name in authz_answers],
        "finalize": f"{BASE}/finalize",
    }
    server.route("POST /new-order", lambda req, hdr: reply(201, order, Location=f"{BASE}/o/1"))
    for name, answers in authz_answers.items():
        script = iter(answers)
        server.route(f"POST /authz/{name}", _replier(script))


def _authz_json(name: str, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "identifier": {"type": "dns", "value": name},
        "challenges": [
            {"type": t, "url": f"{BASE}/chall/{name}/{t}", "status": "pending", "token": TOKEN}
            for t in ("http-01", "dns-01")
        ],
    }


def test_issuance_steps_send_what_rfc8555_says_in_order() -> None:
    clock, server = FakeClock(), FakeServer()
    _scripted_order(
        server,
        {
            "a.test": [_authz_json("a.test", "pending"), _authz_json("a.test", "valid")],
            "b.test": [_authz_json("b.test", "valid")] * 2,
        },
    )
    chall = {"type": "dns-01", "url": f"{BASE}/chall/a.test/dns-01", "status": "processing"}
    up = f'<{BASE}/authz/a.test>;rel="up"'
    server.route(
        "POST /chall/a.test/dns-01", lambda req, hdr: reply(200, {**chall, "token": TOKEN}, Link=up)
    )
    ctx = make_ctx(clock)
    _, csr = _csr("a.test", "b.test")
    issuance = Issuance(ClientFlows(ctx), csr, [challenges.DNS01], 60)

    plan = drive(issuance.order(), server, clock, ctx)
    assert [a.body.identifier.value for a in plan.valid] == ["b.test"]
    assert [(a.body.identifier.value, c.chall.typ) for a, c in plan.answer] == [
        ("a.test", "dns-01")
    ]
    assert server.count("POST", "/chall/a.test/dns-01") == 0  # nothing answered while planning

    answered = drive(issuance.answer(), server, clock, ctx)
    assert [c.authzr_uri for c in answered] == [f"{BASE}/authz/a.test"]
    (_, challenge_request), *_ = [
        (r, h) for r, h in server.requests if r.url == f"{BASE}/chall/a.test/dns-01"
    ]
    assert challenge_request["payload"] == b"{}"  # RFC 8555 section 7.5.1: the empty object

    orderr = drive(issuance.validate(), server, clock, ctx)
    assert [a.body.status for a in orderr.authorizations] == [messages.STATUS_VALID] * 2


def test_issuance_steps_refuse_to_run_out_of_order() -> None:
    clock = FakeClock()
    _, csr = _csr("a.test")
    ctx = make_ctx(clock)
    issuance = Issuance(ClientFlows(ctx), csr, [challenges.HTTP01], 60)
    for step in (issuance.answer, issuance.validate, issuance.finalize):
        with pytest.raises(errors.ClientError, match="order\\(\\) has not run"):
            drive(step(), FakeServer(), clock, ctx)


def test_an_unanswerable_order_answers_nothing() -> None:
    clock, server = FakeClock(), FakeServer()
    _scripted_order(server, {"a.test": [_authz_json("a.test", "pending")]})
    _, csr = _csr("a.test")
    issuance = Issuance(ClientFlows(ctx := make_ctx(clock)), csr, [challenges.TLSALPN01], 60)
    with pytest.raises(errors.ClientError, match=r"offers no tls-alpn-01 challenge for a\.test"):
        drive(issuance.order(), server, clock, ctx)
    assert [r.url for r, _ in server.requests if "/chall/" in r.url] == []


# -- account recovery against the scripted fake server ------------------------------------


def test_find_account_is_none_only_for_account_does_not_exist() -> None:
    clock, server = FakeClock(), FakeServer()
    server.route("POST /new-account", lambda req, hdr: problem(400, "accountDoesNotExist"))
    ctx = make_ctx(clock, account=False)
    assert drive(account_flows.find_account(ctx), server, clock, ctx) is None
    assert ctx.net.account is None
    server.route("POST /new-account", lambda req, hdr: problem(403, "unauthorized"))
    with pytest.raises(messages.Error, match="unauthorized"):
        drive(account_flows.find_account(ctx), server, clock, ctx)


@pytest.mark.parametrize("conflict_status", [200, 409])
def test_register_or_adopt_adopts_the_keys_existing_account(conflict_status: int) -> None:
    clock, server = FakeClock(), FakeServer()
    existing = f"{BASE}/acct/7"

    def new_account(req: Any, hdr: dict[str, Any]) -> Any:
        if b"onlyReturnExisting" in hdr["payload"]:
            return reply(200, {"status": "valid"}, Location=existing)
        if conflict_status == 409:
            return problem(409, "malformed", Location=existing)
        return reply(200, {"status": "valid"}, Location=existing)

    server.route("POST /new-account", new_account)
    ctx = make_ctx(clock, account=False)
    flows = ClientFlows(ctx)
    regr, adopted = drive(
        flows.register_or_adopt(messages.NewRegistration.from_data(email="a@a.test")),
        server,
        clock,
        ctx,
    )
    assert adopted
    assert regr.uri == existing
    assert ctx.net.account is regr
    assert server.count("POST", "/new-account") == 2  # the attempt, then onlyReturnExisting


# -- everything against acme.testing.ACMEServerCore, crossed with its fault knobs ----------

BUSY_POLLS = frozenset({"authz", "order"})

# Test CA knobs, and the faults switched on once the challenges are answered ("polls"): a busy
# answer to the authorization fetches of the order step is not ridden out (they are not polls).
FAULTS: dict[str, dict[str, Any]] = {
    "no faults": {},
    "refused nonces": {"faults": Faults(seed=3, bad_nonce_rate=0.3)},
    "busy polls 503": {
        "polls": Faults(seed=5, error_rate=0.5, retry_after=2, resources=BUSY_POLLS)
    },
    "rate-limited polls 429": {
        "polls": Faults(seed=7, error_rate=0.5, error_status=429, resources=BUSY_POLLS)
    },
    "slow validation and processing": {"validation_delay_polls": 3, "processing_polls": 3},
    "server asks to wait": {
        "validation_delay_polls": 2,
        "processing_polls": 2,
        "poll_retry_after": 4,
    },
    "everything at once": {
        "faults": Faults(seed=9, bad_nonce_rate=0.2),
        "polls": Faults(seed=11, bad_nonce_rate=0.2, error_rate=0.3, resources=BUSY_POLLS),
        "validation_delay_polls": 2,
        "processing_polls": 1,
    },
}


def _register(ca: CoreCA) -> ClientFlows:
    flows = ca.flows
    registration = messages.NewRegistration.from_data(
        email="ops@example.org", terms_of_service_agreed=True
    )
    ca.run(flows.register_or_adopt(registration))
    return flows


def _run_issuance(
    ca: CoreCA, flows: ClientFlows, *names: str, polls: Faults | None = None, **kw: Any
) -> Any:
    key, csr = _csr(*names)
    issuance = Issuance(flows, csr, kw.pop("accepted", [challenges.HTTP01]), 300, **kw)
    plan = ca.run(issuance.order())
    ca.run(issuance.answer())
    if polls is not None:
        ca.core.faults = polls
    ca.run(issuance.validate())
    orderr = ca.run(issuance.finalize())
    assert orderr.fullchain_pem is not None
    leaf = x509.load_pem_x509_certificates(orderr.fullchain_pem.encode())[0]
    return plan, orderr, leaf, key


@pytest.mark.parametrize("knobs", FAULTS.values(), ids=FAULTS.keys())
def test_issuance_against_the_test_ca(knobs: dict[str, Any]) -> None:
    knobs = dict(knobs)
    polls = knobs.pop("polls", None)
    ca = CoreCA(**knobs)
    flows = _register(ca)
    names = ("a.example.org", "b.example.org")
    plan, orderr, leaf, key = _run_issuance(ca, flows, *names, polls=polls)
    assert len(plan.answer) == 2
    assert orderr.body.status == messages.STATUS_VALID
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == ["a.example.org", "b.example.org"]
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert ca.core.internal_errors == []
    server_wait = knobs.get("poll_retry_after")
    if server_wait:
        assert server_wait in ca.clock.sleeps  # its Retry-After is what the client waited
    if polls is not None and polls.error_rate:
        busy = polls.error_status
        assert (busy, "rateLimited" if busy == 429 else "serverInternal") in ca.answers
        assert polls.retry_after in ca.clock.sleeps  # busy polls waited as told, then went on
    refused = knobs.get("faults") or polls
    if refused is not None and refused.bad_nonce_rate:
        assert (400, "badNonce") in ca.answers  # refused, signed again with the fresh nonce


def test_reused_authorizations_are_planned_as_already_valid() -> None:
    ca = CoreCA()
    flows = _register(ca)
    _run_issuance(ca, flows, "a.example.org")
    plan, *_ = _run_issuance(ca, flows, "a.example.org", "c.example.org")
    assert [a.body.identifier.value for a in plan.valid] == ["a.example.org"]
    assert [a.body.identifier.value for a, _ in plan.answer] == ["c.example.org"]


def test_wildcards_get_dns01_even_when_http01_is_preferred() -> None:
    ca = CoreCA()
    flows = _register(ca)
    accepted = [challenges.HTTP01, challenges.DNS01]
    plan, _, leaf, _ = _run_issuance(ca, flows, "*.example.org", "example.org", accepted=accepted)
    chosen = sorted(
        (a.body.identifier.value, bool(a.body.wildcard), c.chall.typ) for a, c in plan.answer
    )
    # RFC 8555 section 7.1.3: a wildcard's authorization names the base domain, marked
    # "wildcard", and only dns-01 can validate it.
    assert chosen == [("example.org", False, "http-01"), ("example.org", True, "dns-01")]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "*.example.org" in san.get_values_for_type(x509.DNSName)


def test_a_ca_offering_only_dns01_is_refused_before_anything_is_answered() -> None:
    ca = CoreCA(challenge_types=("dns-01",))
    flows = _register(ca)
    _, csr = _csr("a.example.org")
    issuance = Issuance(flows, csr, [challenges.HTTP01, challenges.TLSALPN01], 60)
    with pytest.raises(errors.ClientError, match=r"it offers: dns-01\)"):
        ca.run(issuance.order())
    assert all(c.status == "pending" for a in ca.core.authorizations.values() for c in a.challenges)


def test_failed_validation_is_a_validation_error_naming_the_identifier() -> None:
    def validator(kind: str, identifier: messages.Identifier, *rest: Any) -> Any:
        if identifier.value == "bad.example.org":
            return messages.Error.with_code("incorrectResponse", detail="wrong body")
        return None

    ca = CoreCA(validator=validator)
    flows = _register(ca)
    _, csr = _csr("good.example.org", "bad.example.org")
    issuance = Issuance(flows, csr, [challenges.HTTP01], 60)
    ca.run(issuance.order())
    ca.run(issuance.answer())
    with pytest.raises(errors.ValidationError) as failed:
        ca.run(issuance.validate())
    assert [a.body.identifier.value for a in failed.value.failed_authzrs] == ["bad.example.org"]
    assert "wrong body" in str(failed.value)


def test_answering_is_not_retried_when_the_ca_is_busy() -> None:
    """Only polls ride out 429/5xx: an answer may have taken effect, so its error is raised."""
    ca = CoreCA(faults=Faults(error_rate=1.0, retry_after=1, resources=frozenset({"challenge"})))
    flows = _register(ca)
    _, csr = _csr("a.example.org")
    issuance = Issuance(flows, csr, [challenges.HTTP01], 60)
    ca.run(issuance.order())
    with pytest.raises(messages.Error) as busy:
        ca.run(issuance.answer())
    assert busy.value.http_status == 503
    assert ca.clock.sleeps == []


def test_a_ca_busy_past_the_deadline_is_a_timeout() -> None:
    ca = CoreCA()
    flows = _register(ca)
    _, csr = _csr("a.example.org")
    issuance = Issuance(flows, csr, [challenges.HTTP01], 45)
    ca.run(issuance.order())
    ca.run(issuance.answer())
    ca.core.faults = Faults(error_rate=1.0, retry_after=30, resources=frozenset({"authz"}))
    with pytest.raises(errors.TimeoutError):
        ca.run(issuance.validate())
    assert sum(ca.clock.sleeps) <= 45


@pytest.mark.parametrize("knobs", FAULTS.values(), ids=FAULTS.keys())
def test_account_recovery_against_the_test_ca(knobs: dict[str, Any]) -> None:
    knobs = dict(knobs)
    polls = knobs.pop("polls", None)
    ca = CoreCA(**knobs)
    if polls is not None:
        ca.core.faults = polls
    key = account_key()
    first = ca.client(key)
    assert ca.run(first.find_account(), first) is None  # accountDoesNotExist: none yet
    registration = messages.NewRegistration.from_data(
        email="ops@example.org", terms_of_service_agreed=True
    )
    created, adopted = ca.run(first.register_or_adopt(registration), first)
    assert not adopted
    again = ca.client(key)  # e.g. a second run, same key
    found = ca.run(again.find_account(), again)
    assert found is not None
    assert found.uri == created.uri
    assert again.ctx.net.account.uri == created.uri
    adopted_regr, adopted = ca.run(again.register_or_adopt(registration), again)
    assert adopted
    assert adopted_regr.uri == created.uri
    assert len(ca.core.accounts) == 1
    assert ca.core.internal_errors == []


def test_registration_refused_by_a_busy_ca_is_raised_not_retried() -> None:
    ca = CoreCA(faults=Faults(error_rate=1.0, resources=frozenset({"newAccount"})))
    flows = ca.flows
    registration = messages.NewRegistration.from_data(terms_of_service_agreed=True)
    with pytest.raises(messages.Error) as busy:
        ca.run(flows.register_or_adopt(registration))
    assert busy.value.code == "serverInternal"
    assert ca.core.accounts == {}
