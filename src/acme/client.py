"""The synchronous ACME client: `ClientNetwork` (transport and signing) and `ClientV2`.

Every method runs a flow of the sans-I/O core (``acme._core``); no protocol decision lives
here. `ClientV2` runs the operation flows and answers their requests by calling its network
object's ``post``/``get``/``head`` (as acme 5.x does); `ClientNetwork` runs the signing flows
inside those methods, with `requests`. The asyncio client drives the same flows.

``DER_CONTENT_TYPE`` (``application/pkix-cert``) is kept for acme 1.x callers and warns when
used.

Importing this module is cheap: josepy, cryptography and requests are imported when the first
network object is created, not at ``import acme.client`` (most of the import cost of acme 5.x).
"""

from __future__ import annotations

import contextlib
import datetime
import random
import time
import warnings
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from acme._core.drive import CALL_DEADLINE, run_net_sync, run_sync
from acme._core.http import (
    DEFAULT_MAX_BODY,
    JOSE_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    JSON_ERROR_CONTENT_TYPE,
    REPLAY_NONCE_HEADER,
)
from acme._core.retry import PollPolicy, retry_time
from acme._net.accessors import SessionAccessors
from acme._wire.timestamps import utcnow

if TYPE_CHECKING:  # pragma: no cover
    import requests
    from josepy import jwa

    from acme import messages
    from acme._core.http import Flow, HTTPResponse, NetFlow
    from acme._core.operations import ClientFlows
    from acme._wire.inputs import AccountKeyInput, CertificateInput, CSRInput, DeadlineInput

__all__ = [
    "DEFAULT_NETWORK_TIMEOUT",
    "DER_CONTENT_TYPE",  # noqa: F822 - served (with a warning) by __getattr__
    "BackwardsCompatibleClientV2",
    "Client",
    "ClientBase",
    "ClientNetwork",
    "ClientV2",
]

