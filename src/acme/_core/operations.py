"""Every client operation as a flow: the single implementation behind ClientV2 and AsyncClientV2.

The sync and async clients are one-line wrappers that drive these flows; any rule about what
an operation sends, checks or returns lives here (or in the flow modules it composes).
"""

from __future__ import annotations

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
from acme._core.deadlines import to_monotonic
from acme._core.http import Flow, HTTPResponse
from acme._core.responses import resource_url
from acme._core.session import Session
from acme._wire import renewal_id as _ari
from acme._wire.coercion import coerce_certificate, coerce_csr_pem, coerce_jwk
from acme._wire.keys import alg_for_key

__all__ = ["ClientFlows"]


class ClientFlows:
    """The operations of one client (a directory plus a session), each returning a flow."""

    def __init__(self, directory: messages.Directory, session: Session) -> None:
        self.directory = directory
        self.session = session
        if "newNonce" in directory:
            session.new_nonce_url = resource_url(directory, "newNonce")

    # Accounts (RFC 8555 section 7.3).

    def external_account_required(self) -> bool:
        """Whether the directory's meta asks for external account binding (7.3.4)."""
        meta = self.directory.meta
        return bool(meta is not None and meta.external_account_required)

    def new_account(self, new_reg: messages.NewRegistration) -> Flow[messages.RegistrationResource]:
        regr = yield from account_flows.new_account(self.session, self.directory, new_reg)
        self.session.set_account(regr)
        return regr

    def query_registration(
        self, regr: messages.RegistrationResource | None
    ) -> Flow[messages.RegistrationResource]:
        found = yield from account_flows.query_account(self.session, self.directory, regr)
        self.session.set_account(found)
        return found

    def find_account(self) -> Flow[messages.RegistrationResource | None]:
        """The key's account (made current), or None if the CA has none for the key."""
        found = yield from account_flows.find_account(self.session, self.directory)
        if found is not None:
            self.session.set_account(found)
        return found

    def register_or_adopt(
        self, new_reg: messages.NewRegistration
    ) -> Flow[tuple[messages.RegistrationResource, bool]]:
        """Register the key, or adopt its existing account; ``(account, adopted)``."""
        regr, adopted = yield from account_flows.register_or_adopt(
            self.session, self.directory, new_reg
        )
        self.session.set_account(regr)
        return regr, adopted

    def update_registration(
        self, regr: messages.RegistrationResource, update: messages.Registration | None
    ) -> Flow[messages.RegistrationResource]:
        new = yield from account_flows.update_account(self.session, regr, update)
        self.session.set_account(new)
        return new

    def deactivate_registration(
        self, regr: messages.RegistrationResource
    ) -> Flow[messages.RegistrationResource]:
        return (yield from account_flows.deactivate_account(self.session, regr))

    def change_key(self, new_key: AccountKeyInput, new_alg: jwa.JWASignature | None) -> Flow[None]:
        key = coerce_jwk(new_key)
        alg = new_alg or alg_for_key(key)
        yield from account_flows.change_key(self.session, self.directory, key, alg)

    # Orders and authorizations (sections 7.4, 7.5).

    def new_order(
        self, csr_pem: CSRInput, profile: str | None, replaces: CertificateInput | None
    ) -> Flow[messages.OrderResource]:
        # A string is an RFC 9773 certificate identifier unless it is PEM; anything else is a
        # certificate.
        replaces_id: str | None
        if replaces is None or (isinstance(replaces, str) and "-----BEGIN" not in replaces):
            replaces_id = replaces
        else:
            replaces_id = _ari.certificate_identifier(coerce_certificate(replaces))
        return (
            yield from order_flows.new_order(
                self.session, self.directory, coerce_csr_pem(csr_pem), profile, replaces_id
            )
        )

    def new_authorization(
        self, identifier: messages.Identifier
    ) -> Flow[messages.AuthorizationResource]:
        return (yield from order_flows.new_authorization(self.session, self.directory, identifier))

    def poll(
        self, authzr: messages.AuthorizationResource
    ) -> Flow[tuple[messages.AuthorizationResource, HTTPResponse]]:
        return (yield from order_flows.poll_authorization(self.session, authzr.uri))

    def poll_authorizations(
        self, orderr: messages.OrderResource, deadline: DeadlineInput
    ) -> Flow[messages.OrderResource]:
        until = to_monotonic(self.session, deadline)
        return (yield from order_flows.poll_authorizations(self.session, orderr, until))

    def answer_challenge(
        self, challb: messages.ChallengeBody, response: Any
    ) -> Flow[messages.ChallengeResource]:
        return (yield from order_flows.answer_challenge(self.session, challb, response))

    def deactivate_authorization(
        self, authzr: messages.AuthorizationResource
    ) -> Flow[messages.AuthorizationResource]:
        return (yield from order_flows.deactivate_authorization(self.session, authzr))

    # Finalization and download.

    def begin_finalization(self, orderr: messages.OrderResource) -> Flow[messages.OrderResource]:
        return (yield from order_flows.begin_finalization(self.session, orderr))

    def poll_finalization(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool,
        retry_after: float | None = None,
    ) -> Flow[messages.OrderResource]:
        until = to_monotonic(self.session, deadline)
        valid = yield from order_flows.poll_order(self.session, orderr, until, retry_after)
        return (
            yield from cert_flows.download_certificate(
                self.session, valid, fetch_alternative_chains
            )
        )

    def finalize_order(
        self,
        orderr: messages.OrderResource,
        deadline: DeadlineInput,
        fetch_alternative_chains: bool,
    ) -> Flow[messages.OrderResource]:
        until = to_monotonic(self.session, deadline)
        orderr, hint = yield from order_flows.finalize(self.session, orderr)
        return (yield from self.poll_finalization(orderr, until, fetch_alternative_chains, hint))

    def poll_and_finalize(
        self, orderr: messages.OrderResource, deadline: DeadlineInput
    ) -> Flow[messages.OrderResource]:
        """Authorizations then finalization, under one deadline (default 90 s, as in 5.x)."""
        until = to_monotonic(self.session, deadline)
        orderr = yield from order_flows.poll_authorizations(self.session, orderr, until)
        return (yield from self.finalize_order(orderr, until, False))

    def orders(self, regr: messages.RegistrationResource | None) -> Flow[list[str]]:
        regr = regr or self.session.account
        url = regr.body.orders if regr is not None else None
        if not url:
            raise errors.ClientError("The account object names no orders list")
        return (yield from cert_flows.list_orders(self.session, url))

    # Revocation and renewal information.

    def revoke(self, cert: CertificateInput, rsn: int) -> Flow[None]:
        certificate = coerce_certificate(cert)
        yield from cert_flows.revoke(self.session, self.directory, certificate, rsn)

    def renewal_info(
        self, cert: CertificateInput
    ) -> Flow[tuple[messages.RenewalInfo, datetime.datetime]]:
        """RFC 9773 renewal information and the aware UTC time to ask again."""
        certificate = coerce_certificate(cert)
        info, retry = yield from cert_flows.renewal_info(self.session, self.directory, certificate)
        return info, self.session.now() + datetime.timedelta(seconds=retry)

    def renewal_time(
        self, cert_pem: Any
    ) -> Flow[tuple[datetime.datetime | None, datetime.datetime]]:
        """acme 5.x form: a uniformly random aware time in the suggested window (``None`` when
        the server has no ARI) and the naive local time to ask again (RFC 9773 section 4.2)."""
        if "renewalInfo" not in self.directory:
            retry_at = self.session.now() + datetime.timedelta(seconds=cert_flows.ARI_DEFAULT_RETRY)
            return None, naive_local(retry_at)
        try:
            info, retry_at = yield from self.renewal_info(cert_pem)
        except errors.ARIError as error:
            error.retry_after = naive_local(error.retry_after)
            raise
        window = info.suggested_window
        span = max(0.0, (window.end - window.start).total_seconds())
        chosen = window.start + datetime.timedelta(seconds=self.session.rand() * span)
        return chosen, naive_local(retry_at)


def naive_local(when: datetime.datetime) -> datetime.datetime:
    """``when`` as a naive local time (what acme 5.x returns to certbot)."""
    if when.tzinfo is None:
        return when
    return when.astimezone().replace(tzinfo=None)
