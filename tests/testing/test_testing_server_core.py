"""Unit tests of the pure test-server core (acme.testing.ACMEServerCore) and acme._core.states.

Requests are hand-built JWS (acme.jws + josepy keys) sent straight to ``core.handle``, with a
fake clock and a seeded random source, so every test is deterministic and needs no network.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import random
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import b64, jwk

from acme import errors, fields, jws, messages
from acme._core import states
from acme._core.http import HTTPRequest, HTTPResponse
from acme._wire.identifiers import is_ip
from acme._wire.keys import alg_for_key
from acme._wire.order import REVOCATION_REASONS
from acme._wire.renewal_id import certificate_identifier
from acme.testing import ACMEServerCore, Faults
from acme.testing._rawclient import RawClient, csr_b64

BASE = "https://acme.test"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


def ec_key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def problem(response: HTTPResponse, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is an RFC 7807 problem of ACME type ``code``; return its body."""
    assert response.status_code == status, response.text
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == messages.ERROR_PREFIX + code, body
    assert response.headers.get("Replay-Nonce")
    return body


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def core(clock: Clock) -> ACMEServerCore:
    return ACMEServerCore(BASE, clock=clock, rng=random.Random(1))


def new_client(core: ACMEServerCore, **account: Any) -> RawClient:
    client = RawClient(core.handle, core.directory_url, ec_key())
    assert client.new_account(**account).status_code == 201
    return client


@pytest.fixture
def client(core: ACMEServerCore) -> RawClient:
    return new_client(core)


def new_order(client: RawClient, *names: str, **fields: Any) -> HTTPResponse:
    idents = [{"type": "ip" if is_ip(name) else "dns", "value": name} for name in names]
    return client.post(client.directory["newOrder"], {"identifiers": idents, **fields})


def answer_all(client: RawClient, order: dict[str, Any]) -> None:
    for authz_url in order["authorizations"]:
        authz = client.post(authz_url).json()
        if authz["status"] == "valid":
            continue
        chall = next(c for c in authz["challenges"] if c["type"] in ("http-01", "dns-01"))
        assert client.post(chall["url"], {}).status_code == 200


def issue(client: RawClient, *names: str, **fields: Any) -> tuple[dict[str, Any], str, Any]:
    """Run a whole order; return (order, certificate chain PEM, certificate key)."""
    response = new_order(client, *names, **fields)
    assert response.status_code == 201, response.text
    order = response.json()
    answer_all(client, order)
    cert_key = ec.generate_private_key(ec.SECP256R1())
    dns = [n for n in names if not is_ip(n)]
    ips = [n for n in names if is_ip(n)]
    done = client.post(order["finalize"], {"csr": csr_b64(cert_key, dns, ips)})
    assert done.status_code == 200, done.text
    order = done.json()
    assert order["status"] == "valid"
    chain = client.post(order["certificate"])
    assert chain.content_type == "application/pem-certificate-chain"
    return order, chain.text, cert_key


# -- acme._core.states: the one transition table -------------------------------------------


def test_state_table_direct_edges_follow_rfc8555_diagrams() -> None:
    assert states.is_allowed(states.ORDER, "pending", "ready")
    assert states.is_allowed(states.ORDER, "ready", "processing")
    assert not states.is_allowed(states.ORDER, "pending", "valid")  # skips two states
    assert not states.is_allowed(states.ORDER, "valid", "pending")
    assert states.is_allowed(states.CHALLENGE, "processing", "processing")  # retries
    assert not states.is_allowed(states.CHALLENGE, "pending", "valid")
    assert states.is_allowed(states.AUTHORIZATION, "valid", "deactivated")
    assert not states.is_allowed(states.AUTHORIZATION, "invalid", "valid")
    assert states.is_allowed(states.ACCOUNT, "valid", "revoked")
    assert states.is_final(states.ORDER, "invalid")
    assert not states.is_final(states.ORDER, "ready")
    assert states.FINAL[states.AUTHORIZATION] == {"invalid", "revoked", "deactivated", "expired"}
    assert states.is_known(states.CHALLENGE, messages.STATUS_PROCESSING)


