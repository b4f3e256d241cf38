"""Helpers of the manager tests: clients with fresh accounts on an acme.testing CA."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import client, messages
from acme.testing import ACMETestServer

__all__ = ["new_client"]


def new_client(server: ACMETestServer) -> client.ClientV2:
    """A sync client with a fresh account on ``server`` (the caller closes ``.net``)."""
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(key, verify_ssl=server.ca_bundle_path, user_agent="manager-tests")
    acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    return acme
