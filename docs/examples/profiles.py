"""Certificate profiles (draft-ietf-acme-profiles): list, then order one (guide/profiles.md)."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, messages
from acme.testing import ACMETestServer


def offered_profiles(acme: client.ClientV2) -> dict[str, str]:
    """The profiles the CA's directory advertises: name to description (may be empty)."""
    meta = acme.directory.meta
    return dict(meta.profiles) if meta is not None and meta.profiles else {}


def issue_with_profile(acme: client.ClientV2, names: list[str], profile: str) -> x509.Certificate:
    """Order ``names`` with ``profile``; the CA refuses an unknown one (``invalidProfile``)."""
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    order = acme.new_order(crypto_util.make_csr(key_pem, names), profile=profile)
    for authzr in order.authorizations:
        if authzr.body.status != messages.STATUS_VALID:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            acme.answer_challenge(challb, challb.response(acme.net.key))
    deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)
    order = acme.poll_and_finalize(order, deadline)
    print("order profile:", order.body.profile)
    return x509.load_pem_x509_certificates(order.fullchain_pem.encode("ascii"))[0]


def main() -> None:
    with ACMETestServer(always_valid=True) as ca:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        with client.ClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net:
            acme = client.ClientV2(client.ClientV2.get_directory(ca.directory_url, net), net)
            acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            profiles = offered_profiles(acme)
            print("profiles:", ", ".join(sorted(profiles)))
            if "shortlived" in profiles:
                leaf = issue_with_profile(acme, ["short.example.com"], "shortlived")
                print("valid for:", leaf.not_valid_after_utc - leaf.not_valid_before_utc)
            try:
                issue_with_profile(acme, ["x.example.com"], "no-such-profile")
            except messages.Error as error:
                print("refused:", error.code)


if __name__ == "__main__":
    main()