def test_check_transition_accepts_observed_jumps_and_refuses_going_back() -> None:
    # A client may see pending then valid (synchronous validation): a path, accepted.
    states.check_transition(states.CHALLENGE, messages.STATUS_PENDING, messages.STATUS_VALID)
    states.check_transition(states.ORDER, "pending", "valid")
    states.check_transition(states.ORDER, "ready", "ready")  # a poll with no change
    with pytest.raises(errors.UnexpectedUpdate, match=r"valid.*pending"):
        states.check_transition(states.ORDER, "valid", "pending")
    with pytest.raises(errors.UnexpectedUpdate):
        states.check_transition(states.AUTHORIZATION, "pending", "bogus")
    with pytest.raises(ValueError, match="Unknown ACME object kind"):
        states.is_allowed("certificate", "valid", "revoked")


# -- directory, nonces, headers --------------------------------------------------------------


def test_directory_lists_resources_and_meta(core: ACMEServerCore) -> None:
    response = core.handle(HTTPRequest("GET", core.directory_url))
    assert response.status_code == 200
    assert response.content_type == "application/json"
    directory = response.json()
    for name in ("newNonce", "newAccount", "newOrder", "newAuthz", "revokeCert", "keyChange"):
        assert directory[name].startswith(BASE + "/")
    assert directory["renewalInfo"] == BASE + "/renewal-info"
    assert directory["meta"]["termsOfService"] == BASE + "/terms"
    assert directory["meta"]["externalAccountRequired"] is False
    assert set(directory["meta"]["profiles"]) == {"classic", "shortlived"}
    assert response.headers.get("Replay-Nonce")
    assert "index" not in response.links  # section 7.1: every resource but the directory


def test_new_nonce_head_and_get(core: ACMEServerCore) -> None:
    url = core.url("/new-nonce")
    head = core.handle(HTTPRequest("HEAD", url))
    get = core.handle(HTTPRequest("GET", url))
    assert (head.status_code, get.status_code) == (200, 204)
    assert head.headers["Cache-Control"] == "no-store" == get.headers["Cache-Control"]
    assert head.headers["Replay-Nonce"] != get.headers["Replay-Nonce"]
    assert head.links["index"] == [core.directory_url]


def test_naive_clock_is_refused() -> None:
    with pytest.raises(errors.InvalidArgument, match="naive"):
        ACMEServerCore(BASE, clock=datetime.datetime.now)


# -- accounts -------------------------------------------------------------------------------


def test_new_account_then_same_key_returns_existing(core: ACMEServerCore) -> None:
    client = RawClient(core.handle, core.directory_url, ec_key())
    created = client.new_account(contact=["mailto:admin@example.org"])
    assert created.status_code == 201
    account = created.json()
    assert account["status"] == "valid"
    assert account["contact"] == ["mailto:admin@example.org"]
    assert account["orders"] == created.headers["Location"] + "/orders"
    again = client.new_account(contact=["mailto:other@example.org"])
    assert again.status_code == 200
    assert again.headers["Location"] == created.headers["Location"]
    assert again.json()["contact"] == ["mailto:admin@example.org"]  # request fields ignored
    lookup = client.post(client.directory["newAccount"], {"onlyReturnExisting": True}, use_jwk=True)
    assert lookup.status_code == 200
    assert lookup.headers["Location"] == created.headers["Location"]


def test_only_return_existing_for_unknown_key(core: ACMEServerCore) -> None:
    client = RawClient(core.handle, core.directory_url, ec_key())
    response = client.post(
        client.directory["newAccount"], {"onlyReturnExisting": True}, use_jwk=True
    )
    problem(response, 400, "accountDoesNotExist")
    assert core.accounts == {}


def test_terms_of_service_must_be_agreed(core: ACMEServerCore) -> None:
    client = RawClient(core.handle, core.directory_url, ec_key())
    problem(client.new_account(termsOfServiceAgreed=False), 400, "malformed")
    relaxed = ACMEServerCore(BASE, terms_of_service=None)
    other = RawClient(relaxed.handle, relaxed.directory_url, ec_key())
    assert "termsOfService" not in other.directory["meta"]
    assert other.new_account(termsOfServiceAgreed=False).status_code == 201


