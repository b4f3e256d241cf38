"""The sync client against a real ACME server: Pebble on loopback, validating for real.

Challenges are answered through pebble-challtestsrv's management API (http-01, dns-01,
tls-alpn-01), so Pebble's VA performs genuine HTTP, DNS and TLS validation.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from interop.pebble_harness import PebbleInstance, require_binaries, start_pebble

pytestmark = pytest.mark.pebble

DEADLINE = datetime.timedelta(seconds=60)


@pytest.fixture(scope="module")
def pebble_ct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    """Pebble whose VA validates against challtestsrv's responders."""
    require_binaries()
    with start_pebble(
        tmp_path_factory.mktemp("pebble-ct"), challenge_responder="challtestsrv"
    ) as instance:
        yield instance


def _account_key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def _client(peb: PebbleInstance, key: jwk.JWK | None = None) -> client.ClientV2:
    net = client.ClientNetwork(key or _account_key(), verify_ssl=peb.ca_bundle)
    return client.ClientV2(client.ClientV2.get_directory(peb.directory_url, net), net)


def _register(acme: client.ClientV2, **extra: Any) -> messages.RegistrationResource:
    reg = messages.NewRegistration.from_data(
        email="admin@example.com", terms_of_service_agreed=True, **extra
    )
    return acme.new_account(reg)


def _csr(names: list[str], ips: list[str] | None = None) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    addresses = [ipaddress.ip_address(ip) for ip in ips or []]
    return pem, crypto_util.make_csr(pem, names or None, ipaddrs=addresses or None)


def _answer(
    peb: PebbleInstance, acme: client.ClientV2, orderr: messages.OrderResource, kind: type
) -> None:
    account_key = acme.net.key
    assert account_key is not None
    for authzr in orderr.authorizations:
        challb = next(c for c in authzr.body.challenges if isinstance(c.chall, kind))
        chall: Any = challb.chall  # one of the three kinds
        name = authzr.body.identifier.value
        if kind is challenges.HTTP01:
            validation = chall.validation(account_key)
            peb.challtestsrv.add_http01(challb.chall.encode("token"), validation)
        elif kind is challenges.DNS01:
            validation = chall.validation(account_key)
            peb.challtestsrv.add_txt(chall.validation_domain_name(name) + ".", validation)
        else:
            key_authorization = chall.key_authorization(account_key)
            peb.challtestsrv.add_tlsalpn01(name, key_authorization)
        acme.answer_challenge(challb, challb.response(account_key))


def _issue(
    peb: PebbleInstance,
    acme: client.ClientV2,
    names: list[str],
    kind: type = challenges.HTTP01,
    ips: list[str] | None = None,
    alternates: bool = False,
) -> messages.OrderResource:
    _, csr = _csr(names, ips)
    orderr = acme.new_order(csr)
    _answer(peb, acme, orderr, kind)
    deadline = datetime.datetime.now() + DEADLINE  # naive, as certbot passes it
    orderr = acme.poll_authorizations(orderr, deadline)
    return acme.finalize_order(orderr, deadline, fetch_alternative_chains=alternates)


def _leaf(orderr: messages.OrderResource) -> x509.Certificate:
    assert orderr.fullchain_pem is not None
    return x509.load_pem_x509_certificates(orderr.fullchain_pem.encode())[0]


