"""The synchronous ACME client: `ClientNetwork` (transport and signing) and `ClientV2`.

Every method runs a flow of the sans-I/O core (``acme._core``) with `requests` and
`time.sleep`; no protocol decision lives here. The asyncio client drives the same flows.
"""

from __future__ import annotations

import datetime
import time
import warnings
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TypeVar, cast

import requests
from josepy import jwa, jwk

from acme import errors, messages
from acme._core import account as account_flows
from acme._core import certificate as cert_flows
from acme._core import order as order_flows
from acme._core.common import alg_for_key, to_monotonic
from acme._core.drive import run_sync
from acme._core.http import Flow, HTTPResponse
from acme._core.nonces import REPLAY_NONCE_HEADER
from acme._core.retry import PollPolicy, parse_retry_after
from acme._core.session import (
    JOSE_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    JSON_ERROR_CONTENT_TYPE,
    Session,
    get,
    head,
    post,
)
from acme._legacy import coerce_certificate, coerce_csr_pem, coerce_jwk
from acme._sync_transport import DEFAULT_MAX_BODY, RequestsTransport

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
DEFAULT_NETWORK_TIMEOUT = 45
_DEPRECATED = {"DER_CONTENT_TYPE": "application/pkix-cert"}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        warnings.warn(f"acme.client.{name} is deprecated", DeprecationWarning, stacklevel=2)
        return _DEPRECATED[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ClientNetwork:
    """Signs and sends requests for one account key, over one keep-alive connection pool.

    ``verify_ssl`` is a bool or a CA bundle path. Without a key the object can GET but not
    POST; with a key and no account it signs with an embedded ``jwk`` (revocation by
    certificate key). ``allow_insecure_loopback`` lets tests use ``http://127.0.0.1`` URLs.
    A request rejected for ``badNonce`` is signed again with the server's fresh nonce, up to
    ``max_nonce_attempts`` attempts in all (RFC 8555 section 6.5).
    """

    JSON_CONTENT_TYPE = JSON_CONTENT_TYPE
    JOSE_CONTENT_TYPE = JOSE_CONTENT_TYPE
    JSON_ERROR_CONTENT_TYPE = JSON_ERROR_CONTENT_TYPE
    REPLAY_NONCE_HEADER = REPLAY_NONCE_HEADER

    def __init__(
        self,
        key: Any = None,
        account: messages.RegistrationResource | None = None,
        alg: jwa.JWASignature | None = None,
        verify_ssl: bool | str = True,
        user_agent: str = "acme-python",
        timeout: float = DEFAULT_NETWORK_TIMEOUT,
        *,
        allow_insecure_loopback: bool = False,
        poll_policy: PollPolicy | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_nonce_attempts: int = 5,
    ) -> None:
        jwk_key = coerce_jwk(key) if key is not None else None
        if alg is None:
            alg = alg_for_key(jwk_key) if jwk_key is not None else jwa.RS256
        self.session = Session(
            key=jwk_key,
            alg=alg,
            user_agent=user_agent,
            allow_insecure_loopback=allow_insecure_loopback,
            policy=poll_policy or PollPolicy(),
            max_nonce_attempts=max_nonce_attempts,
        )
        self.transport = RequestsTransport(verify_ssl, float(timeout), max_body)
        self._account: messages.RegistrationResource | None = None
        self.account = account

    @property
    def key(self) -> jwk.JWK | None:
        return self.session.key

    @key.setter
    def key(self, value: Any) -> None:
        self.session.key = coerce_jwk(value) if value is not None else None

    @property
    def alg(self) -> jwa.JWASignature:
        return self.session.alg

    @alg.setter
    def alg(self, value: jwa.JWASignature) -> None:
        self.session.alg = value

    @property
    def account(self) -> messages.RegistrationResource | None:
        return self._account

    @account.setter
    def account(self, regr: messages.RegistrationResource | None) -> None:
        self._account = regr
        self.session.account_url = regr.uri if regr is not None else None

    @property
    def verify_ssl(self) -> bool | str:
        return self.transport.verify

    @property
    def user_agent(self) -> str:
        return self.session.user_agent

    def run(self, flow: Flow[T]) -> T:
        """Drive one core flow with this network's transport (blocking)."""
        return run_sync(flow, self.transport.send, time.sleep)

    def head(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """HEAD ``url``; any ``Replay-Nonce`` is kept for the next POST."""
        return _raw(self.run(head(self.session, url)))

    def get(
        self, url: str, content_type: str = JSON_CONTENT_TYPE, **kwargs: Any
    ) -> requests.Response:
        """Unsigned GET; error responses raise (`messages.Error`, `ClientError`)."""
        accept = content_type if content_type != JSON_CONTENT_TYPE else None
        return _raw(self.run(get(self.session, url, accept=accept)))

    def post(
        self,
        url: str,
        obj: Any,
        content_type: str = JOSE_CONTENT_TYPE,
        new_nonce_url: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Sign ``obj`` (``None`` for POST-as-GET) and POST it; errors raise."""
        if new_nonce_url is not None:
            self.session.new_nonce_url = new_nonce_url
        accept = (
            content_type if content_type not in (JOSE_CONTENT_TYPE, JSON_CONTENT_TYPE) else None
        )
        embed = self.session.account_url is None
        return _raw(self.run(post(self.session, url, obj, embed_jwk=embed, accept=accept)))

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    def __enter__(self) -> ClientNetwork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _raw(response: HTTPResponse) -> requests.Response:
    """The driver's own response object (a `requests.Response`, as 5.x callers expect)."""
    return cast(requests.Response, response.raw if response.raw is not None else response)


class ClientBase:
    """Shared base of the ACME clients (acme 1.x name): a directory and a network."""

    def __init__(self, directory: messages.Directory, net: ClientNetwork) -> None:
        self.directory = directory
        self.net = net
        if "newNonce" in directory:
            net.session.new_nonce_url = directory["newNonce"]

    def _run(self, flow: Flow[T]) -> T:
        return self.net.run(flow)


class ClientV2(ClientBase):
    """ACME (RFC 8555) client: accounts, orders, challenges, certificates, renewal info."""

    @classmethod
    def get_directory(cls, url: str, net: ClientNetwork) -> messages.Directory:
        """Fetch the directory at ``url``."""
        return net.run(account_flows.fetch_directory(net.session, url))

    # Accounts (RFC 8555 section 7.3).

    def new_account(self, new_account: messages.NewRegistration) -> messages.RegistrationResource:
        """Register; raises `ConflictError` (with the URL) if the key already has an account."""
        regr = self._run(account_flows.new_account(self.net.session, self.directory, new_account))
        self.net.account = regr
        return regr

    def query_registration(
        self, regr: messages.RegistrationResource
    ) -> messages.RegistrationResource:
        """Fetch the key's account (``onlyReturnExisting``) and make it the current one."""
        flow = account_flows.query_account(self.net.session, self.directory, regr)
        self.net.account = self._run(flow)
        return self.net.account

    def update_registration(
        self,
        regr: messages.RegistrationResource,
        update: messages.Registration | None = None,
    ) -> messages.RegistrationResource:
        """Update the account's contacts."""
        new = self._run(account_flows.update_account(self.net.session, regr, update))
        self.net.account = new
        return new

    def deactivate_registration(
        self, regr: messages.RegistrationResource
    ) -> messages.RegistrationResource:
        """Deactivate the account for good."""
        return self._run(account_flows.deactivate_account(self.net.session, regr))

    def external_account_required(self) -> bool:
        """Whether the server requires external account binding (section 7.3.4)."""
        meta = self.directory.meta
        return bool(meta is not None and meta.external_account_required)

    def change_key(self, new_key: Any, new_alg: jwa.JWASignature | None = None) -> None:
        """Roll the account over to ``new_key`` (section 7.3.5); later requests use it."""
        key = coerce_jwk(new_key)
        alg = new_alg or alg_for_key(key)
        self._run(account_flows.change_key(self.net.session, self.directory, key, alg))

    # Orders and authorizations (sections 7.4, 7.5).

    def new_order(
        self, csr_pem: Any, profile: str | None = None, replaces: Any = None
    ) -> messages.OrderResource:
        """Order a certificate for the CSR's names; authorizations come back fetched.

        ``replaces`` (RFC 9773) is an ARI certificate identifier or the certificate itself.
        """
        replaces_id = _replaces_id(replaces)
        flow = order_flows.new_order(
            self.net.session, self.directory, coerce_csr_pem(csr_pem), profile, replaces_id
        )
        return self._run(flow)

    def new_authorization(self, identifier: messages.Identifier) -> messages.AuthorizationResource:
        """Pre-authorize an identifier (section 7.4.1)."""
        return self._run(
            order_flows.new_authorization(self.net.session, self.directory, identifier)
        )

    def poll(
        self, authzr: messages.AuthorizationResource
    ) -> tuple[messages.AuthorizationResource, requests.Response]:
        """Fetch an authorization once; returns it with the HTTP response."""
        new, response = self._run(order_flows.poll_authorization(self.net.session, authzr.uri))
        return new, _raw(response)

    def poll_authorizations(
        self, orderr: messages.OrderResource, deadline: Any
    ) -> messages.OrderResource:
        """Poll until every authorization is final; `ValidationError` if any failed."""
        until = to_monotonic(self.net.session, deadline)
        return self._run(order_flows.poll_authorizations(self.net.session, orderr, until))

    def answer_challenge(
        self, challb: messages.ChallengeBody, response: Any
    ) -> messages.ChallengeResource:
        """Tell the server a challenge is ready to be validated."""
        return self._run(order_flows.answer_challenge(self.net.session, challb, response))

    def deactivate_authorization(
        self, authzr: messages.AuthorizationResource
    ) -> messages.AuthorizationResource:
        """Deactivate an authorization."""
        return self._run(order_flows.deactivate_authorization(self.net.session, authzr))

    # Finalization and download.

    def begin_finalization(self, orderr: messages.OrderResource) -> messages.OrderResource:
        """Submit the order's CSR."""
        return self._run(order_flows.begin_finalization(self.net.session, orderr))

    def poll_finalization(
        self,
        orderr: messages.OrderResource,
        deadline: Any,
        fetch_alternative_chains: bool = False,
    ) -> messages.OrderResource:
        """Poll a finalized order until valid, then download its chain(s)."""
        until = to_monotonic(self.net.session, deadline)
        session = self.net.session

        def flow() -> Flow[messages.OrderResource]:
            valid = yield from order_flows.poll_order(session, orderr, until)
            return (
                yield from cert_flows.download_certificate(session, valid, fetch_alternative_chains)
            )

        return self._run(flow())

    def finalize_order(
        self,
        orderr: messages.OrderResource,
        deadline: Any,
        fetch_alternative_chains: bool = False,
    ) -> messages.OrderResource:
        """Finalize and poll: the order comes back with ``fullchain_pem`` set."""
        return self.poll_finalization(
            self.begin_finalization(orderr), deadline, fetch_alternative_chains
        )

    def poll_and_finalize(
        self, orderr: messages.OrderResource, deadline: Any = None
    ) -> messages.OrderResource:
        """Poll authorizations, then finalize (90 s default deadline, shared by both)."""
        if deadline is None:
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=90)
        orderr = self.poll_authorizations(orderr, deadline)
        return self.finalize_order(orderr, deadline)

    def orders(self, regr: messages.RegistrationResource | None = None) -> Iterator[str]:
        """The URLs of the account's orders, across every page of the orders list."""
        regr = regr or self.net.account
        url = regr.body.orders if regr is not None else None
        if not url:
            raise errors.ClientError("The account object names no orders list")
        return iter(self._run(cert_flows.list_orders(self.net.session, url)))

    # Revocation and renewal information.

    def revoke(self, cert: Any, rsn: int) -> None:
        """Revoke ``cert`` with reason code ``rsn`` (RFC 5280 section 5.3.1)."""
        certificate = coerce_certificate(cert)
        self._run(cert_flows.revoke(self.net.session, self.directory, certificate, rsn))

    def renewal_info(self, cert: Any) -> tuple[messages.RenewalInfo, datetime.datetime]:
        """RFC 9773 renewal information and the aware UTC time to ask again."""
        flow = cert_flows.renewal_info(self.net.session, self.directory, coerce_certificate(cert))
        info, retry = self._run(flow)
        return info, self.net.session.now() + datetime.timedelta(seconds=retry)

    def renewal_time(self, cert_pem: bytes) -> tuple[datetime.datetime | None, datetime.datetime]:
        """acme 5.x form: a random (aware) time in the suggested window, or ``None`` when the
        server has no ARI, and the naive local time to ask again."""
        naive_now = datetime.datetime.now()
        if "renewalInfo" not in self.directory:
            return None, naive_now + datetime.timedelta(seconds=cert_flows.ARI_DEFAULT_RETRY)
        try:
            info, retry_at = self.renewal_info(cert_pem)
        except errors.ARIError as error:
            error.retry_after = _naive_local(error.retry_after)
            raise
        window = info.suggested_window
        span = max(0.0, (window.end - window.start).total_seconds())
        chosen = window.start + datetime.timedelta(seconds=self.net.session.rand() * span)
        return chosen, _naive_local(retry_at)

    @classmethod
    def retry_after(cls, response: Any, default: int) -> datetime.datetime:
        """When to poll again per ``Retry-After`` (naive local time, as acme 5.x returns)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        seconds = parse_retry_after(response.headers.get("Retry-After"), now)
        if seconds is None or seconds < 0:
            seconds = default
        return datetime.datetime.now() + datetime.timedelta(seconds=seconds)


def _naive_local(when: datetime.datetime) -> datetime.datetime:
    if when.tzinfo is None:
        return when
    return when.astimezone().replace(tzinfo=None)


def _replaces_id(replaces: Any) -> str | None:
    if replaces is None or isinstance(replaces, str):
        return replaces
    from acme import _ari

    return _ari.certificate_identifier(coerce_certificate(replaces))


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


class Client(ClientBase):
    """ACMEv1 client (acme 1.x). ACMEv1 servers no longer exist; this refuses to start."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("acme.client.Client (ACMEv1) is deprecated", DeprecationWarning, stacklevel=2)
        raise errors.Error("ACMEv1 is not supported by any CA any more: use ClientV2")