@pytest.mark.parametrize(
    ("contact", "code"),
    [
        (["tel:+15555550100"], "unsupportedContact"),
        (["mailto:a@example.org?subject=hi"], "invalidContact"),
        (["mailto:a@example.org,b@example.org"], "invalidContact"),
        (["mailto:nobody"], "invalidContact"),
        ("mailto:a@example.org", "malformed"),
    ],
)
def test_contacts_are_checked(core: ACMEServerCore, contact: Any, code: str) -> None:
    client = RawClient(core.handle, core.directory_url, ec_key())
    problem(client.new_account(contact=contact), 400, code)


def test_account_update_fetch_and_ownership(core: ACMEServerCore, client: RawClient) -> None:
    assert client.account_url is not None
    updated = client.post(client.account_url, {"contact": ["mailto:new@example.org"]})
    assert updated.status_code == 200
    assert updated.json()["contact"] == ["mailto:new@example.org"]
    assert client.post(client.account_url).json()["contact"] == ["mailto:new@example.org"]
    other = new_client(core)
    problem(other.post(client.account_url), 403, "unauthorized")
    problem(client.post(client.account_url, {"status": "revoked"}), 400, "malformed")


def test_deactivated_account_is_refused_and_its_orders_end(
    core: ACMEServerCore, client: RawClient
) -> None:
    order_url = new_order(client, "example.org").headers["Location"]
    assert client.account_url is not None
    done = client.post(client.account_url, {"status": "deactivated"})
    assert done.status_code == 200
    assert done.json()["status"] == "deactivated"
    problem(client.post(order_url), 401, "unauthorized")
    problem(client.new_account(), 401, "unauthorized")
    order = next(iter(core.orders.values()))
    assert order.status == "invalid"


def _eab(kid: str, mac_key: bytes, key: jwk.JWK, url: str, **header: Any) -> dict[str, Any]:
    protected = {"alg": "HS256", "kid": kid, "url": url, **header}
    p64 = b64.b64encode(json.dumps(protected).encode()).decode()
    payload = b64.b64encode(json.dumps(key.public_key().to_partial_json()).encode()).decode()
    mac = hmac.new(mac_key, f"{p64}.{payload}".encode(), hashlib.sha256).digest()
    return {"protected": p64, "payload": payload, "signature": b64.b64encode(mac).decode()}


def test_external_account_binding() -> None:
    mac_key = b"0123456789abcdef0123456789abcdef"
    core = ACMEServerCore(BASE, eab_keys={"kid-1": b64.b64encode(mac_key).decode()})
    client = RawClient(core.handle, core.directory_url, ec_key())
    url = client.directory["newAccount"]
    assert client.directory["meta"]["externalAccountRequired"] is True
    problem(client.new_account(), 400, "externalAccountRequired")
    wrong_mac = _eab("kid-1", b"x" * 32, client.key, url)
    problem(client.new_account(externalAccountBinding=wrong_mac), 401, "unauthorized")
    unknown = _eab("kid-2", mac_key, client.key, url)
    problem(client.new_account(externalAccountBinding=unknown), 401, "unauthorized")
    other_key = _eab("kid-1", mac_key, ec_key(), url)
    problem(client.new_account(externalAccountBinding=other_key), 401, "unauthorized")
    wrong_url = _eab("kid-1", mac_key, client.key, BASE + "/new-order")
    problem(client.new_account(externalAccountBinding=wrong_url), 400, "malformed")
    with_nonce = _eab("kid-1", mac_key, client.key, url, nonce="AAAA")
    problem(client.new_account(externalAccountBinding=with_nonce), 400, "malformed")
    good = _eab("kid-1", mac_key, client.key, url)
    created = client.new_account(externalAccountBinding=good)
    assert created.status_code == 201
    assert created.json()["externalAccountBinding"] == good


def _key_change(
    client: RawClient,
    new_key: jwk.JWK,
    *,
    account: str | None = None,
    old_key: jwk.JWK | None = None,
    inner_url: str | None = None,
    inner_nonce: bytes | None = None,
) -> HTTPResponse:
    url = client.directory["keyChange"]
    body = {
        "account": account or client.account_url,
        "oldKey": (old_key or client.key).public_key().to_partial_json(),
    }
    inner = jws.JWS.sign(
        json.dumps(body).encode(),
        key=new_key,
        alg=alg_for_key(new_key),
        nonce=inner_nonce,
        url=inner_url or url,
    )
    return client.post(url, inner.json_dumps().encode())


