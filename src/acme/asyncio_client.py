"""The asyncio ACME client: the `acme.client` API as coroutines, on the same protocol core.

Install with ``pip install acme-protocol[async]``. `AsyncClientNetwork` keeps one keep-alive
connection pool (aiohttp by default, httpx on request) that every coroutine shares, so hundreds
of orders can run concurrently on one account; ``async with`` closes it. Every method drives the
same flow as its sync twin (``acme._core.operations.ClientFlows``): no protocol logic lives here.

    async with AsyncClientNetwork(key, verify_ssl=ca_bundle) as net:
        acme = AsyncClientV2(await AsyncClientV2.get_directory(url, net), net)
        await acme.new_account(registration)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from acme._wire.inputs import AccountKeyInput, CertificateInput, CSRInput, DeadlineInput

import asyncio
import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

from josepy import jwa

from acme import messages
from acme._core import account as account_flows
from acme._core.drive import run_async
from acme._core.http import (
    DEFAULT_MAX_BODY,
    JOSE_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    Flow,
    HTTPResponse,
)
from acme._core.operations import ClientFlows
from acme._core.retry import PollPolicy
from acme._core.session import get_expecting, head, new_session, post_expecting
from acme._net.accessors import SessionAccessors
from acme._net.async_transport import AiohttpTransport, AsyncTransport, HttpxTransport

__all__ = ["AsyncClientNetwork", "AsyncClientV2"]

T = TypeVar("T")


class AsyncClientNetwork(SessionAccessors):
    """Signs and sends requests for one account key over one shared connection pool.

    Same arguments as `acme.client.ClientNetwork`, plus ``http_library`` ("aiohttp" or
    "httpx") and ``http2`` (httpx only; needs the ``h2`` package). aiohttp is the default
    because it costs less client CPU per request.
    """

    def __init__(
        self,
        key: AccountKeyInput | None = None,
        account: messages.RegistrationResource | None = None,
        alg: jwa.JWASignature | None = None,
        verify_ssl: bool | str = True,
        user_agent: str = "acme-python",
        timeout: float = 45,
        *,
        allow_insecure_loopback: bool = False,
        poll_policy: PollPolicy | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_nonce_attempts: int = 5,
        http_library: Literal["aiohttp", "httpx"] = "aiohttp",
        http2: bool = False,
    ) -> None:
        self.session = new_session(
            key, alg, user_agent, allow_insecure_loopback, poll_policy, max_nonce_attempts, account
        )
        self.transport: AsyncTransport
        if http_library == "httpx":
            self.transport = HttpxTransport(verify_ssl, float(timeout), max_body, http2=http2)
        else:
            self.transport = AiohttpTransport(verify_ssl, float(timeout), max_body)

    async def run(self, flow: Flow[T]) -> T:
        """Drive one core flow on this network's transport."""
        return await run_async(flow, self.transport.send, asyncio.sleep)

    async def head(self, url: str) -> HTTPResponse:
        """HEAD ``url``; any ``Replay-Nonce`` is kept for the next POST."""
        return await self.run(head(self.session, url))

    async def get(self, url: str, content_type: str = JSON_CONTENT_TYPE) -> HTTPResponse:
        """Unsigned GET; error responses raise (`messages.Error`, `ClientError`)."""
        return await self.run(get_expecting(self.session, url, content_type))

    async def post(self, url: str, obj: Any, content_type: str = JOSE_CONTENT_TYPE) -> HTTPResponse:
        """Sign ``obj`` (``None`` for POST-as-GET) and POST it; errors raise."""
        return await self.run(post_expecting(self.session, url, obj, content_type))

    async def close(self) -> None:
        """Close the connection pool."""
        await self.transport.close()

    async def __aenter__(self) -> AsyncClientNetwork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncClientV2:
    """The `acme.client.ClientV2` operations as coroutines; see there for each method."""

    def __init__(self, directory: messages.Directory, net: AsyncClientNetwork) -> None:
        self.directory = directory
        self.net = net
        self._flows = ClientFlows(directory, net.session)

    async def _run(self, flow: Flow[T]) -> T:
        return await self.net.run(flow)

    @classmethod
    async def get_directory(cls, url: str, net: AsyncClientNetwork) -> messages.Directory:
        """Fetch the directory at ``url``."""
        return await net.run(account_flows.fetch_directory(net.session, url))

    def external_account_required(self) -> bool:
        """Whether the server requires external account binding (section 7.3.4)."""
        return self._flows.external_account_required()

    async def poll(
        self, authzr: messages.AuthorizationResource
    ) -> tuple[messages.AuthorizationResource, HTTPResponse]:
        """Fetch an authorization once; returns it with the HTTP response."""
        return await self._run(self._flows.poll(authzr))

    async def orders(self, regr: messages.RegistrationResource | None = None) -> list[str]:
        """The URLs of the account's orders, across every page of the orders list."""
        return await self._run(self._flows.orders(regr))

    async def new_account(
        self, new_account: messages.NewRegistration
    ) -> messages.RegistrationResource:
        """Register; raises `ConflictError` (with the URL) if the key already has an account."""
        return await self._run(self._flows.new_account(new_account))

    async def query_registration(
        self, regr: messages.RegistrationResource
    ) -> messages.RegistrationResource:
        """Fetch the key's account (``onlyReturnExisting``) and make it the current one."""
        return await self._run(self._flows.query_registration(regr))

    async def update_registration(
        self, regr: messages.RegistrationResource, update: messages.Registration | None = None
    ) -> messages.RegistrationResource:
        """Update the account's contacts."""
        return await self._run(self._flows.update_registration(regr, update))

    async def deactivate_registration(
        self, regr: messages.RegistrationResource
    ) -> messages.RegistrationResource:
        """Deactivate the account for good."""
        return await self._run(self._flows.deactivate_registration(regr))

    async def change_key(
        self, new_key: AccountKeyInput, new_alg: jwa.JWASignature | None = None
    ) -> None:
        """Roll the account over to ``new_key`` (section 7.3.5); later requests use it."""
        await self._run(self._flows.change_key(new_key, new_alg))

    async def new_order(
        self,
        csr_pem: CSRInput,
        profile: str | None = None,
        replaces: CertificateInput | None = None,
    ) -> messages.OrderResource:
        """Order a certificate for the CSR's names; authorizations come back fetched.

        ``replaces`` (RFC 9773) is an ARI certificate identifier or the certificate itself.
        """
        return await self._run(self._flows.new_order(csr_pem, profile, replaces))

    async def new_authorization(
        self, identifier: messages.Identifier
    ) -> messages.AuthorizationResource:
        """Pre-authorize an identifier (section 7.4.1)."""
        return await self._run(self._flows.new_authorization(identifier))

    async def poll_authorizations(
        self, orderr: messages.OrderResource, deadline: DeadlineInput
    ) -> messages.OrderResource:
        """Poll until no authorization is pending; `ValidationError` if any is not valid."""
        return await self._run(self._flows.poll_authorizations(orderr, deadline))

    async def answer_challenge(
        self, challb: messages.ChallengeBody, response: Any
    ) -> messages.ChallengeResource:
        """Tell the server a challenge is ready to be validated."""
        return await self._run(self._flows.answer_challenge(challb, response))

    async def deactivate_authorization(
        self, authzr: messages.AuthorizationResource
    ) -> messages.AuthorizationResource:
        """Deactivate an authorization."""
        return await self._run(self._flows.deactivate_authorization(authzr))

    async def begin_finalization(self, orderr: messages.OrderResource) -> messages.OrderResource:
        """Submit the order's CSR."""
        return await self._run(self._flows.begin_finalization(orderr))

    async def poll_finalization(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool = False,
    ) -> messages.OrderResource:
        """Poll a finalized order until valid, then download its chain(s)."""
        return await self._run(
            self._flows.poll_finalization(orderr, deadline, fetch_alternative_chains)
        )

    async def finalize_order(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool = False,
    ) -> messages.OrderResource:
        """Finalize and poll: the order comes back with ``fullchain_pem`` set."""
        return await self._run(
            self._flows.finalize_order(orderr, deadline, fetch_alternative_chains)
        )

    async def poll_and_finalize(
        self, orderr: messages.OrderResource, deadline: DeadlineInput = None
    ) -> messages.OrderResource:
        """Poll authorizations, then finalize (90 s default deadline, shared by both)."""
        return await self._run(self._flows.poll_and_finalize(orderr, deadline))

    async def revoke(self, cert: CertificateInput, rsn: int) -> None:
        """Revoke ``cert`` with reason code ``rsn`` (RFC 5280 section 5.3.1)."""
        await self._run(self._flows.revoke(cert, rsn))

    async def renewal_info(
        self, cert: CertificateInput
    ) -> tuple[messages.RenewalInfo, datetime.datetime]:
        """RFC 9773 renewal information and the aware UTC time to ask again."""
        return await self._run(self._flows.renewal_info(cert))

    async def renewal_time(
        self, cert_pem: bytes
    ) -> tuple[datetime.datetime | None, datetime.datetime]:
        """A random aware time in the suggested window (``None`` without ARI) and the naive
        local time to ask again, as acme 5.x returns them."""
        return await self._run(self._flows.renewal_time(cert_pem))
