"""Issue certificates with http-01, dns-01 and tls-alpn-01 (docs/guide/issue.md).

The functions work against any ACME CA; ``main()`` runs them against the in-process test CA,
which validates each challenge for real on loopback.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, messages, standalone
from acme.testing import ACMETestServer


def connect(directory_url: str, verify_ssl: bool | str = True) -> client.ClientV2:
    """A client with a new account on the CA at ``directory_url``."""
    account_key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(account_key, verify_ssl=verify_ssl, user_agent="my-tool/1.0")
    acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
    acme.new_account(
        messages.NewRegistration.from_data(email="ops@example.com", terms_of_service_agreed=True)
    )
    return acme


def new_key_and_csr(names: list[str]) -> tuple[bytes, bytes]:
    """A fresh certificate key (PEM: store it with mode 0600) and a CSR for ``names``."""
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, crypto_util.make_csr(key_pem, names)


def _pick(
    authzr: messages.AuthorizationResource, kind: type[challenges.Challenge]
) -> messages.ChallengeBody:
    """The challenge of type ``kind`` in ``authzr`` (the CA offers one of each it supports)."""
    return next(c for c in authzr.body.challenges if isinstance(c.chall, kind))


def _deadline(seconds: float = 120) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)


def issue_http01(
    acme: client.ClientV2,
    names: list[str],
    resources: set[standalone.HTTP01RequestHandler.HTTP01Resource],
) -> str:
    """Order, answer http-01 through an `HTTP01Server` serving ``resources``, return the chain."""
    account_key = acme.net.key
    _, csr_pem = new_key_and_csr(names)
    order = acme.new_order(csr_pem)
    for authzr in order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue  # the CA reused an earlier authorization
        challb = _pick(authzr, challenges.HTTP01)
        response, validation = challb.response_and_validation(account_key)
        resources.add(
            standalone.HTTP01RequestHandler.HTTP01Resource(challb.chall, response, validation)
        )
        acme.answer_challenge(challb, response)
    order = acme.poll_and_finalize(order, _deadline())
    assert order.fullchain_pem is not None
    return order.fullchain_pem


def issue_dns01(
    acme: client.ClientV2,
    names: list[str],
    publish: Callable[[str, str], None],
    unpublish: Callable[[str, str], None],
) -> str:
    """Order, answer dns-01 with TXT records (``publish(name, value)``), return the chain."""
    account_key = acme.net.key
    _, csr_pem = new_key_and_csr(names)
    order = acme.new_order(csr_pem)
    records = []
    try:
        for authzr in order.authorizations:
            if authzr.body.status == messages.STATUS_VALID:
                continue
            challb = _pick(authzr, challenges.DNS01)
            chall = challb.chall
            assert isinstance(chall, challenges.DNS01)
            name = chall.validation_domain_name(authzr.body.identifier.value)
            value = chall.validation(account_key)
            publish(name, value)  # e.g. your DNS provider's API; wait until it is served
            records.append((name, value))
            acme.answer_challenge(challb, challb.response(account_key))
        order = acme.poll_and_finalize(order, _deadline())
    finally:
        for name, value in records:
            unpublish(name, value)
    assert order.fullchain_pem is not None
    return order.fullchain_pem


def issue_tls_alpn01(
    acme: client.ClientV2, names: list[str], certs: dict[str, tuple[object, object]]
) -> str:
    """Order, answer tls-alpn-01 through a `TLSALPN01Server` serving ``certs``, return the chain."""
    account_key = acme.net.key
    _, csr_pem = new_key_and_csr(names)
    order = acme.new_order(csr_pem)
    for authzr in order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue
        challb = _pick(authzr, challenges.TLSALPN01)
        chall = challb.chall
        assert isinstance(chall, challenges.TLSALPN01)
        name = authzr.body.identifier.value
        cert, key = chall.validation(account_key, domain=name)  # RFC 8737 section 3
        certs[name] = (key, cert)  # served to handshakes with SNI `name` and ALPN acme-tls/1
        acme.answer_challenge(challb, challb.response(account_key))
    order = acme.poll_and_finalize(order, _deadline())
    assert order.fullchain_pem is not None
    return order.fullchain_pem


def _names_in(fullchain_pem: str) -> list[str]:
    leaf = x509.load_pem_x509_certificates(fullchain_pem.encode("ascii"))[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


def main() -> None:
    # Port 0: any free port. A real CA connects to port 80 (http-01) and 443 (tls-alpn-01).
    resources: set[standalone.HTTP01RequestHandler.HTTP01Resource] = set()
    certs: dict[str, tuple[object, object]] = {}
    http01 = standalone.HTTP01Server(("127.0.0.1", 0), resources)
    tls01 = standalone.TLSALPN01Server(("127.0.0.1", 0), certs)
    for server in (http01, tls01):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ca = ACMETestServer(http_port=http01.server_address[1], tls_port=tls01.server_address[1])
    try:
        acme = connect(ca.directory_url, verify_ssl=ca.ca_bundle_path)
        with acme.net:
            chain = issue_http01(acme, ["http.example.com"], resources)
            print("http-01:", _names_in(chain))
            chain = issue_dns01(acme, ["*.example.com"], ca.add_txt, ca.remove_txt)
            print("dns-01:", _names_in(chain))
            chain = issue_tls_alpn01(acme, ["tls.example.com"], certs)
            print("tls-alpn-01:", _names_in(chain))
    finally:
        for server in (http01, tls01):
            server.shutdown()
            server.server_close()
        ca.close()


if __name__ == "__main__":
    main()