def test_key_change_checks_and_rollover(core: ACMEServerCore, client: RawClient) -> None:
    new_key = ec_key()
    problem(_key_change(client, new_key, inner_nonce=b"1234"), 400, "malformed")
    problem(_key_change(client, new_key, old_key=ec_key()), 400, "malformed")
    problem(_key_change(client, new_key, account=BASE + "/acct/other"), 400, "malformed")
    problem(_key_change(client, new_key, inner_url=BASE + "/new-order"), 400, "malformed")
    taken = new_client(core)
    conflict = _key_change(client, taken.key)
    problem(conflict, 409, "malformed")
    assert conflict.headers["Location"] == taken.account_url
    assert _key_change(client, new_key).status_code == 200
    problem(client.post(client.account_url or ""), 400, "malformed")  # old key: bad signature
    client.key = new_key
    assert client.post(client.account_url or "").status_code == 200


# -- orders, authorizations, challenges ------------------------------------------------------


def test_new_order_identifiers_wildcards_and_ips(client: RawClient) -> None:
    response = new_order(client, "example.org", "*.example.org", "127.0.0.1", "::1")
    assert response.status_code == 201
    order = response.json()
    assert response.headers["Location"].startswith(BASE + "/order/")
    assert order["status"] == "pending"
    assert order["profile"] == "classic"
    authzs = [client.post(url).json() for url in order["authorizations"]]
    by_value = {(a["identifier"]["value"], a.get("wildcard", False)): a for a in authzs}
    wildcard = by_value[("example.org", True)]
    # RFC 8555 7.1.3: only DNS challenges for a wildcard (the drafts' DNS types too).
    assert [c["type"] for c in wildcard["challenges"]] == [
        "dns-01",
        "dns-account-01",
        "dns-persist-01",
    ]
    assert "wildcard" not in by_value[("example.org", False)]
    for ip in ("127.0.0.1", "::1"):  # RFC 8738 section 7: never dns-01 for IPs
        assert {c["type"] for c in by_value[(ip, False)]["challenges"]} == {
            "http-01",
            "tls-alpn-01",
        }


@pytest.mark.parametrize(
    ("identifier", "code"),
    [
        ({"type": "email", "value": "a@example.org"}, "unsupportedIdentifier"),
        ({"type": "dns", "value": "Example.org"}, "rejectedIdentifier"),
        ({"type": "dns", "value": "a..example.org"}, "rejectedIdentifier"),
        ({"type": "dns", "value": "www.*.example.org"}, "rejectedIdentifier"),
        ({"type": "ip", "value": "::0:1"}, "malformed"),
        ({"type": "ip", "value": "300.1.1.1"}, "malformed"),
        ({"value": "example.org"}, "unsupportedIdentifier"),
    ],
)
def test_bad_identifiers(client: RawClient, identifier: dict[str, str], code: str) -> None:
    response = client.post(client.directory["newOrder"], {"identifiers": [identifier]})
    problem(response, 400, code)


def test_challenge_answer_validates_with_key_authorization(core: ACMEServerCore) -> None:
    seen: list[tuple[Any, ...]] = []

    def validator(*args: Any) -> messages.Error | None:
        seen.append(args)
        return None

    core.validator = validator
    client = new_client(core)
    order = new_order(client, "example.org").json()
    authz_url = order["authorizations"][0]
    chall = next(c for c in client.post(authz_url).json()["challenges"] if c["type"] == "http-01")
    answered = client.post(chall["url"], {})
    assert answered.status_code == 200
    assert answered.json()["status"] == "valid"
    assert answered.links["up"] == [authz_url]
    ctype, identifier, token, key_auth, key = seen[0]
    thumbprint = b64.b64encode(client.key.thumbprint()).decode()
    assert (ctype, identifier.value, str(identifier.typ)) == ("http-01", "example.org", "dns")
    assert (token, key_auth) == (chall["token"], f"{chall['token']}.{thumbprint}")
    assert key.thumbprint() == client.key.thumbprint()
    authz = client.post(authz_url).json()
    assert authz["status"] == "valid"
    assert authz["challenges"][0]["validated"] == "2030-01-01T00:00:00Z"
    assert client.post(order["finalize"].rsplit("/", 1)[0]).json()["status"] == "ready"


