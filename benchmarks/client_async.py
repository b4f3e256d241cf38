"""The benchmark's driver for ``acme.asyncio_client``: the same calls as client_acme.py, awaited.

One ``AsyncClientNetwork`` (one connection pool) per account, shared by every coroutine.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwa, jwk

from acme import asyncio_client, challenges, messages


class Client:
    """One account over one ``AsyncClientNetwork``; build it with `Client.create`."""

    def __init__(self, net: asyncio_client.AsyncClientNetwork, account_key: jwk.JWK) -> None:
        self.net = net
        self.account_key = account_key
        self.acme: asyncio_client.AsyncClientV2 | None = None

    @classmethod
    async def create(
        cls,
        directory_url: str,
        ca_bundle: str,
        key: ec.EllipticCurvePrivateKey,
        library: str = "default",
    ) -> Client:
        """``library``: "default", "aiohttp", "httpx" or "httpx-h2" (HTTP/2, needs ``h2``)."""
        account_key = jwk.JWKEC(key=key)
        options: dict[str, Any] = {}
        if library != "default":
            options["http_library"] = library.split("-")[0]
            options["http2"] = library.endswith("-h2")
        net = asyncio_client.AsyncClientNetwork(
            account_key,
            alg=jwa.ES256,
            verify_ssl=ca_bundle,
            user_agent="acme-benchmark",
            **options,
        )
        self = cls(await net.__aenter__(), account_key)
        try:
            directory = await asyncio_client.AsyncClientV2.get_directory(directory_url, net)
        except BaseException:
            await self.close()
            raise
        self.acme = asyncio_client.AsyncClientV2(directory, net)
        return self

    def _acme(self) -> asyncio_client.AsyncClientV2:
        if self.acme is None:
            raise RuntimeError("use Client.create()")
        return self.acme

    async def register(self) -> None:
        reg = messages.NewRegistration.from_data(terms_of_service_agreed=True)
        await self._acme().new_account(reg)

    async def issue(self, names: list[str], csr_pem: bytes, csr_der: bytes) -> str:
        """New order, answer every http-01 challenge, poll, finalize, download."""
        acme = self._acme()
        orderr = await acme.new_order(csr_pem)
        for authzr in orderr.authorizations:
            if authzr.body.status == messages.STATUS_VALID:
                continue
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            await acme.answer_challenge(challb, challb.response(self.account_key))
        orderr = await acme.poll_and_finalize(orderr)
        if orderr.fullchain_pem is None:
            raise RuntimeError(f"order {orderr.uri} came back without a certificate")
        return str(orderr.fullchain_pem)

    async def close(self) -> None:
        await self.net.__aexit__(None, None, None)
