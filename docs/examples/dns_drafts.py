"""Issue with the draft DNS challenges, dns-account-01 and dns-persist-01 (docs/guide/issue.md).

The functions work against any CA that offers them; ``main()`` runs them against the
in-process test CA, which validates both for real from the TXT records published into it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, messages
from acme.testing import ACMETestServer


def connect(directory_url: str, verify_ssl: bool | str = True) -> client.ClientV2:
    """A client with a new account on the CA at ``directory_url``."""
    account_key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(account_key, verify_ssl=verify_ssl)
    acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    return acme


def _csr(names: list[str]) -> bytes:
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return crypto_util.make_csr(key_pem, names)  # keep key_pem (mode 0600) in real code


def _pick(authzr: messages.AuthorizationResource, kind: type[challenges.Challenge]) -> object:
    return next(c for c in authzr.body.challenges if isinstance(c.chall, kind))


def _deadline() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=120)


def issue_dns_account01(
    acme: client.ClientV2,
    names: list[str],
    publish: Callable[[str, str], None],
    unpublish: Callable[[str, str], None],
) -> str:
    """dns-01's TXT value at a name labelled with the account, so several accounts (or
    clients) can validate one domain side by side; return the chain."""
    account_key, account_url = acme.net.key, acme.net.account.uri
    order = acme.new_order(_csr(names))
    records = []
    try:
        for authzr in order.authorizations:
            if authzr.body.status == messages.STATUS_VALID:
                continue
            challb = _pick(authzr, challenges.DNSAccount01)
            chall = challb.chall
            # _<label>._acme-challenge.<domain>, the label from the account URL
            name = chall.validation_domain_name(authzr.body.identifier.value, account_url)
            value = chall.validation(account_key)
            publish(name, value)  # wait until every authoritative server serves it
            records.append((name, value))
            acme.answer_challenge(challb, challb.response(account_key))
        order = acme.poll_and_finalize(order, _deadline())
    finally:
        for name, value in records:
            unpublish(name, value)
    return order.fullchain_pem


def persist_record(acme: client.ClientV2, domain: str, wildcard: bool = False) -> tuple[str, str]:
    """The ``(name, value)`` of the TXT record to publish once, from the directory alone."""
    meta = acme.directory.meta.to_partial_json()
    template = challenges.DNSPersist01(issuer_domain_names=tuple(meta["issuerDomainNames"]))
    record = template.record(
        acme.net.key,
        account_url=acme.net.account.uri,
        account_hash_prefix=meta["accountHashPrefix"],
        domain=domain,
        wildcard=wildcard,  # policy=wildcard: *.domain too
    )
    return template.validation_domain_name(domain), record.to_text()


def issue_dns_persist01(acme: client.ClientV2, names: list[str]) -> str:
    """Answer dns-persist-01 from the record published once: nothing to publish or remove."""
    order = acme.new_order(_csr(names))
    for authzr in order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue
        challb = _pick(authzr, challenges.DNSPersist01)
        acme.answer_challenge(challb, challb.response(acme.net.key))  # {}
    order = acme.poll_and_finalize(order, _deadline())
    return order.fullchain_pem


def _names_in(fullchain_pem: str) -> list[str]:
    leaf = x509.load_pem_x509_certificates(fullchain_pem.encode("ascii"))[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


def main() -> None:
    with ACMETestServer(reuse_authorizations=False) as ca:  # validates for real
        acme = connect(ca.directory_url, verify_ssl=ca.ca_bundle_path)
        with acme.net:
            chain = issue_dns_account01(acme, ["*.example.com"], ca.add_txt, ca.remove_txt)
            print("dns-account-01:", _names_in(chain))

            name, value = persist_record(acme, "example.org", wildcard=True)
            ca.add_txt(name, value)  # once, e.g. in the zone file; it stays
            print("publish once:", name)
            for names in (["example.org", "*.example.org"], ["example.org"]):
                print("dns-persist-01:", _names_in(issue_dns_persist01(acme, names)))

            # A key rollover changes the value (its hash covers the key's thumbprint):
            # republish, then remove the old value once no CA relies on it.
            acme.change_key(jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1())))
            print("changed by a rollover:", persist_record(acme, "example.org", True)[1] != value)


if __name__ == "__main__":
    main()