def test_timestamps_are_written_as_the_client_reads_them(clock: Clock, client: RawClient) -> None:
    """The test CA writes RFC 3339 with acme.fields (sub-second digits kept, ``Z``): what it
    sends parses back to the exact instant its clock gave."""
    clock.advance(microseconds=250_000)
    order = new_order(client, "example.org").json()
    authz = client.post(order["authorizations"][0]).json()
    for stamp in (order["expires"], authz["expires"]):
        assert stamp.endswith(".25Z")
        assert fields.format_rfc3339(fields.parse_rfc3339(stamp)) == stamp
        assert fields.parse_rfc3339(stamp) > clock.now


def test_failed_validation_invalidates_challenge_authz_and_order(core: ACMEServerCore) -> None:
    core.validator = lambda *args: messages.Error.with_code("incorrectResponse", detail="nope")
    client = new_client(core)
    order_url = new_order(client, "example.org").headers["Location"]
    authz_url = client.post(order_url).json()["authorizations"][0]
    chall = client.post(authz_url).json()["challenges"][0]
    answered = client.post(chall["url"], {}).json()
    assert answered["status"] == "invalid"
    assert answered["error"]["type"] == messages.ERROR_PREFIX + "incorrectResponse"
    assert client.post(authz_url).json()["status"] == "invalid"
    assert client.post(order_url).json()["status"] == "invalid"
    problem(client.post(chall["url"], {}), 400, "malformed")  # a failed challenge stays failed


def test_validation_delayed_by_polls(core: ACMEServerCore) -> None:
    core.validation_delay_polls = 2
    core.poll_retry_after = 3
    client = new_client(core)
    order = new_order(client, "example.org").json()
    authz_url = order["authorizations"][0]
    chall = client.post(authz_url).json()["challenges"][0]
    answered = client.post(chall["url"], {})
    assert answered.json()["status"] == "processing"
    assert answered.headers["Retry-After"] == "3"
    first = client.post(authz_url).json()
    assert first["status"] == "pending"
    assert first["challenges"][0]["status"] == "processing"
    assert client.post(authz_url).json()["status"] == "valid"


def test_validator_exception_is_recorded_not_raised(core: ACMEServerCore) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("validator bug")

    core.validator = broken
    client = new_client(core)
    authz_url = new_order(client, "example.org").json()["authorizations"][0]
    chall = client.post(authz_url).json()["challenges"][0]
    answered = client.post(chall["url"], {}).json()
    assert answered["error"]["type"] == messages.ERROR_PREFIX + "serverInternal"
    assert [str(e) for e in core.internal_errors] == ["validator bug"]


def test_valid_authorizations_are_reused(client: RawClient) -> None:
    first = new_order(client, "example.org").json()
    answer_all(client, first)
    second = new_order(client, "example.org").json()
    assert second["authorizations"] == first["authorizations"]
    assert second["status"] == "ready"


def test_deactivating_an_authorization_invalidates_its_order(client: RawClient) -> None:
    order_url = new_order(client, "example.org").headers["Location"]
    authz_url = client.post(order_url).json()["authorizations"][0]
    done = client.post(authz_url, {"status": "deactivated"})
    assert done.status_code == 200
    assert done.json()["status"] == "deactivated"
    problem(client.post(authz_url, {"status": "deactivated"}), 400, "malformed")
    assert client.post(order_url).json()["status"] == "invalid"


def test_orders_and_authorizations_expire(client: RawClient, clock: Clock) -> None:
    order_url = new_order(client, "example.org").headers["Location"]
    authz_url = client.post(order_url).json()["authorizations"][0]
    clock.advance(days=8)
    assert client.post(authz_url).json()["status"] == "expired"
    assert client.post(order_url).json()["status"] == "invalid"


