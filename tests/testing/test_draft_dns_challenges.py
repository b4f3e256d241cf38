"""End to end: certificates issued with dns-account-01 and dns-persist-01 from acme.testing.

The test CA validates for real: it reads the TXT records the test publishes in its record
store (`ACMETestServer.add_txt`), computes the names and values the drafts define, and
refuses what does not match. The always-valid fixture server offers the challenges too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.testing import ACMETestServer

UTC = datetime.timezone.utc
Factory = Callable[..., ACMETestServer]


def _key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def _client(server: ACMETestServer) -> client.ClientV2:
    net = client.ClientNetwork(_key(), verify_ssl=server.ca_bundle_path)
    acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    return acme


def _account_url(acme: client.ClientV2) -> str:
    assert acme.net.account is not None
    return str(acme.net.account.uri)


def _csr(names: list[str]) -> bytes:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return crypto_util.make_csr(pem, names)


def _sans(orderr: messages.OrderResource) -> set[str]:
    leaf = x509.load_pem_x509_certificates((orderr.fullchain_pem or "").encode())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName))


def _deadline() -> datetime.datetime:
    return datetime.datetime.now(UTC) + datetime.timedelta(seconds=30)


C = TypeVar("C", bound=challenges.Challenge)


def _typed(challb: messages.ChallengeBody, kind: type[C]) -> C:
    chall = challb.chall
    assert isinstance(chall, kind)
    return chall


def _challenge(authzr: messages.AuthorizationResource, kind: type[Any]) -> messages.ChallengeBody:
    return next(c for c in authzr.body.challenges if isinstance(c.chall, kind))


def _problem(failure: errors.ValidationError) -> messages.Error:
    """The error of the one challenge that failed."""
    (problem,) = [c.error for c in failure.failed_authzrs[0].body.challenges if c.error]
    assert isinstance(problem, messages.Error)
    return problem


def _persist_meta(acme: client.ClientV2) -> tuple[str, list[str]]:
    meta = acme.directory.meta.to_partial_json()
    return meta["accountHashPrefix"], meta["issuerDomainNames"]


# -- dns-account-01 --------------------------------------------------------------------------


def test_dns_account01_issues_a_wildcard(acme_test_server_factory: Factory) -> None:
    server = acme_test_server_factory()
    acme = _client(server)
    key = acme.net.key
    assert key is not None
    orderr = acme.new_order(_csr(["*.acct.test", "acct.test"]))
    published = []
    for authzr in orderr.authorizations:
        challb = _challenge(authzr, challenges.DNSAccount01)
        chall = _typed(challb, challenges.DNSAccount01)
        name = chall.validation_domain_name(authzr.body.identifier.value, _account_url(acme))
        server.add_txt(name, chall.validation(key))
        published.append(name)
        acme.answer_challenge(challb, challb.response(key))
    # Both authorizations (wildcard and base name) use the one account-labelled name.
    label = challenges.DNSAccount01.account_label(_account_url(acme))
    assert published == [f"{label}._acme-challenge.acct.test"] * 2
    done = acme.poll_and_finalize(orderr, _deadline())
    assert _sans(done) == {"*.acct.test", "acct.test"}
    assert server.core.internal_errors == []


def test_dns_account01_needs_the_account_label(acme_test_server_factory: Factory) -> None:
    server = acme_test_server_factory()
    acme = _client(server)
    key = acme.net.key
    assert key is not None
    orderr = acme.new_order(_csr(["wrong.test"]))
    authzr = orderr.authorizations[0]
    challb = _challenge(authzr, challenges.DNSAccount01)
    # The dns-01 name, not the account-labelled one: the CA must not accept it.
    server.add_txt(
        "_acme-challenge.wrong.test", _typed(challb, challenges.DNSAccount01).validation(key)
    )
    acme.answer_challenge(challb, challb.response(key))
    with pytest.raises(errors.ValidationError) as failed:
        acme.poll_and_finalize(orderr, _deadline())
    problem = _problem(failed.value)
    assert problem.code == "dns"
    assert _account_url(acme) in (problem.detail or "")  # draft section 3.4


# -- dns-persist-01 --------------------------------------------------------------------------


def test_directory_advertises_dns_persist_metadata(acme_test_server: ACMETestServer) -> None:
    acme = _client(acme_test_server)
    prefix, names = _persist_meta(acme)
    assert prefix == acme_test_server.base_url + "/account-hash/"
    assert names == ["acme-testing.invalid"]
    orderr = acme.new_order(_csr(["meta.test"]))
    chall = _typed(
        _challenge(orderr.authorizations[0], challenges.DNSPersist01), challenges.DNSPersist01
    )
    assert chall.issuer_domain_names == ("acme-testing.invalid",)
    chall.check_directory(acme.directory.meta.to_partial_json())


def test_dns_persist01_record_built_once_serves_many_orders(
    acme_test_server_factory: Factory,
) -> None:
    server = acme_test_server_factory(reuse_authorizations=False)
    acme = _client(server)
    key = acme.net.key
    assert key is not None
    prefix, issuers = _persist_meta(acme)
    # Pre-provisioned before any order (draft section 4.5), from directory data only.
    template = challenges.DNSPersist01(issuer_domain_names=tuple(issuers))
    record = template.record(
        key,
        account_url=_account_url(acme),
        account_hash_prefix=prefix,
        domain="persist.test",
        wildcard=True,
    )
    server.add_txt(template.validation_domain_name("persist.test"), record.to_text())
    store_before = server.dns.txt("_validation-persist.persist.test")
    for names in (["persist.test", "*.persist.test"], ["persist.test"]):
        orderr = acme.new_order(_csr(names))
        for authzr in orderr.authorizations:
            challb = _challenge(authzr, challenges.DNSPersist01)
            chall = _typed(challb, challenges.DNSPersist01)
            # Read-only check before answering: the published record is the right one.
            found = chall.find_record(
                server.dns.txt(chall.validation_domain_name(authzr.body.identifier.value)),
                account_url=_account_url(acme),
                account_keys=[key],
                account_hash_prefix=prefix,
                domain=authzr.body.identifier.value,
                wildcard=bool(authzr.body.wildcard),
            )
            assert found == record
            acme.answer_challenge(challb, challb.response(key))
        assert _sans(acme.poll_and_finalize(orderr, _deadline())) == set(names)
    assert server.dns.txt("_validation-persist.persist.test") == store_before  # untouched


def test_dns_persist01_persist_until_caps_the_authorization(
    acme_test_server_factory: Factory,
) -> None:
    server = acme_test_server_factory()
    acme = _client(server)
    key = acme.net.key
    assert key is not None
    prefix, _ = _persist_meta(acme)
    until = (datetime.datetime.now(UTC) + datetime.timedelta(days=2)).replace(microsecond=0)
    orderr = acme.new_order(_csr(["until.test"]))
    challb = _challenge(orderr.authorizations[0], challenges.DNSPersist01)
    text = _typed(challb, challenges.DNSPersist01).validation(
        key,
        account_url=_account_url(acme),
        account_hash_prefix=prefix,
        domain="until.test",
        persist_until=until,
    )
    server.add_txt("_validation-persist.until.test", text)
    acme.answer_challenge(challb, challb.response(key))
    done = acme.poll_and_finalize(orderr, _deadline())
    assert done.authorizations[0].body.expires == until  # draft section 4.1 item 5


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda text: text.replace("acme-testing.invalid", "other-ca.example"), "unauthorized"),
        (lambda text: text[:-3] + "AAA", "unauthorized"),
        (lambda text: text + "; persistUntil=1721952000", "unauthorized"),
        (lambda text: text + "; persistUntil=soon", "malformed"),
        (lambda text: text.replace("; policy=wildcard", ""), "unauthorized"),
    ],
    ids=["other-issuer", "other-account-hash", "expired", "bad-timestamp", "no-wildcard-policy"],
)
def test_dns_persist01_refusals(
    acme_test_server_factory: Factory, mutate: Callable[[str], str], code: str
) -> None:
    server = acme_test_server_factory()
    acme = _client(server)
    key = acme.net.key
    assert key is not None
    prefix, _ = _persist_meta(acme)
    orderr = acme.new_order(_csr(["*.refuse.test"]))
    challb = _challenge(orderr.authorizations[0], challenges.DNSPersist01)
    good = _typed(challb, challenges.DNSPersist01).validation(
        key,
        account_url=_account_url(acme),
        account_hash_prefix=prefix,
        domain="refuse.test",
        wildcard=True,
    )
    server.add_txt("_validation-persist.refuse.test", mutate(good))
    acme.answer_challenge(challb, challb.response(key))
    with pytest.raises(errors.ValidationError) as failed:
        acme.poll_and_finalize(orderr, _deadline())
    problem = _problem(failed.value)
    assert problem.code == code


def test_dns_persist01_survives_key_rollover_until_republished(
    acme_test_server_factory: Factory,
) -> None:
    server = acme_test_server_factory(reuse_authorizations=False)
    acme = _client(server)
    old_key = acme.net.key
    assert old_key is not None
    prefix, issuers = _persist_meta(acme)
    template = challenges.DNSPersist01(issuer_domain_names=tuple(issuers))
    common: dict[str, Any] = {
        "account_url": _account_url(acme),
        "account_hash_prefix": prefix,
        "domain": "roll.test",
    }
    name = template.validation_domain_name("roll.test")
    server.add_txt(name, template.validation(old_key, **common))
    new_key = _key()
    acme.change_key(new_key)

    def issue() -> set[str]:
        orderr = acme.new_order(_csr(["roll.test"]))
        challb = _challenge(orderr.authorizations[0], challenges.DNSPersist01)
        acme.answer_challenge(challb, challb.response(new_key))
        return _sans(acme.poll_and_finalize(orderr, _deadline()))

    # The CA retains the old key's thumbprint (draft section 4.2): the old record works.
    assert issue() == {"roll.test"}
    # Republish with the new key (section 7.2.1), remove the old value: still issues.
    republished = template.validation(new_key, **common)
    assert republished != template.validation(old_key, **common)
    server.remove_txt(name)
    server.add_txt(name, republished)
    assert issue() == {"roll.test"}


def test_fixture_server_accepts_the_new_challenges(acme_test_server: ACMETestServer) -> None:
    acme = _client(acme_test_server)
    key = acme.net.key
    assert key is not None
    for kind in (challenges.DNSAccount01, challenges.DNSPersist01):
        orderr = acme.new_order(_csr([f"{kind.typ}.always.test"]))
        challb = _challenge(orderr.authorizations[0], kind)
        acme.answer_challenge(challb, challb.response(key))
        assert _sans(acme.poll_and_finalize(orderr, _deadline())) == {f"{kind.typ}.always.test"}
