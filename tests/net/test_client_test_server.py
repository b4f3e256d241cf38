"""The sync client against our own test CA (acme.testing) for what Pebble 2.4 lacks:
profiles, RFC 9773 renewal information and ``replaces``, pre-authorization, orders pagination,
and a server that rejects nonces and answers slowly."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.testing import ACMETestServer, Faults

UTC = datetime.timezone.utc


def _client(server: ACMETestServer) -> client.ClientV2:
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(key, verify_ssl=server.ca_bundle_path)
    acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    return acme


def _csr(names: list[str]) -> bytes:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return crypto_util.make_csr(pem, names)


def _issue(acme: client.ClientV2, names: list[str], **order: Any) -> messages.OrderResource:
    key = acme.net.key
    assert key is not None
    orderr = acme.new_order(_csr(names), **order)
    for authzr in orderr.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue
        challb = next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))
        acme.answer_challenge(challb, challb.response(key))
    return acme.poll_and_finalize(
        orderr, datetime.datetime.now(UTC) + datetime.timedelta(seconds=30)
    )


def _leaf(orderr: messages.OrderResource) -> x509.Certificate:
    return x509.load_pem_x509_certificates((orderr.fullchain_pem or "").encode())[0]


def test_profiles_are_advertised_and_honoured(acme_test_server: ACMETestServer) -> None:
    acme = _client(acme_test_server)
    meta = acme.directory.meta
    assert meta is not None
    assert set(meta.profiles) >= {"classic", "shortlived"}
    short = _issue(acme, ["short.test"], profile="shortlived")
    assert short.body.profile == "shortlived"
    leaf = _leaf(short)
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=7)
    classic = _leaf(_issue(acme, ["classic.test"]))
    assert classic.not_valid_after_utc - classic.not_valid_before_utc > lifetime
    with pytest.raises(messages.Error) as refused:
        acme.new_order(_csr(["nope.test"]), profile="no-such-profile")
    assert refused.value.code == "invalidProfile"


def test_renewal_info_and_renewal_time(acme_test_server: ACMETestServer) -> None:
    acme = _client(acme_test_server)
    leaf = _leaf(_issue(acme, ["ari.test"]))
    start = datetime.datetime(2027, 1, 10, tzinfo=UTC)
    end = datetime.datetime(2027, 1, 12, tzinfo=UTC)
    acme_test_server.core.set_renewal_window(leaf, start, end)

    info, ask_again = acme.renewal_info(leaf)
    assert (info.suggested_window.start, info.suggested_window.end) == (start, end)
    assert ask_again.tzinfo is not None
    assert ask_again - datetime.datetime.now(UTC) == pytest.approx(
        datetime.timedelta(hours=6), abs=datetime.timedelta(minutes=1)
    )

    when, retry = acme.renewal_time(leaf.public_bytes(serialization.Encoding.PEM))
    assert when is not None
    assert start <= when <= end  # aware, inside the window
    assert retry.tzinfo is None  # naive local time, as certbot expects


def test_replaces_links_the_renewal_to_the_old_certificate(
    acme_test_server: ACMETestServer,
) -> None:
    acme = _client(acme_test_server)
    old = _leaf(_issue(acme, ["renew.test"]))
    renewed = _issue(acme, ["renew.test"], replaces=old)
    from acme._wire import renewal_id as _ari

    assert renewed.body.replaces == _ari.certificate_identifier(old)
    with pytest.raises(errors.ConflictError) as again:  # RFC 9773 alreadyReplaced is a 409
        acme.new_order(_csr(["renew.test"]), replaces=old)
    assert again.value.error is not None
    assert again.value.error.code == "alreadyReplaced"
    assert "alreadyReplaced" in str(again.value)


@pytest.mark.parametrize("form", ["pem-text", "identifier"])
def test_replaces_as_a_string(acme_test_server: ACMETestServer, form: str) -> None:
    """A string is PEM text when it looks like PEM, otherwise an RFC 9773 identifier."""
    from acme._wire import renewal_id as _ari

    acme = _client(acme_test_server)
    old = _leaf(_issue(acme, [f"{form}.test"]))
    as_string = (
        old.public_bytes(serialization.Encoding.PEM).decode()
        if form == "pem-text"
        else _ari.certificate_identifier(old)
    )
    renewed = acme.new_order(_csr([f"{form}.test"]), replaces=as_string)
    assert renewed.body.replaces == _ari.certificate_identifier(old)


def test_pre_authorization(acme_test_server: ACMETestServer) -> None:
    acme = _client(acme_test_server)
    key = acme.net.key
    assert key is not None
    ident = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="pre.test")
    authzr = acme.new_authorization(ident)
    assert authzr.body.status == messages.STATUS_PENDING
    challb = next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))
    acme.answer_challenge(challb, challb.response(key))
    polled, _ = acme.poll(authzr)
    assert polled.body.status == messages.STATUS_VALID
    # A later order for the name reuses the valid authorization: nothing left to answer.
    orderr = acme.new_order(_csr(["pre.test"]))
    assert [a.body.status for a in orderr.authorizations] == [messages.STATUS_VALID]


def test_orders_list_across_pages(acme_test_server_factory: Callable[..., ACMETestServer]) -> None:
    server = acme_test_server_factory(always_valid=True, orders_page_size=4)
    acme = _client(server)
    created = [acme.new_order(_csr([f"o{i}.test"])).uri for i in range(11)]
    listed = list(acme.orders())
    assert sorted(listed) == sorted(created)


def test_issuance_survives_rejected_nonces_and_slow_processing(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> None:
    server = acme_test_server_factory(
        always_valid=True,
        faults=Faults(seed=3, bad_nonce_rate=0.3),
        validation_delay_polls=2,
        processing_polls=2,
        poll_retry_after=1,
    )
    acme = _client(server)
    sleeps: list[float] = []
    acme.sleep = sleeps.append  # honour Retry-After without really waiting
    orderr = _issue(acme, ["patient.test"])
    assert orderr.body.status == messages.STATUS_VALID
    # Authorization: a fast first look, then exactly the Retry-After the server asked for;
    # the order: the finalize response's Retry-After from the start.
    # (the challenge POST counts as one of the server's delaying polls)
    assert sleeps[0] == pytest.approx(0.005, rel=0.15)  # backoff step with jitter
    assert sleeps[1:] == pytest.approx([1.0] * (len(sleeps) - 1))
    assert len(sleeps) >= 3


def test_revocation_is_recorded(acme_test_server: ACMETestServer) -> None:
    acme = _client(acme_test_server)
    leaf = _leaf(_issue(acme, ["revoked.test"]))
    assert not acme_test_server.core.is_revoked(leaf)
    acme.revoke(leaf, 4)
    assert acme_test_server.core.is_revoked(leaf)


def test_issuance_rides_out_a_busy_server(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> None:
    """Half the polls answered 503 + Retry-After by the test CA: the issuance still succeeds
    (the faults start once the order exists: only polls are retried, not single fetches)."""
    server = acme_test_server_factory(always_valid=True, validation_delay_polls=1)
    acme = _client(server)
    key = acme.net.key
    assert key is not None
    orderr = acme.new_order(_csr(["busy.test"]))
    for authzr in orderr.authorizations:
        challb = next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))
        acme.answer_challenge(challb, challb.response(key))
    server.core.faults = Faults(
        seed=5, error_rate=0.5, error_status=503, retry_after=1, resources={"authz", "order"}
    )
    server.core.processing_polls = 1
    waits: list[float] = []
    acme.sleep = waits.append  # honour Retry-After without really waiting
    done = acme.poll_and_finalize(
        orderr, datetime.datetime.now(UTC) + datetime.timedelta(seconds=30)
    )
    assert done.body.status == messages.STATUS_VALID
    assert any(abs(w - 1.0) < 0.05 for w in waits)  # it met and waited out a busy answer


def _legacy_client(server: ACMETestServer) -> client.BackwardsCompatibleClientV2:
    # RSA: a network made without a key signs with RS256 (acme 1.x and 5.x alike).
    key = jwk.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    net = client.ClientNetwork(verify_ssl=server.ca_bundle_path)
    with pytest.warns(DeprecationWarning, match="BackwardsCompatibleClientV2"):
        return client.BackwardsCompatibleClientV2(net, key, server.directory_url)


def test_new_account_and_tos_checks_and_agrees_to_the_terms(
    acme_test_server: ACMETestServer,
) -> None:
    # acme 1.x: new_account_and_tos(regr, check_tos_cb=None); the callback sees the ToS URL
    # and raises to refuse it; otherwise the account is made with the terms agreed.
    terms = acme_test_server.core.terms_of_service
    assert terms
    acme = _legacy_client(acme_test_server)
    assert acme.acme_version == 2
    registration = messages.NewRegistration.from_data(email="ops@example.com")
    with pytest.raises(messages.Error, match="terms of service"):
        acme.new_account(registration)  # the server insists on agreement (control)

    seen: list[str] = []

    def refuse(url: str) -> None:
        seen.append(url)
        raise errors.Error("terms refused")

    with pytest.raises(errors.Error, match="terms refused"):
        acme.new_account_and_tos(registration, refuse)
    assert seen == [terms]
    assert acme.net.account is None  # nothing was registered

    regr = acme.new_account_and_tos(registration, check_tos_cb=seen.append)
    assert seen == [terms, terms]
    assert regr.uri
    assert regr.body.emails == ("ops@example.com",)
    assert acme.net.account == regr
    # Without a callback the terms are agreed to as they are.
    assert _legacy_client(acme_test_server).new_account_and_tos(registration).uri


def test_new_account_and_tos_without_terms_calls_nothing(
    acme_test_server_factory: Callable[..., ACMETestServer],
) -> None:
    server = acme_test_server_factory(always_valid=True, terms_of_service=None)
    seen: list[str] = []
    regr = _legacy_client(server).new_account_and_tos(
        messages.NewRegistration.from_data(email="ops@example.com"), seen.append
    )
    assert regr.uri
    assert seen == []
