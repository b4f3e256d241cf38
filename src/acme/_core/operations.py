"""Every client operation as a flow: the single implementation behind ClientV2 and AsyncClientV2.

The sync and async clients are one-line wrappers that drive these flows; any rule about what
an operation sends, checks or returns lives here (or in the flow modules it composes). The
flows ask the client's network object for requests (`Post`, `Get`, `Head` effects, see
``acme._core.context``); the network object signs them (``acme._core.session``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from acme._wire.inputs import AccountKeyInput, CertificateInput, CSRInput, DeadlineInput

import datetime
from typing import Any

from josepy import jwa

from acme import errors, messages
from acme._core import account as account_flows
from acme._core import certificate as cert_flows
from acme._core import order as order_flows
from acme._core.context import Context
from acme._core.deadlines import to_monotonic, within
from acme._core.http import HTTPResponse, NetFlow
from acme._core.retry import RetryHint
from acme._wire import renewal_id as _ari
from acme._wire.coercion import coerce_certificate, coerce_csr_pem, coerce_jwk
from acme._wire.keys import alg_for_key

__all__ = ["ClientFlows", "naive_local"]

R = messages.RegistrationResource


class ClientFlows:
    """The operations of one client (a `Context`: directory, network state, clocks), each
    returning a flow of `Post`/`Get`/`Head`/`Sleep` effects."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.directory = ctx.directory

    # Accounts (RFC 8555 section 7.3).

    def external_account_required(self) -> bool:
        """Whether the directory's meta asks for external account binding (7.3.4)."""
        meta = self.directory.meta
        return bool(meta is not None and meta.external_account_required)

    def new_account(self, new_reg: messages.NewRegistration) -> NetFlow[R]:
        regr = yield from account_flows.new_account(self.ctx, new_reg)
        self.ctx.net.account = regr
        return regr

    def query_registration(self, regr: R | None) -> NetFlow[R]:
        found = yield from account_flows.query_account(self.ctx, regr)
        self.ctx.net.account = found
        return found

    def find_account(self) -> NetFlow[R | None]:
        """The key's account (made current), or None if the CA has none for the key."""
        found = yield from account_flows.find_account(self.ctx)
        if found is not None:
            self.ctx.net.account = found
        return found

    def register_or_adopt(self, new_reg: messages.NewRegistration) -> NetFlow[tuple[R, bool]]:
        """Register the key, or adopt its existing account; ``(account, adopted)``."""
        regr, adopted = yield from account_flows.register_or_adopt(self.ctx, new_reg)
        self.ctx.net.account = regr
        return regr, adopted

    def update_registration(self, regr: R, update: messages.Registration | None) -> NetFlow[R]:
        def send(current: R) -> NetFlow[R]:
            return account_flows.update_account(self.ctx, current, update)

        new = yield from self._at_current_url(regr, send)
        self.ctx.net.account = new
        return new

    def deactivate_registration(self, regr: R) -> NetFlow[R]:
        def send(current: R) -> NetFlow[R]:
            return account_flows.deactivate_account(self.ctx, current)

        return (yield from self._at_current_url(regr, send))

    def _at_current_url(self, regr: R, send: Callable[[R], NetFlow[R]]) -> NetFlow[R]:
        """Look the account up by key first (section 7.3.1), then ``send`` to the URL found.

        A saved account URL may be stale (an old account file, a CA that changed its URLs);
        servers answer a stale ``kid`` variously (accountDoesNotExist, 404, malformed,
        unauthorized), so acme 5.x always asks, one request more for these rare operations.
        """
        found = yield from self.query_registration(regr)
        return (yield from send(regr.update(uri=found.uri)))

    def change_key(
        self, new_key: AccountKeyInput, new_alg: jwa.JWASignature | None
    ) -> NetFlow[None]:
        key = coerce_jwk(new_key)
        alg = new_alg or alg_for_key(key)
        yield from account_flows.change_key(self.ctx, key, alg)

    # Orders and authorizations (sections 7.4, 7.5).

    def new_order(
        self, csr_pem: CSRInput, profile: str | None, replaces: CertificateInput | None
    ) -> NetFlow[messages.OrderResource]:
        # A string is an RFC 9773 certificate identifier unless it is PEM; anything else is a
        # certificate.
        replaces_id: str | None
        if replaces is None or (isinstance(replaces, str) and "-----BEGIN" not in replaces):
            replaces_id = replaces
        else:
            replaces_id = _ari.certificate_identifier(coerce_certificate(replaces))
        csr = coerce_csr_pem(csr_pem)
        return (yield from order_flows.new_order(self.ctx, csr, profile, replaces_id))

    def new_authorization(
        self, identifier: messages.Identifier
    ) -> NetFlow[messages.AuthorizationResource]:
        return (yield from order_flows.new_authorization(self.ctx, identifier))

    def poll(
        self, authzr: messages.AuthorizationResource
    ) -> NetFlow[tuple[messages.AuthorizationResource, HTTPResponse]]:
        identifier = authzr.body.identifier
        return (yield from order_flows.poll_authorization(self.ctx, authzr.uri, identifier))

    def poll_authorizations(
        self, orderr: messages.OrderResource, deadline: DeadlineInput
    ) -> NetFlow[messages.OrderResource]:
        until = to_monotonic(self.ctx, deadline)
        flow = order_flows.poll_authorizations(self.ctx, orderr, until)
        return (yield from within(flow, until))

    def answer_challenge(
        self, challb: messages.ChallengeBody, response: Any
    ) -> NetFlow[messages.ChallengeResource]:
        return (yield from order_flows.answer_challenge(self.ctx, challb, response))

    def deactivate_authorization(
        self, authzr: messages.AuthorizationResource
    ) -> NetFlow[messages.AuthorizationResource]:
        return (yield from order_flows.deactivate_authorization(self.ctx, authzr))

    # Finalization and download.

    def begin_finalization(self, orderr: messages.OrderResource) -> NetFlow[messages.OrderResource]:
        return (yield from order_flows.begin_finalization(self.ctx, orderr))

    def poll_finalization(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool,
        retry_after: RetryHint | None = None,
    ) -> NetFlow[messages.OrderResource]:
        until = to_monotonic(self.ctx, deadline)
        poll = order_flows.poll_order(self.ctx, orderr, until, retry_after)
        valid = yield from within(poll, until)
        download = cert_flows.download_certificate(self.ctx, valid, fetch_alternative_chains)
        return (yield from within(download, until))

    def finalize_order(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool,
    ) -> NetFlow[messages.OrderResource]:
        until = to_monotonic(self.ctx, deadline)
        orderr, hint = yield from within(order_flows.finalize(self.ctx, orderr, until), until)
        return (yield from self.poll_finalization(orderr, until, fetch_alternative_chains, hint))

    def poll_and_finalize(
        self, orderr: messages.OrderResource, deadline: DeadlineInput
    ) -> NetFlow[messages.OrderResource]:
        """Authorizations then finalization, under one deadline (default 90 s, as in 5.x)."""
        until = to_monotonic(self.ctx, deadline)
        flow = order_flows.poll_authorizations(self.ctx, orderr, until)
        orderr = yield from within(flow, until)
        return (yield from self.finalize_order(orderr, until, False))

    def orders(self, regr: messages.RegistrationResource | None) -> NetFlow[list[str]]:
        regr = regr or self.ctx.net.account
        url = regr.body.orders if regr is not None else None
        if not url:
            raise errors.ClientError("The account object names no orders list")
        return (yield from cert_flows.list_orders(self.ctx, url))

    # Revocation and renewal information.

    def revoke(self, cert: CertificateInput, rsn: int) -> NetFlow[None]:
        certificate = coerce_certificate(cert)
        yield from cert_flows.revoke(self.ctx, certificate, rsn)

    def renewal_info(
        self, cert: CertificateInput
    ) -> NetFlow[tuple[messages.RenewalInfo, datetime.datetime]]:
        """RFC 9773 renewal information and the aware UTC time to ask again."""
        certificate = coerce_certificate(cert)
        info, retry = yield from cert_flows.renewal_info(self.ctx, certificate)
        return info, self.ctx.now() + datetime.timedelta(seconds=retry)

    def renewal_time(
        self, cert_pem: Any
    ) -> NetFlow[tuple[datetime.datetime | None, datetime.datetime]]:
        """acme 5.x form: a uniformly random aware time in the suggested window (``None`` when
        the server has no ARI) and the naive local time to ask again (RFC 9773 section 4.2).

        An expired certificate is not asked about (RFC 9773 section 4.3): its expiry, a time
        already past, is the answer (renew now), as acme 5.x returns it.
        """
        certificate = coerce_certificate(cert_pem)
        if cert_flows.is_expired(self.ctx, certificate):
            retry_at = self.ctx.now() + datetime.timedelta(seconds=cert_flows.ARI_DEFAULT_RETRY)
            return certificate.not_valid_after_utc, naive_local(retry_at)
        if "renewalInfo" not in self.directory:
            retry_at = self.ctx.now() + datetime.timedelta(seconds=cert_flows.ARI_DEFAULT_RETRY)
            return None, naive_local(retry_at)
        try:
            info, retry_at = yield from self.renewal_info(certificate)
        except errors.ARIError as error:
            error.retry_after = naive_local(error.retry_after)
            raise
        window = info.suggested_window
        span = max(0.0, (window.end - window.start).total_seconds())
        chosen = window.start + datetime.timedelta(seconds=self.ctx.rand() * span)
        return chosen, naive_local(retry_at)


def naive_local(when: datetime.datetime) -> datetime.datetime:
    """``when`` as a naive local time (what acme 5.x returns to certbot)."""
    if when.tzinfo is None:
        return when
    return when.astimezone().replace(tzinfo=None)
