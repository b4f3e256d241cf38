"""Renew with RFC 9773 renewal information and ``replaces`` (docs/guide/renewal.md)."""

from __future__ import annotations

import datetime
import random

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.testing import ACMETestServer

UTC = datetime.timezone.utc


def issue(
    acme: client.ClientV2, names: list[str], replaces: x509.Certificate | None = None
) -> x509.Certificate:
    """Order (renewing ``replaces`` if given), answer http-01, return the new leaf."""
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    order = acme.new_order(crypto_util.make_csr(key_pem, names), replaces=replaces)
    for authzr in order.authorizations:
        if authzr.body.status != messages.STATUS_VALID:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            acme.answer_challenge(challb, challb.response(acme.net.key))
    order = acme.poll_and_finalize(order, datetime.datetime.now(UTC) + datetime.timedelta(1))
    return x509.load_pem_x509_certificates(order.fullchain_pem.encode("ascii"))[0]


def renewal_due(acme: client.ClientV2, cert: x509.Certificate) -> tuple[bool, datetime.datetime]:
    """Whether to renew ``cert`` now, and when to ask the CA again (RFC 9773 section 4.2)."""
    now = datetime.datetime.now(UTC)
    try:
        info, ask_again = acme.renewal_info(cert)
    except errors.ARIError as error:  # no ARI at this CA, or it failed: fall back to expiry
        remaining = cert.not_valid_after_utc - now
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        return remaining < lifetime / 3, error.retry_after
    window = info.suggested_window
    # Pick a random moment in the window, so that many clients do not renew at once.
    moment = window.start + (window.end - window.start) * random.random()
    return moment <= now, ask_again


def main() -> None:
    with ACMETestServer(always_valid=True) as ca:
        net = client.ClientNetwork(
            jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1())), verify_ssl=ca.ca_bundle_path
        )
        with net:
            acme = client.ClientV2(client.ClientV2.get_directory(ca.directory_url, net), net)
            acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            old = issue(acme, ["www.example.com"])
            due, ask_again = renewal_due(acme, old)
            print("renew now:", due, "- ask again after", ask_again.isoformat())

            # The test CA lets us move the window into the past, as a CA does for a mass
            # revocation: now renewal is due, and the new order says what it replaces.
            now = datetime.datetime.now(UTC)
            ca.core.set_renewal_window(old, now - datetime.timedelta(hours=2), now)
            due, _ = renewal_due(acme, old)
            print("after the CA moved the window, renew now:", due)
            new = issue(acme, ["www.example.com"], replaces=old)
            print("renewed: serial", hex(new.serial_number), "replaces", hex(old.serial_number))
            try:
                issue(acme, ["www.example.com"], replaces=old)
            except errors.ConflictError as error:  # 409 alreadyReplaced: replaced once only
                print("second renewal refused:", error.error.code if error.error else error)


if __name__ == "__main__":
    main()