def test_new_authz_pre_authorization(core: ACMEServerCore, client: RawClient) -> None:
    url = client.directory["newAuthz"]
    created = client.post(url, {"identifier": {"type": "dns", "value": "example.org"}})
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert client.post(created.headers["Location"]).json() == created.json()
    wildcard = client.post(url, {"identifier": {"type": "dns", "value": "*.example.org"}})
    problem(wildcard, 400, "rejectedIdentifier")
    no_preauth = ACMEServerCore(BASE, pre_authorization=False)
    assert "newAuthz" not in no_preauth.handle(HTTPRequest("GET", no_preauth.directory_url)).json()


def test_orders_list_is_paginated(core: ACMEServerCore, client: RawClient) -> None:
    core.orders_page_size = 2
    made = [new_order(client, f"host{n}.example.org").headers["Location"] for n in range(5)]
    assert client.account_url is not None
    url: str | None = client.account_url + "/orders"
    listed: list[str] = []
    pages = 0
    while url is not None and pages < 10:
        page = client.post(url)
        listed += page.json()["orders"]
        url = page.links.get("next", [None])[0]
        pages += 1
    assert listed == made
    assert pages == 3
    problem(new_client(core).post(client.account_url + "/orders"), 403, "unauthorized")


# -- finalize, certificates, revocation, renewal information --------------------------------


def test_issued_chain_verifies_to_the_root(core: ACMEServerCore, client: RawClient) -> None:
    _order, chain_pem, cert_key = issue(client, "example.org", "*.example.org", "127.0.0.1")
    leaf, intermediate = x509.load_pem_x509_certificates(chain_pem.encode())
    root = x509.load_pem_x509_certificate(core.ca.root_pem.encode())
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"example.org", "*.example.org"}
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert leaf.public_key() == cert_key.public_key()
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=90)


def test_shortlived_profile_sets_the_lifetime(client: RawClient) -> None:
    order, chain_pem, _ = issue(client, "example.org", profile="shortlived")
    assert order["profile"] == "shortlived"
    leaf = x509.load_pem_x509_certificate(chain_pem.encode())
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=6)


def test_alternate_chains_are_linked() -> None:
    core = ACMEServerCore(BASE, alternate_chains=1)
    client = new_client(core)
    order, chain_pem, _ = issue(client, "example.org")
    response = client.post(order["certificate"])
    (alternate_url,) = response.links["alternate"]
    alternate = client.post(alternate_url)
    assert alternate.links["alternate"] == [order["certificate"]]
    leaf, cross = x509.load_pem_x509_certificates(alternate.content)
    assert leaf == x509.load_pem_x509_certificate(chain_pem.encode())
    alt_root = x509.load_pem_x509_certificate(core.ca.root_pems[1].encode())
    leaf.verify_directly_issued_by(cross)
    cross.verify_directly_issued_by(alt_root)
    with pytest.raises(ValueError):  # negative control: not from the main root
        cross.verify_directly_issued_by(core.ca.root)


def test_finalize_rejects_then_accepts_a_fixed_csr(client: RawClient) -> None:
    order_url = new_order(client, "example.org", "www.example.org").headers["Location"]
    order = client.post(order_url).json()
    key = ec.generate_private_key(ec.SECP256R1())
    early = client.post(order["finalize"], {"csr": csr_b64(key, ["example.org"])})
    problem(early, 403, "orderNotReady")
    answer_all(client, order)
    mismatch = client.post(order["finalize"], {"csr": csr_b64(key, ["example.org"])})
    assert "www.example.org" in problem(mismatch, 400, "badCSR")["detail"]
    extra_cn = csr_b64(key, ["example.org", "www.example.org"], common_name="evil.example")
    problem(client.post(order["finalize"], {"csr": extra_cn}), 400, "badCSR")
    assert client.post(order_url).json()["status"] == "ready"  # badCSR leaves it ready
    good = csr_b64(key, ["www.example.org", "example.org"], common_name="example.org")
    assert client.post(order["finalize"], {"csr": good}).json()["status"] == "valid"