T = TypeVar("T")
_Network = TypeVar("_Network", bound="ClientNetwork")
#: Seconds one request may take, connect and whole response (``ClientNetwork(timeout=)``).
DEFAULT_NETWORK_TIMEOUT = 45
_DEPRECATED = {"DER_CONTENT_TYPE": "application/pkix-cert"}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        warnings.warn(f"acme.client.{name} is deprecated", DeprecationWarning, stacklevel=2)
        return _DEPRECATED[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ClientNetwork(SessionAccessors):
    """Signs and sends requests for one account key, over one keep-alive connection pool.

    ``verify_ssl`` is a bool or a CA bundle path. Without a key the object can GET but not
    POST; with a key and no account it signs with an embedded ``jwk`` (revocation by
    certificate key). ``allow_insecure_loopback`` lets tests use ``http://127.0.0.1`` URLs.
    A request rejected for ``badNonce`` is signed again with the server's fresh nonce until
    the call's deadline (RFC 8555 section 6.5), at most ``max_nonce_attempts`` times in all
    (default 100). A client call with a deadline returns by it, even with a request in
    flight: each request gets the smaller of ``timeout`` and the time left.

    ``session`` is the `requests.Session` (as in acme 5.x: mount adapters, add hooks, set
    ``proxies``); the adapters it starts with enforce ``timeout`` as a total deadline per
    request, also through an HTTP proxy. Proxies come from ``session.proxies`` and, while
    ``session.trust_env`` is true, from the environment (``HTTPS_PROXY``, ``NO_PROXY``...).
    ``source_address`` (acme 1.x) binds outgoing connections to that local address (a host,
    or a ``(host, port)`` pair). The signing state (key, account, nonces) is ``acme_session``.
    ``poll_policy`` is the default polling policy of the clients built on this network.
    """

    JSON_CONTENT_TYPE = JSON_CONTENT_TYPE
    JOSE_CONTENT_TYPE = JOSE_CONTENT_TYPE
    JSON_ERROR_CONTENT_TYPE = JSON_ERROR_CONTENT_TYPE
    REPLAY_NONCE_HEADER = REPLAY_NONCE_HEADER
    #: ``post`` signs with ``jwk`` when the client's driver asks (see ``acme._core.drive``).
    understands_sign_with_jwk = True

    def __init__(
        self,
        key: AccountKeyInput | None = None,
        account: messages.RegistrationResource | None = None,
        alg: jwa.JWASignature | None = None,
        verify_ssl: bool | str = True,
        user_agent: str = "acme-python",
        timeout: float = DEFAULT_NETWORK_TIMEOUT,
        source_address: str | tuple[str, int] | None = None,
        *,
        allow_insecure_loopback: bool = False,
        poll_policy: PollPolicy | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_nonce_attempts: int | None = None,
    ) -> None:
        from acme._core.session import new_session
        from acme._net.sync_transport import RequestsTransport

        self.acme_session = new_session(
            key, alg, user_agent, allow_insecure_loopback, poll_policy, max_nonce_attempts, account
        )
        self.transport = RequestsTransport(
            verify_ssl, float(timeout), max_body, source_address=source_address
        )
        self.poll_policy = poll_policy

    @property
    def session(self) -> requests.Session:
        """The `requests.Session` every request goes through."""
        return self.transport.session

    @session.setter
    def session(self, value: requests.Session) -> None:
        self.transport.session = value

    @property
    def verify_ssl(self) -> bool | str:
        """What HTTPS certificates are checked against: True (system store), a CA bundle path,
        or False; settable."""
        return self.transport.verify

    @verify_ssl.setter
    def verify_ssl(self, value: bool | str) -> None:
        self.transport.verify = value

    @property
    def source_address(self) -> tuple[str, int] | None:
        """The local ``(host, port)`` outgoing connections are bound to, if any."""
        return self.transport.source_address

    def run(self, flow: Flow[T]) -> T:
        """Drive one flow of the signing layer with this network's transport (blocking),
        within the deadline of the client call it runs for, if any (`CALL_DEADLINE`)."""
        bound = CALL_DEADLINE.get()
        if bound is None:
            return run_sync(flow, self.transport.send, time.sleep)
        from acme._core.deadlines import within

        deadline, clock = bound
        return run_sync(within(flow, deadline), self.transport.send, time.sleep, clock)

    def head(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """HEAD ``url``; any ``Replay-Nonce`` is kept for the next POST."""
        from acme._core.session import head

        return _raw(self.run(head(self.acme_session, url)))

    def get(
        self, url: str, content_type: str = JSON_CONTENT_TYPE, **kwargs: Any
    ) -> requests.Response:
        """Unsigned GET; error responses raise (`messages.Error`, `ClientError`)."""
        from acme._core.session import get_expecting

        return _raw(self.run(get_expecting(self.acme_session, url, content_type)))

    def post(
        self,
        url: str,
        obj: Any,
        content_type: str = JOSE_CONTENT_TYPE,
        new_nonce_url: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Sign ``obj`` (``None`` for POST-as-GET) and POST it; errors raise.

        Signed with the account URL as ``kid``, or with the key's ``jwk`` when there is no
        account or when the client's driver asks for it (newAccount, RFC 8555 section 6.2).
        """
        from acme._core.drive import SIGN_WITH_JWK
        from acme._core.session import post_expecting

        if new_nonce_url is not None:
            self.acme_session.new_nonce_url = new_nonce_url
        flow = post_expecting(self.acme_session, url, obj, content_type, SIGN_WITH_JWK.get())
        return _raw(self.run(flow))

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    def __del__(self) -> None:
        # acme 5.x closes its session when the network object is collected; so do we (the
        # deadline thread is told to stop, not joined: this may run on any thread).
        transport = self.__dict__.get("transport")
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.release()

    def __enter__(self: _Network) -> _Network:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _raw(response: HTTPResponse) -> requests.Response:
    """The network's own response object (a `requests.Response`, as 5.x callers expect)."""
    return cast("requests.Response", response.raw if response.raw is not None else response)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at each call, so tests that patch time.sleep take effect


class ClientBase:
    """Shared base of the ACME clients (acme 1.x): a directory, a network, a protocol version.

    The client speaks to ``net`` only through ``net.post``, ``net.get`` and ``net.head``, as
    acme 5.x does: a `ClientNetwork` subclass overriding them, or any object with the same
    methods (and ``key``, ``alg``, ``account`` attributes), sees every request. What polling
    needs is the client's: ``sleep``, ``clock`` (monotonic seconds), ``now`` (aware UTC),
    ``rand`` (jitter) and ``poll_policy``, all replaceable (tests run without sleeping).
    """

    def __init__(self, directory: messages.Directory, net: Any, acme_version: int = 2) -> None:
        from acme._core.retry import PollPolicy

        self.directory = directory
        self.net = net
        self.acme_version = acme_version
        self.sleep: Callable[[float], None] = _sleep
        self.clock: Callable[[], float] = time.monotonic
        self.now: Callable[[], datetime.datetime] = utcnow
        self.rand: Callable[[], float] = random.random
        policy = getattr(net, "poll_policy", None)
        self.poll_policy = policy if isinstance(policy, PollPolicy) else PollPolicy()

    @property
    def _flows(self) -> ClientFlows:
        from acme._core.context import Context
        from acme._core.operations import ClientFlows

        ctx = Context(self.directory, self.net, self.clock, self.now, self.rand, self.poll_policy)
        return ClientFlows(ctx)

    def _run(self, flow: NetFlow[T]) -> T:
        return run_net_sync(flow, self.net, self.sleep, self.clock)

    def update_registration(
        self, regr: messages.RegistrationResource, update: messages.Registration | None = None
    ) -> messages.RegistrationResource:
        """Update the account (its contacts, when ``update`` is ``None``).

        A saved account URL the server no longer knows is replaced by the one found by key
        (RFC 8555 section 7.3.1), and the update sent there.
        """
        return self._run(self._flows.update_registration(regr, update))

    def deactivate_registration(
        self, regr: messages.RegistrationResource
    ) -> messages.RegistrationResource:
        """Deactivate the account for good (a stale account URL is looked up first)."""
        return self._run(self._flows.deactivate_registration(regr))

    def deactivate_authorization(
        self, authzr: messages.AuthorizationResource
    ) -> messages.AuthorizationResource:
        """Deactivate an authorization."""
        return self._run(self._flows.deactivate_authorization(authzr))

    def answer_challenge(
        self, challb: messages.ChallengeBody, response: Any
    ) -> messages.ChallengeResource:
        """Tell the server a challenge is ready to be validated."""
        return self._run(self._flows.answer_challenge(challb, response))

    @classmethod
    def retry_after(cls, response: Any, default: int) -> datetime.datetime:
        """When to poll again per ``Retry-After`` (naive local time, as acme 5.x returns).

        The rule is the core's `retry_time`; ``datetime.datetime.now()`` is read here, once and
        with no argument, as acme 5.x does, so programs' tests can still replace it.
        """
        now = datetime.datetime.now()
        when = retry_time(
            response.headers.get("Retry-After"), now, default, PollPolicy.max_retry_after
        )
        assert when is not None  # a default was given
        return when


class ClientV2(ClientBase):
    """ACME (RFC 8555) client: accounts, orders, challenges, certificates, renewal info.

    Each method drives the flow of the same name in ``acme._core.operations.ClientFlows``; the
    asyncio client drives the very same flows.
    """

    def __init__(self, directory: messages.Directory, net: Any) -> None:
        super().__init__(directory, net, acme_version=2)

    @classmethod
    def get_directory(cls, url: str, net: Any) -> messages.Directory:
        """Fetch the directory at ``url`` (``net.get``)."""
        from acme._core.account import fetch_directory

        return run_net_sync(fetch_directory(url), net, _sleep)

    def external_account_required(self) -> bool:
        """Whether the server requires external account binding (section 7.3.4)."""
        return self._flows.external_account_required()

    def poll(
        self, authzr: messages.AuthorizationResource
    ) -> tuple[messages.AuthorizationResource, requests.Response]:
        """Fetch an authorization once; returns it with the HTTP response."""
        new, response = self._run(self._flows.poll(authzr))
        return new, _raw(response)

    def orders(self, regr: messages.RegistrationResource | None = None) -> Iterator[str]:
        """The URLs of the account's orders, across every page of the orders list."""
        return iter(self._run(self._flows.orders(regr)))

    def new_account(self, new_account: messages.NewRegistration) -> messages.RegistrationResource:
        """Register; raises `ConflictError` (with the URL) if the key already has an account.

        The new account becomes ``net.account``, which later requests are signed for.
        """
        return self._run(self._flows.new_account(new_account))

    def query_registration(
        self, regr: messages.RegistrationResource
    ) -> messages.RegistrationResource:
        """Fetch the key's account (``onlyReturnExisting``) and make it ``net.account``."""
        return self._run(self._flows.query_registration(regr))

    def change_key(self, new_key: AccountKeyInput, new_alg: jwa.JWASignature | None = None) -> None:
        """Roll the account over to ``new_key`` (section 7.3.5); later requests use it."""
        self._run(self._flows.change_key(new_key, new_alg))

    def new_order(
        self,
        csr_pem: CSRInput,
        profile: str | None = None,
        replaces: CertificateInput | None = None,
    ) -> messages.OrderResource:
        """Order a certificate for the CSR's names; authorizations come back fetched.

        ``replaces`` (RFC 9773) is an ARI certificate identifier or the certificate itself.
        """
        return self._run(self._flows.new_order(csr_pem, profile, replaces))

    def new_authorization(self, identifier: messages.Identifier) -> messages.AuthorizationResource:
        """Pre-authorize an identifier (section 7.4.1)."""
        return self._run(self._flows.new_authorization(identifier))

    def poll_authorizations(
        self, orderr: messages.OrderResource, deadline: DeadlineInput
    ) -> messages.OrderResource:
        """Poll until no authorization is pending; `ValidationError` if any is not valid."""
        return self._run(self._flows.poll_authorizations(orderr, deadline))

    def begin_finalization(self, orderr: messages.OrderResource) -> messages.OrderResource:
        """Submit the order's CSR (once)."""
        return self._run(self._flows.begin_finalization(orderr))

    def poll_finalization(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool = False,
    ) -> messages.OrderResource:
        """Poll a finalized order until valid, then download its chain(s)."""
        return self._run(self._flows.poll_finalization(orderr, deadline, fetch_alternative_chains))

    def finalize_order(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool = False,
    ) -> messages.OrderResource:
        """Finalize and poll: the order comes back with ``fullchain_pem`` set.

        Picks up where the order is: ``orderNotReady`` waits for the order to be ready, and an
        order already finalized (a retry whose answer was lost) is polled, not finalized again.
        """
        return self._run(self._flows.finalize_order(orderr, deadline, fetch_alternative_chains))

    def poll_and_finalize(
        self, orderr: messages.OrderResource, deadline: DeadlineInput = None
    ) -> messages.OrderResource:
        """Poll authorizations, then finalize (90 s default deadline, shared by both)."""
        return self._run(self._flows.poll_and_finalize(orderr, deadline))

    def revoke(self, cert: CertificateInput, rsn: int) -> None:
        """Revoke ``cert`` with reason code ``rsn`` (RFC 5280 section 5.3.1)."""
        self._run(self._flows.revoke(cert, rsn))

    def renewal_info(
        self, cert: CertificateInput
    ) -> tuple[messages.RenewalInfo, datetime.datetime]:
        """RFC 9773 renewal information and the aware UTC time to ask again.

        An expired certificate raises `acme.errors.ClientError` without a request: it is due
        for renewal now (RFC 9773 section 4.3 forbids asking about it).
        """
        return self._run(self._flows.renewal_info(cert))

    def renewal_time(self, cert_pem: bytes) -> tuple[datetime.datetime | None, datetime.datetime]:
        """A random aware time in the suggested window (``None`` without ARI) and the naive
        local time to ask again, as acme 5.x returns them."""
        return self._run(self._flows.renewal_time(cert_pem))


class BackwardsCompatibleClientV2(ClientV2):
    """acme 1.x name for a client built from a key and a directory URL. Deprecated."""

    def __init__(self, net: ClientNetwork, key: Any, server: str) -> None:
        warnings.warn(
            "BackwardsCompatibleClientV2 is deprecated: use ClientV2",
            DeprecationWarning,
            stacklevel=2,
        )
        if net.key is None:
            net.key = key
        super().__init__(ClientV2.get_directory(server, net), net)
        self.acme_version = 2

    def new_account_and_tos(
        self,
        regr: messages.NewRegistration,
        check_tos_cb: Callable[[str], None] | None = None,
    ) -> messages.RegistrationResource:
        """Register, agreeing to the directory's terms of service (acme 1.x).

        When the directory names terms of service, ``check_tos_cb(url)`` is called first (it
        raises to refuse them), then the account is created with ``termsOfServiceAgreed``
        (RFC 8555 section 7.3).
        """
        meta = self.directory.meta
        terms = meta.terms_of_service if meta is not None else None
        if terms is not None:
            if check_tos_cb is not None:
                check_tos_cb(terms)
            regr = regr.update(terms_of_service_agreed=True)
        return self.new_account(regr)


class Client(ClientBase):
    """ACMEv1 client (acme 1.x). ACMEv1 servers no longer exist; this refuses to start."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from acme import errors

        warnings.warn("acme.client.Client (ACMEv1) is deprecated", DeprecationWarning, stacklevel=2)
        raise errors.Error("ACMEv1 is not supported by any CA any more: use ClientV2")
