"""What failures look like and how to react to each (docs/guide/errors.md)."""

from __future__ import annotations

import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages
from acme.testing import ACMETestServer


def try_to_issue(acme: client.ClientV2, names: list[str]) -> str | None:
    """Issue with http-01, reporting each kind of failure in one line; None if it failed."""
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
    try:
        order = acme.new_order(crypto_util.make_csr(key_pem, names))
        for authzr in order.authorizations:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            acme.answer_challenge(challb, challb.response(acme.net.key))
        order = acme.poll_and_finalize(order, deadline)
    except errors.ValidationError as error:  # the CA could not verify a challenge answer
        for authzr in error.failed_authzrs:
            for challb in authzr.body.challenges:
                if challb.error is not None:
                    print(
                        f"validation failed for {authzr.body.identifier.value}:", challb.error.code
                    )
        return None
    except messages.Error as error:  # the CA refused the request (RFC 8555 section 6.7)
        print("the CA refused:", error.code, "-", error.detail)
        return None
    except errors.TimeoutError:  # still pending at the deadline: try again later
        print("timed out")
        return None
    except errors.NetworkError as error:  # DNS, connection, TLS: retry with back-off
        print("network:", error.reason)
        return None
    except errors.Error as error:  # anything else acme raises, e.g. a name it cannot use
        print("cannot issue:", error)
        return None
    return order.fullchain_pem


def main() -> None:
    # Real validation, but nothing answers http-01: validation must fail.
    with ACMETestServer(http_port=9) as ca:
        key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        with client.ClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net:
            acme = client.ClientV2(client.ClientV2.get_directory(ca.directory_url, net), net)
            acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            try:
                acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            except errors.ConflictError as error:  # this key has an account already
                print("account exists at", error.location)
            try_to_issue(acme, ["unreachable.example.com"])
            try_to_issue(acme, ["not a name"])
            wildcard = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="*.example.com")
            try:
                acme.new_authorization(wildcard)  # RFC 8555 7.4.1: no wildcard pre-authorization
            except messages.Error as error:
                print("the CA refused:", error.code)
    # Nothing listens on the CA's address any more.
    with client.ClientNetwork(key, timeout=5) as net:
        try:
            client.ClientV2.get_directory(ca.directory_url, net)
        except errors.NetworkError as error:
            print("network error:", type(error).__name__)


if __name__ == "__main__":
    main()