def test_finalize_refuses_the_account_key_and_bad_signatures(client: RawClient) -> None:
    order = new_order(client, "example.org").json()
    answer_all(client, order)
    same_key = csr_b64(client.key.key._wrapped, ["example.org"])
    assert (
        "account key"
        in problem(client.post(order["finalize"], {"csr": same_key}), 400, "badCSR")["detail"]
    )
    der = bytearray(
        b64.b64decode(csr_b64(ec.generate_private_key(ec.SECP256R1()), ["example.org"]))
    )
    der[-5] ^= 0x01  # flip a bit of the signature
    tampered = b64.b64encode(bytes(der)).decode()
    problem(client.post(order["finalize"], {"csr": tampered}), 400, "badCSR")


def test_processing_orders_wait_for_polls(core: ACMEServerCore, client: RawClient) -> None:
    core.processing_polls = 2
    response = new_order(client, "example.org")
    order_url, order = response.headers["Location"], response.json()
    answer_all(client, order)
    key = ec.generate_private_key(ec.SECP256R1())
    finalized = client.post(order["finalize"], {"csr": csr_b64(key, ["example.org"])}).json()
    assert finalized["status"] == "processing"
    assert "certificate" not in finalized
    assert client.post(order_url).json()["status"] == "processing"
    done = client.post(order_url).json()
    assert done["status"] == "valid"
    assert done["certificate"].startswith(BASE + "/cert/")


@pytest.mark.parametrize("code", [*REVOCATION_REASONS.values(), 2, 6, 8, 9, 10])
def test_revocation_reasons_are_the_ones_subscribers_may_give(client: RawClient, code: int) -> None:
    """The test CA accepts exactly the reasons the client and the CLI offer (one table);
    the RFC 5280 codes only a CA uses are badRevocationReason (RFC 8555 section 7.6)."""
    _, chain_pem, _ = issue(client, "example.org")
    leaf = x509.load_pem_x509_certificate(chain_pem.encode())
    der = b64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()
    answer = client.post(client.directory["revokeCert"], {"certificate": der, "reason": code})
    if code in REVOCATION_REASONS.values():
        assert answer.status_code == 200, answer.text
    else:
        problem(answer, 400, "badRevocationReason")


def test_revocation_by_account_and_by_certificate_key(
    core: ACMEServerCore, client: RawClient
) -> None:
    url = client.directory["revokeCert"]
    _, chain_pem, _cert_key = issue(client, "example.org")
    leaf = x509.load_pem_x509_certificate(chain_pem.encode())
    der = b64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()
    stranger = new_client(core)
    problem(stranger.post(url, {"certificate": der}), 403, "unauthorized")
    problem(client.post(url, {"certificate": der, "reason": 6}), 400, "badRevocationReason")
    assert client.post(url, {"certificate": der, "reason": 4}).status_code == 200
    assert core.is_revoked(leaf)
    problem(client.post(url, {"certificate": der}), 400, "alreadyRevoked")
    _, chain2, key2 = issue(client, "example.net")
    leaf2 = x509.load_pem_x509_certificate(chain2.encode())
    der2 = b64.b64encode(leaf2.public_bytes(serialization.Encoding.DER)).decode()
    wrong_key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    problem(
        client.post(url, {"certificate": der2}, key=wrong_key, use_jwk=True), 403, "unauthorized"
    )
    by_cert_key = client.post(url, {"certificate": der2}, key=jwk.JWKEC(key=key2), use_jwk=True)
    assert by_cert_key.status_code == 200
    assert core.is_revoked(leaf2)


def test_revocation_by_an_account_holding_every_authorization(core: ACMEServerCore) -> None:
    owner, other = new_client(core), new_client(core)
    _, chain_pem, _ = issue(owner, "example.org")
    answer_all(other, new_order(other, "example.org").json())  # other proves control too
    der = b64.b64encode(
        x509.load_pem_x509_certificate(chain_pem.encode()).public_bytes(serialization.Encoding.DER)
    ).decode()
    assert other.post(other.directory["revokeCert"], {"certificate": der}).status_code == 200


