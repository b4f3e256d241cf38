"""See what the library does: its DEBUG log (docs/guide/logging.md)."""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import client, messages
from acme.testing import ACMETestServer


def enable_acme_debug_log(path: str | None = None) -> logging.Handler:
    """Send the ``acme`` loggers' DEBUG records to stderr (or to ``path``); returns the
    handler, so that it can be removed and closed again."""
    handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    acme_logger = logging.getLogger("acme")
    acme_logger.addHandler(handler)
    acme_logger.setLevel(logging.DEBUG)
    return handler


def main() -> None:
    handler = enable_acme_debug_log()
    logging.getLogger("acme.testing").propagate = False  # the test CA's own log: not needed
    try:
        with ACMETestServer(always_valid=True) as ca:
            key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
            with client.ClientNetwork(key, verify_ssl=ca.ca_bundle_path) as net:
                acme = client.ClientV2(client.ClientV2.get_directory(ca.directory_url, net), net)
                acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    finally:
        logging.getLogger("acme").removeHandler(handler)
        handler.close()


if __name__ == "__main__":
    main()