def _sans(cert: x509.Certificate) -> set[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(ext.get_values_for_type(x509.DNSName))
    return dns | {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}


def _chains_to(chain_pem: str, root_pem: str) -> bool:
    chain = x509.load_pem_x509_certificates(chain_pem.encode())
    root = x509.load_pem_x509_certificate(root_pem.encode())
    try:
        for child, parent in zip(chain, [*chain[1:], root], strict=True):
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# Accounts.


def test_account_lifecycle(pebble_ct: PebbleInstance) -> None:
    key = _account_key()
    acme = _client(pebble_ct, key)
    regr = _register(acme)
    assert regr.body.status == messages.STATUS_VALID
    assert regr.uri.startswith(pebble_ct.acme_url)
    assert regr.body.emails == ("admin@example.com",)

    # The same key again: ConflictError with the existing account's URL (acme 5.x contract).
    again = _client(pebble_ct, key)
    with pytest.raises(errors.ConflictError) as conflict:
        _register(again)
    assert conflict.value.location == regr.uri

    found = again.query_registration(regr)
    assert found.uri == regr.uri

    updated = acme.update_registration(
        regr, messages.Registration.from_data(email="new@example.com")
    )
    assert updated.body.emails == ("new@example.com",)

    gone = acme.deactivate_registration(updated)
    assert gone.body.status == messages.STATUS_DEACTIVATED
    with pytest.raises(messages.Error) as refused:
        _issue(pebble_ct, acme, ["after-deactivation.example.com"])
    assert refused.value.code == "unauthorized"


def test_query_unknown_account_fails_with_account_does_not_exist(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    with pytest.raises(messages.Error) as error:
        acme.query_registration(messages.RegistrationResource(body=messages.Registration()))
    assert error.value.code == "accountDoesNotExist"


def test_key_rollover(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    regr = _register(acme)
    new_key = jwk.JWKRSA(key=rsa.generate_private_key(65537, 2048))
    acme.change_key(new_key)
    assert acme.net.key is new_key
    # The new key finds the account; the old one no longer does.
    assert _client(pebble_ct, new_key).query_registration(regr).uri == regr.uri
    # And the account keeps working with the new key.
    assert _leaf(_issue(pebble_ct, acme, ["rolled.example.com"]))


def test_external_account_binding(pebble_factory) -> None:  # type: ignore[no-untyped-def]
    hmac_key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    peb = pebble_factory(eab_required=True, eab_keys={"kid-1": hmac_key})
    acme = _client(peb)
    assert acme.external_account_required()
    with pytest.raises(messages.Error) as refused:
        _register(acme)
    assert refused.value.code == "externalAccountRequired"

    key = acme.net.key
    assert key is not None
    eab = messages.ExternalAccountBinding.from_data(
        account_public_key=key.public_key(),
        kid="kid-1",
        hmac_key=hmac_key,
        directory=acme.directory,
    )
    regr = _register(acme, external_account_binding=eab)
    assert regr.body.status == messages.STATUS_VALID

    wrong = messages.ExternalAccountBinding.from_data(
        account_public_key=key.public_key(),
        kid="kid-1",
        hmac_key=base64.urlsafe_b64encode(b"x" * 32).rstrip(b"=").decode(),
        directory=acme.directory,
    )
    with pytest.raises(messages.Error):
        _register(_client(peb), external_account_binding=wrong)


# Issuance with each challenge type and identifier kind.


def test_single_name_http01(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    orderr = _issue(pebble_ct, acme, ["single.example.com"])
    assert orderr.body.status == messages.STATUS_VALID
    assert _sans(_leaf(orderr)) == {"single.example.com"}
    assert _chains_to(orderr.fullchain_pem or "", pebble_ct.fetch_root(0))


def test_hundred_names(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    names = [f"n{i}.many.example.com" for i in range(100)]
    orderr = _issue(pebble_ct, acme, names)
    assert len(orderr.authorizations) == 100
    assert _sans(_leaf(orderr)) == set(names)


def test_wildcard_with_dns01(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    orderr = _issue(pebble_ct, acme, ["*.wild.example.com"], kind=challenges.DNS01)
    assert orderr.authorizations[0].body.wildcard is True
    assert _sans(_leaf(orderr)) == {"*.wild.example.com"}


def test_tls_alpn01(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    orderr = _issue(pebble_ct, acme, ["alpn.example.com"], kind=challenges.TLSALPN01)
    assert _sans(_leaf(orderr)) == {"alpn.example.com"}


def test_ipv4_identifier(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    _, csr = _csr([], ["127.0.0.1"])
    orderr = acme.new_order(csr)
    assert [i.to_json() for i in orderr.body.identifiers] == [{"type": "ip", "value": "127.0.0.1"}]
    _answer(pebble_ct, acme, orderr, challenges.HTTP01)
    deadline = datetime.datetime.now(datetime.timezone.utc) + DEADLINE  # aware works too
    orderr = acme.poll_and_finalize(orderr, deadline)
    assert _sans(_leaf(orderr)) == {"127.0.0.1"}


def test_failed_validation_raises_validation_error(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    _, csr = _csr(["unanswered.example.com"])
    orderr = acme.new_order(csr)
    authzr = orderr.authorizations[0]
    challb = next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))
    # Serve the wrong key authorization: Pebble's VA must reject it.
    pebble_ct.challtestsrv.add_http01(challb.chall.encode("token"), "wrong")
    acme.answer_challenge(challb, challb.response(acme.net.key))
    with pytest.raises(errors.ValidationError) as failed:
        acme.poll_authorizations(orderr, datetime.datetime.now() + DEADLINE)
    assert failed.value.failed_authzrs[0].body.status == messages.STATUS_INVALID


def test_authorization_deactivation(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    _, csr = _csr(["deactivate.example.com"])
    orderr = acme.new_order(csr)
    authzr = acme.deactivate_authorization(orderr.authorizations[0])
    assert authzr.body.status == messages.STATUS_DEACTIVATED
    polled, response = acme.poll(authzr)
    assert polled.body.status == messages.STATUS_DEACTIVATED
    assert response.status_code == 200


# Chains and revocation.


def test_alternate_chains_verify_to_their_roots(pebble_factory) -> None:  # type: ignore[no-untyped-def]
    peb = pebble_factory(challenge_responder="challtestsrv", alternate_roots=2)
    acme = _client(peb)
    _register(acme)
    orderr = _issue(peb, acme, ["alt.example.com"], alternates=True)
    assert len(orderr.alternative_fullchains_pem) == 2
    chains = [orderr.fullchain_pem or "", *orderr.alternative_fullchains_pem]
    roots = [peb.fetch_root(i) for i in range(3)]
    for chain in chains:
        assert sum(_chains_to(chain, root) for root in roots) == 1
    # Negative control: a chain does not verify to an unrelated root.
    assert not _chains_to(orderr.fullchain_pem or "", peb.fetch_intermediate(1))


def test_revoke_with_account_key(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    leaf = _leaf(_issue(pebble_ct, acme, ["revoke-account.example.com"]))
    acme.revoke(leaf, 1)
    with pytest.raises(messages.Error) as again:
        acme.revoke(leaf, 1)
    assert again.value.code == "alreadyRevoked"


def test_revoke_with_certificate_key(pebble_ct: PebbleInstance) -> None:
    acme = _client(pebble_ct)
    _register(acme)
    key_pem, csr = _csr(["revoke-certkey.example.com"])
    orderr = acme.new_order(csr)
    _answer(pebble_ct, acme, orderr, challenges.HTTP01)
    orderr = acme.poll_and_finalize(orderr)
    leaf = _leaf(orderr)

    cert_key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(cert_key, ec.EllipticCurvePrivateKey)
    # No account: the request is signed with the certificate's key, embedded as jwk.
    net = client.ClientNetwork(jwk.JWKEC(key=cert_key), verify_ssl=pebble_ct.ca_bundle)
    by_cert_key = client.ClientV2(acme.directory, net)
    by_cert_key.revoke(leaf.public_bytes(serialization.Encoding.PEM), 0)
    with pytest.raises(messages.Error) as again:
        acme.revoke(leaf, 0)
    assert again.value.code == "alreadyRevoked"


# Robustness.


def test_twenty_issuances_with_half_the_nonces_rejected(pebble_factory) -> None:  # type: ignore[no-untyped-def]
    """Pebble rejects each valid nonce with probability 1/2, independently. With the default 5
    attempts a request fails with probability 1/32, so some of ~160 requests would fail by
    design; with 20 attempts that is about 1.5e-4 for the whole test. The default limit itself is
    tested against a server that rejects every nonce (tests/core/test_core_flows.py)."""
    peb = pebble_factory(challenge_responder="challtestsrv", nonce_reject=50)
    net = client.ClientNetwork(_account_key(), verify_ssl=peb.ca_bundle, max_nonce_attempts=20)
    acme = client.ClientV2(client.ClientV2.get_directory(peb.directory_url, net), net)
    _register(acme)
    for i in range(20):
        orderr = _issue(peb, acme, [f"nonce{i}.example.com"])
        assert orderr.body.status == messages.STATUS_VALID


def test_untrusted_server_certificate_is_a_network_error(pebble_ct: PebbleInstance) -> None:
    import requests

    net = client.ClientNetwork(_account_key())  # system trust store: Pebble's CA is unknown
    with pytest.raises(errors.NetworkError) as failed:
        client.ClientV2.get_directory(pebble_ct.directory_url, net)
    assert isinstance(failed.value, requests.exceptions.RequestException)
    assert failed.value.__cause__ is not None
    net.close()


def test_client_network_raw_methods(pebble_ct: PebbleInstance) -> None:
    """acme 5.x callers also use ClientNetwork.get/head/post directly; they return
    requests.Response objects and raise acme errors."""
    import requests

    acme = _client(pebble_ct)
    regr = _register(acme)
    net = acme.net
    directory = net.get(pebble_ct.directory_url)
    assert isinstance(directory, requests.Response)
    assert "newOrder" in directory.json()
    nonce = net.head(acme.directory["newNonce"])
    assert nonce.headers["Replay-Nonce"]
    account = net.post(regr.uri, None)  # POST-as-GET, signed with the account's kid
    assert account.json()["status"] == "valid"
    with pytest.raises(messages.Error) as refused:
        net.post(acme.directory["newOrder"], {"identifiers": []})
    assert refused.value.http_status == 400
