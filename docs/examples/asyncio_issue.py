"""Many certificates at once with the asyncio client (docs/guide/asyncio.md).

Needs the ``async`` extra (aiohttp): ``pip install 'acme-protocol[async]'``.
"""

from __future__ import annotations

import asyncio
import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, crypto_util, messages
from acme.asyncio_client import AsyncClientNetwork, AsyncClientV2
from acme.testing import ACMETestServer


async def issue(acme: AsyncClientV2, names: list[str]) -> str:
    """One order to its full chain; each await lets the other orders proceed."""
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    order = await acme.new_order(crypto_util.make_csr(key_pem, names))
    for authzr in order.authorizations:
        if authzr.body.status != messages.STATUS_VALID:
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            # Publish the answer (an HTTP01Server, a webroot file) before this call.
            await acme.answer_challenge(challb, challb.response(acme.net.key))
    deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)
    order = await acme.poll_and_finalize(order, deadline)
    assert order.fullchain_pem is not None
    return order.fullchain_pem


async def issue_many(directory_url: str, sites: list[str], verify_ssl: bool | str) -> list[str]:
    """One account, one connection pool, one order per site, all concurrently."""
    account_key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    async with AsyncClientNetwork(account_key, verify_ssl=verify_ssl) as net:
        acme = AsyncClientV2(await AsyncClientV2.get_directory(directory_url, net), net)
        await acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        return await asyncio.gather(*(issue(acme, [site, f"www.{site}"]) for site in sites))


def main() -> None:
    with ACMETestServer(always_valid=True) as ca:
        sites = [f"site{i}.example.com" for i in range(20)]
        chains = asyncio.run(issue_many(ca.directory_url, sites, ca.ca_bundle_path))
        print("issued:", len(chains))


if __name__ == "__main__":
    main()
