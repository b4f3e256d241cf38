"""External account binding (RFC 8555 section 7.3.4): register with a CA that requires it
(docs/guide/eab.md)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import client, messages
from acme.testing import ACMETestServer


def register_with_eab(
    acme: client.ClientV2, kid: str, hmac_key: str, email: str
) -> messages.RegistrationResource:
    """Register the network's key, bound to the CA account ``kid`` with its MAC key.

    ``kid`` and ``hmac_key`` (base64url) come from the CA's web interface or support.
    """
    account_key = acme.net.key
    assert account_key is not None
    eab = messages.ExternalAccountBinding.from_data(
        account_public_key=account_key.public_key(),
        kid=kid,
        hmac_key=hmac_key,
        directory=acme.directory,
    )
    registration = messages.NewRegistration.from_data(
        email=email, terms_of_service_agreed=True, external_account_binding=eab
    )
    return acme.new_account(registration)


def main() -> None:
    hmac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    with ACMETestServer(always_valid=True, eab_keys={"kid-1": hmac_key}) as ca:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        with client.ClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net:
            acme = client.ClientV2(client.ClientV2.get_directory(ca.directory_url, net), net)
            print("external account required:", acme.external_account_required())
            try:
                acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            except messages.Error as error:
                print("without EAB:", error.code)
            regr = register_with_eab(acme, "kid-1", hmac_key, "ops@example.com")
            print("registered:", regr.body.status)


if __name__ == "__main__":
    main()
