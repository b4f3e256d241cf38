"""Code written for acme 5.x runs unchanged (docs/migrating.md): naive local deadlines,
``renewal_time`` and ``retry_after`` with their 5.x return types, josepy keys, PEM CSRs."""

from __future__ import annotations

import datetime

import josepy as jose
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from acme import challenges, client, crypto_util, messages
from acme.testing import ACMETestServer


def certbot_style_issue(directory_url: str, verify_ssl: bool | str) -> tuple[str, bytes]:
    """The acme 5.x way, as certbot writes it: RSA account key, naive local deadline."""
    account_key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    net = client.ClientNetwork(account_key, user_agent="certbot-like/5", verify_ssl=verify_ssl)
    directory = client.ClientV2.get_directory(directory_url, net)
    acme = client.ClientV2(directory, net)
    acme.new_account(
        messages.NewRegistration.from_data(email="me@example.com", terms_of_service_agreed=True)
    )
    pkey_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    orderr = acme.new_order(crypto_util.make_csr(pkey_pem, ["legacy.example.com"]))
    for authzr in orderr.authorizations:
        for challb in authzr.body.challenges:
            if isinstance(challb.chall, challenges.HTTP01):
                acme.answer_challenge(challb, challb.chall.response(account_key))
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=90)  # naive, local: fine
    orderr = acme.poll_and_finalize(orderr, deadline)
    net.close()
    return orderr.fullchain_pem, pkey_pem


def main() -> None:
    with ACMETestServer(always_valid=True) as ca:
        fullchain_pem, _ = certbot_style_issue(ca.directory_url, ca.ca_bundle_path)
        net = client.ClientNetwork(None, verify_ssl=ca.ca_bundle_path)
        with net:
            acme = client.ClientV2(client.ClientV2.get_directory(ca.directory_url, net), net)
            renew_at, ask_again = acme.renewal_time(fullchain_pem.encode("ascii"))
            print("renew at is aware:", renew_at is not None and renew_at.tzinfo is not None)
            print("ask again is naive:", ask_again.tzinfo is None)


if __name__ == "__main__":
    main()