def test_renewal_info_window_and_retry_after(core: ACMEServerCore, client: RawClient) -> None:
    _, chain_pem, _ = issue(client, "example.org")
    ari_id = certificate_identifier(chain_pem.encode())
    url = f"{client.directory['renewalInfo']}/{ari_id}"
    response = core.handle(HTTPRequest("GET", url))
    assert response.status_code == 200
    assert response.headers["Retry-After"] == "21600"
    window = messages.RenewalInfo.from_json(response.json()).suggested_window
    leaf = x509.load_pem_x509_certificate(chain_pem.encode())
    assert leaf.not_valid_before_utc < window.start < window.end < leaf.not_valid_after_utc
    start = datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)
    core.set_renewal_window(leaf, start, start + datetime.timedelta(hours=1))
    assert (
        core.handle(HTTPRequest("GET", url)).json()["suggestedWindow"]["start"]
        == "2031-01-01T00:00:00Z"
    )
    problem(core.handle(HTTPRequest("GET", url + "A")), 404, "malformed")
    problem(core.handle(HTTPRequest("GET", BASE + "/renewal-info/nodot")), 400, "malformed")
    problem(core.handle(HTTPRequest("POST", url)), 405, "malformed")


def test_revoked_certificate_renewal_window_is_in_the_past(
    core: ACMEServerCore, client: RawClient, clock: Clock
) -> None:
    _, chain_pem, _ = issue(client, "example.org")
    der = b64.b64encode(
        x509.load_pem_x509_certificate(chain_pem.encode()).public_bytes(serialization.Encoding.DER)
    ).decode()
    client.post(client.directory["revokeCert"], {"certificate": der})
    url = f"{client.directory['renewalInfo']}/{certificate_identifier(chain_pem.encode())}"
    window = messages.RenewalInfo.from_json(core.handle(HTTPRequest("GET", url)).json())
    assert window.suggested_window.end <= clock.now


def test_replaces_marks_the_predecessor(core: ACMEServerCore, client: RawClient) -> None:
    _, chain_pem, _ = issue(client, "example.org")
    ari_id = certificate_identifier(chain_pem.encode())
    first = new_order(client, "example.org", replaces=ari_id)
    assert first.status_code == 201
    assert first.json()["replaces"] == ari_id
    problem(new_order(client, "example.org", replaces=ari_id), 409, "alreadyReplaced")
    problem(new_order(new_client(core), "example.org", replaces=ari_id), 403, "unauthorized")
    problem(new_order(client, "example.net", replaces=ari_id), 400, "malformed")
    problem(new_order(client, "example.org", replaces="AAAA.AAAA"), 400, "malformed")


def test_profiles_unknown_and_none_offered(client: RawClient) -> None:
    problem(new_order(client, "example.org", profile="tlsclient"), 400, "invalidProfile")
    plain = ACMEServerCore(BASE, profiles={})
    other = new_client(plain)
    assert "profiles" not in other.directory["meta"]
    assert "profile" not in new_order(other, "example.org").json()


# -- faults ---------------------------------------------------------------------------------


def test_injected_bad_nonce_and_errors(core: ACMEServerCore, client: RawClient) -> None:
    core.faults = Faults(bad_nonce_rate=1.0, resources=frozenset({"newOrder"}))
    refused = new_order(client, "example.org")
    problem(refused, 400, "badNonce")
    assert core.orders == {}  # refused before taking effect
    assert client.post(client.account_url or "").status_code == 200  # other resources fine
    core.faults = Faults(error_rate=1.0, error_status=429, retry_after=7)
    limited = core.handle(HTTPRequest("GET", core.directory_url))
    problem(limited, 429, "rateLimited")
    assert limited.headers["Retry-After"] == "7"
    core.faults = Faults(error_rate=1.0, error_status=503, retry_after=None)
    down = core.handle(HTTPRequest("GET", core.directory_url))
    problem(down, 503, "serverInternal")
    assert "Retry-After" not in down.headers
    core.faults = Faults()
    assert core.handle(HTTPRequest("GET", core.directory_url)).status_code == 200


def test_fault_shares_are_reproducible() -> None:
    def pattern(seed: int) -> list[int]:
        core = ACMEServerCore(BASE, faults=Faults(seed=seed, error_rate=0.5))
        return [core.handle(HTTPRequest("GET", core.directory_url)).status_code for _ in range(40)]

    first = pattern(3)
    assert first == pattern(3)
    assert 5 < first.count(503) < 35  # a share, not all or nothing
    assert first != pattern(4)
    with pytest.raises(errors.InvalidArgument, match="between 0 and 1"):
        Faults(error_rate=1.5)
