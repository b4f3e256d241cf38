"""Account management: find the account of a saved key, update contacts, roll the key over,
deactivate (RFC 8555 section 7.3; docs/guide/account.md)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import client, errors, messages
from acme.testing import ACMETestServer


def open_account(
    directory_url: str, account_key: jwk.JWK, verify_ssl: bool | str = True
) -> tuple[client.ClientV2, messages.RegistrationResource]:
    """A client signed in to the account of ``account_key``, registering it if it is new."""
    net = client.ClientNetwork(account_key, verify_ssl=verify_ssl, user_agent="my-tool/1.0")
    acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
    try:
        regr = acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    except errors.ConflictError:  # the key already has an account (RFC 8555 section 7.3.1)
        regr = acme.query_registration(messages.RegistrationResource(body=messages.Registration()))
    return acme, regr


def main() -> None:
    with ACMETestServer(always_valid=True) as ca:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        acme, regr = open_account(ca.directory_url, key, ca.ca_bundle_path)
        acme.net.close()
        acme, again = open_account(ca.directory_url, key, ca.ca_bundle_path)  # a later run
        print("same account:", again.uri == regr.uri)
        with acme.net:
            update = messages.Registration.from_data(email="new-ops@example.com")
            regr = acme.update_registration(again, update)
            print("contact:", list(regr.body.contact))

            # Key rollover (section 7.3.5): save the new key before the call, keep the old one
            # until it succeeded; every later request is signed with the new key.
            new_key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
            acme.change_key(new_key)
            print("rolled over:", acme.net.key is new_key)

            regr = acme.deactivate_registration(regr)
            print("status:", regr.body.status)


if __name__ == "__main__":
    main()
