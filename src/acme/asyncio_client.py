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
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

from josepy import jwa

from acme import messages
from acme._core import account as account_flows
from acme._core.context import Context
from acme._core.deadlines import within
from acme._core.drive import CALL_DEADLINE, SIGN_WITH_JWK, run_async, run_net_async
from acme._core.http import (
    DEFAULT_MAX_BODY,
    JOSE_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    Flow,
    HTTPResponse,
    NetFlow,
)
from acme._core.operations import ClientFlows
from acme._core.retry import PollPolicy
from acme._core.session import get_expecting, head, new_session, post_expecting
from acme._net.accessors import SessionAccessors
from acme._net.async_transport import AiohttpTransport, AsyncTransport, HttpxTransport
from acme._wire.timestamps import utcnow

__all__ = ["AsyncClientNetwork", "AsyncClientV2"]

T = TypeVar("T")
_Network = TypeVar("_Network", bound="AsyncClientNetwork")


class AsyncClientNetwork(SessionAccessors):
    """Signs and sends requests for one account key over one shared connection pool.

    Same arguments as `acme.client.ClientNetwork`, plus ``http_library`` ("aiohttp" or
    "httpx") and ``http2`` (httpx only; needs the ``h2`` package). aiohttp is the default
    because it costs less client CPU per request.

    ``proxy`` (an ``http://`` proxy URL) carries every request; without one, while
    ``trust_env`` is true, the environment's proxy variables are honoured. ``source_address``
    binds outgoing connections to a local address. The total deadline per request holds
    either way. ``verify_ssl`` and ``user_agent`` may be changed after construction.
    """

    #: ``post`` signs with ``jwk`` when the client's driver asks (see ``acme._core.drive``).
    understands_sign_with_jwk = True

    def __init__(
        self,
        key: AccountKeyInput | None = None,
        account: messages.RegistrationResource | None = None,
        alg: jwa.JWASignature | None = None,
        verify_ssl: bool | str = True,
        user_agent: str = "acme-python",
        timeout: float = 45,
        source_address: str | tuple[str, int] | None = None,
        *,
        allow_insecure_loopback: bool = False,
        poll_policy: PollPolicy | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_nonce_attempts: int | None = None,
        http_library: Literal["aiohttp", "httpx"] = "aiohttp",
        http2: bool = False,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        self.acme_session = new_session(
            key, alg, user_agent, allow_insecure_loopback, poll_policy, max_nonce_attempts, account
        )
        self.poll_policy = poll_policy
        self.transport: AsyncTransport
        if http_library == "httpx":
            self.transport = HttpxTransport(
                verify_ssl,
                float(timeout),
                max_body,
                http2=http2,
                source_address=source_address,
                proxy=proxy,
                trust_env=trust_env,
            )
        else:
            self.transport = AiohttpTransport(
                verify_ssl,
                float(timeout),
                max_body,
                source_address=source_address,
                proxy=proxy,
                trust_env=trust_env,
            )

    @property
    def verify_ssl(self) -> bool | str:
        """``True`` (system CAs), ``False`` (no verification) or a CA bundle path; settable."""
        return self.transport.verify

    @verify_ssl.setter
    def verify_ssl(self, value: bool | str) -> None:
        self.transport.set_verify(value)

    @property
    def proxy(self) -> str | None:
        """The proxy URL every request goes through, if one was given."""
        return self.transport.proxy

    @property
    def source_address(self) -> tuple[str, int] | None:
        """The local ``(host, port)`` outgoing connections are bound to, if any."""
        return self.transport.source_address

    async def run(self, flow: Flow[T]) -> T:
        """Drive one flow of the signing layer on this network's transport, within the
        deadline of the client call it runs for, if any (`CALL_DEADLINE`)."""
        bound = CALL_DEADLINE.get()
        if bound is None:
            return await run_async(flow, self.transport.send, asyncio.sleep)
        deadline, clock = bound
        return await run_async(within(flow, deadline), self.transport.send, asyncio.sleep, clock)

    async def head(self, url: str) -> HTTPResponse:
        """HEAD ``url``; any ``Replay-Nonce`` is kept for the next POST."""
        return await self.run(head(self.acme_session, url))

    async def get(self, url: str, content_type: str = JSON_CONTENT_TYPE) -> HTTPResponse:
        """Unsigned GET; error responses raise (`messages.Error`, `ClientError`)."""
        return await self.run(get_expecting(self.acme_session, url, content_type))

    async def post(
        self,
        url: str,
        obj: Any,
        content_type: str = JOSE_CONTENT_TYPE,
        new_nonce_url: str | None = None,
        **kwargs: Any,
    ) -> HTTPResponse:
        """Sign ``obj`` (``None`` for POST-as-GET) and POST it; errors raise."""
        if new_nonce_url is not None:
            self.acme_session.new_nonce_url = new_nonce_url
        flow = post_expecting(self.acme_session, url, obj, content_type, SIGN_WITH_JWK.get())
        return await self.run(flow)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.transport.close()

    async def __aenter__(self: _Network) -> _Network:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncClientV2:
    """The `acme.client.ClientV2` operations as coroutines; see there for each method.

    It speaks to ``net`` only through ``await net.post``/``get``/``head``; ``sleep``,
    ``clock``, ``now``, ``rand`` and ``poll_policy`` are the client's, as in `ClientV2`.
    """

    acme_version = 2

    def __init__(self, directory: messages.Directory, net: Any) -> None:
        self.directory = directory
        self.net = net
        self.sleep: Callable[[float], Awaitable[None]] = _sleep
        self.clock: Callable[[], float] = time.monotonic
        self.now: Callable[[], datetime.datetime] = utcnow
        self.rand: Callable[[], float] = random.random
        policy = getattr(net, "poll_policy", None)
        self.poll_policy = policy if isinstance(policy, PollPolicy) else PollPolicy()

    @property
    def _flows(self) -> ClientFlows:
        ctx = Context(self.directory, self.net, self.clock, self.now, self.rand, self.poll_policy)
        return ClientFlows(ctx)

    async def _run(self, flow: NetFlow[T]) -> T:
        return await run_net_async(flow, self.net, self.sleep, self.clock)

    @classmethod
    async def get_directory(cls, url: str, net: Any) -> messages.Directory:
        """Fetch the directory at ``url`` (``await net.get``)."""
        return await run_net_async(account_flows.fetch_directory(url), net, _sleep)

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
