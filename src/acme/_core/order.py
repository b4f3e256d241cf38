"""Order, authorization and challenge flows (RFC 8555 sections 7.4, 7.5).

Rules:
- An order comes back with its authorizations fetched (acme 5.x callers rely on it).
- Polling follows `PollPolicy`: the server's Retry-After when given, else fast-then-slower
  backoff; a wait that would pass the deadline raises `TimeoutError` at once.
- Authorizations already ``valid`` when known are not polled again.
- Every observed status change must be a path of RFC 8555 section 7.1.6 (`states`), else
  `UnexpectedUpdate`: a server moving an order from ``valid`` back to ``pending`` is broken.
- A poll answered 429 or 5xx is a "not yet": wait its Retry-After (or the backoff) and ask
  again, within the deadline. Only polls: other requests may have had an effect.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from cryptography import x509

from acme import crypto_util, errors, messages
from acme._core import states
from acme._core.deadlines import wait
from acme._core.http import Flow, HTTPResponse
from acme._core.responses import location, parse, resource_url
from acme._core.session import Session, post
from acme._wire.coercion import coerce_csr

__all__ = [
    "answer_challenge",
    "begin_finalization",
    "deactivate_authorization",
    "fetch_authorization",
    "finalize",
    "identifiers_from_csr",
    "identifiers_of",
    "new_authorization",
    "new_order",
    "poll_authorizations",
    "poll_order",
]

logger = logging.getLogger(__name__)


def identifiers_from_csr(csr_pem: bytes) -> list[messages.Identifier]:
    """The order identifiers a CSR asks for: its DNS names and IP addresses (RFC 8738)."""
    csr = coerce_csr(csr_pem)
    identifiers = identifiers_of(csr.subject, csr.extensions)
    if not identifiers:
        raise errors.ClientError("The CSR names no DNS name or IP address")
    return identifiers


def identifiers_of(subject: x509.Name, exts: x509.Extensions) -> list[messages.Identifier]:
    """ACME identifiers (RFC 8555 ``dns``, RFC 8738 ``ip``) for a certificate's or CSR's names."""
    dns_names, ips = crypto_util.get_identifiers_from_x509(subject, exts)
    return [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name) for name in dns_names] + [
        messages.Identifier(typ=messages.IDENTIFIER_IP, value=str(ip)) for ip in ips
    ]


def fetch_authorization(session: Session, url: str) -> Flow[messages.AuthorizationResource]:
    """POST-as-GET one authorization (section 7.5)."""
    authzr, _ = yield from poll_authorization(session, url)
    return authzr


def poll_authorization(
    session: Session, url: str
) -> Flow[tuple[messages.AuthorizationResource, HTTPResponse]]:
    """POST-as-GET one authorization, returning the response too (for Retry-After)."""
    response = yield from post(session, url, None)
    body = parse(messages.Authorization, response)
    return messages.AuthorizationResource(body=body, uri=url), response


def new_order(
    session: Session,
    directory: messages.Directory,
    csr_pem: bytes,
    profile: str | None = None,
    replaces: str | None = None,
) -> Flow[messages.OrderResource]:
    """Create an order for the CSR's identifiers and fetch its authorizations (7.4)."""
    identifiers = identifiers_from_csr(csr_pem)
    fields: dict[str, Any] = {"identifiers": identifiers}
    if profile is not None:
        fields["profile"] = profile
    if replaces is not None:
        fields["replaces"] = replaces
    response = yield from post(
        session, resource_url(directory, "newOrder"), messages.NewOrder(**fields)
    )
    uri = location(response)
    body = parse(messages.Order, response)
    authorizations = []
    for url in body.authorizations:
        authorizations.append((yield from fetch_authorization(session, url)))
    return messages.OrderResource(
        body=body, uri=uri, csr_pem=csr_pem, authorizations=authorizations
    )


def new_authorization(
    session: Session, directory: messages.Directory, identifier: messages.Identifier
) -> Flow[messages.AuthorizationResource]:
    """Pre-authorize an identifier (section 7.4.1), where the directory offers ``newAuthz``."""
    url = resource_url(directory, "newAuthz")  # optional: not every CA pre-authorizes
    payload = messages.NewAuthorization(identifier=identifier)
    response = yield from post(session, url, payload)
    body = parse(messages.Authorization, response)
    return messages.AuthorizationResource(body=body, uri=location(response))


def answer_challenge(
    session: Session, challb: messages.ChallengeBody, response: Any
) -> Flow[messages.ChallengeResource]:
    """Tell the server the challenge is ready (section 7.5.1): POST ``{}`` to its URL."""
    http_response = yield from post(session, challb.uri, response)
    body = parse(messages.ChallengeBody, http_response)
    up = http_response.links.get("up")
    if not up:
        raise errors.ClientError('Challenge response has no Link rel="up" header')
    authzr_uri = urllib.parse.urljoin(http_response.url, up[0])
    return messages.ChallengeResource(body=body, authzr_uri=authzr_uri)


def deactivate_authorization(
    session: Session, authzr: messages.AuthorizationResource
) -> Flow[messages.AuthorizationResource]:
    """Deactivate an authorization (section 7.5.2)."""
    payload = messages.UpdateAuthorization(status=messages.STATUS_DEACTIVATED)
    response = yield from post(session, authzr.uri, payload)
    return messages.AuthorizationResource(
        body=parse(messages.Authorization, response), uri=authzr.uri
    )


def poll_authorizations(
    session: Session, orderr: messages.OrderResource, deadline: float
) -> Flow[messages.OrderResource]:
    """Poll the order's authorizations until each is final (section 7.5.1).

    :raises acme.errors.ValidationError: if any authorization ended in a status other than
        ``valid`` (``invalid``, ``deactivated``, ``expired``, ``revoked``).
    :raises acme.errors.TimeoutError: if ``deadline`` (monotonic) would pass first.
    """
    known = {authzr.uri: authzr for authzr in orderr.authorizations or ()}
    urls = list(orderr.body.authorizations) or list(known)
    done = {url: known[url] for url in urls if url in known and _is_final(known[url])}
    pending = [url for url in urls if url not in done]
    attempt = 0
    retry_after: float | None = None
    while pending:
        yield from wait(
            session, _next_wait(session, attempt, retry_after), deadline, "authorization"
        )
        attempt += 1
        retry_after = None
        for url in pending:
            response, hint = yield from _poll_fetch(session, url)
            if response is not None:
                authzr = messages.AuthorizationResource(
                    body=parse(messages.Authorization, response), uri=url
                )
                if url in known:
                    states.check_transition(
                        states.AUTHORIZATION, known[url].body.status, authzr.body.status
                    )
                logger.debug(
                    "polled authorization %s for %s: %s",
                    url,
                    authzr.body.identifier.value,
                    authzr.body.status,
                )
                known[url] = authzr
                if _is_final(authzr):
                    done[url] = authzr
                    continue
            if hint is not None and (retry_after is None or hint > retry_after):
                retry_after = hint
        pending = [url for url in urls if url not in done]
    authzrs = [done[url] for url in urls]
    failed = [a for a in authzrs if a.body.status != messages.STATUS_VALID]
    if failed:
        raise errors.ValidationError(failed)
    return orderr.update(authorizations=authzrs)


def _is_final(authzr: messages.AuthorizationResource) -> bool:
    """Whether polling is done with ``authzr``: it has left ``pending`` (section 7.1.6).

    Not "cannot change any more": a ``valid`` authorization can still expire, be deactivated
    or be revoked. But only a ``pending`` one can still become ``valid``, so polling stops.
    """
    return authzr.body.status != messages.STATUS_PENDING


def _next_wait(session: Session, attempt: int, retry_after: float | None) -> float:
    return session.policy.delay(attempt, retry_after, session.rand)


def begin_finalization(
    session: Session, orderr: messages.OrderResource
) -> Flow[messages.OrderResource]:
    """Send the CSR to the order's finalize URL (section 7.4)."""
    finalized, _ = yield from finalize(session, orderr)
    return finalized


def finalize(
    session: Session, orderr: messages.OrderResource
) -> Flow[tuple[messages.OrderResource, float | None]]:
    """Send the CSR; return the updated order and the response's Retry-After, if any."""
    if orderr.csr_pem is None:
        raise errors.ClientError("The order has no CSR to finalize with")
    payload = messages.CertificateRequest(csr=coerce_csr(orderr.csr_pem))
    response = yield from post(session, orderr.body.finalize, payload)
    return orderr.update(body=parse(messages.Order, response)), session.retry_after(response)


def poll_order(
    session: Session,
    orderr: messages.OrderResource,
    deadline: float,
    retry_after: float | None = None,
) -> Flow[messages.OrderResource]:
    """Poll the order until it is ``valid`` (section 7.4); ``invalid`` raises `IssuanceError`.

    ``retry_after`` is the finalize response's hint for the first wait, if it gave one.
    """
    attempt = 0
    body = orderr.body
    while body.status != messages.STATUS_VALID:
        if body.status == messages.STATUS_INVALID:
            raise errors.IssuanceError(body.error or messages.Error(detail="order is invalid"))
        yield from wait(session, _next_wait(session, attempt, retry_after), deadline, "order")
        attempt += 1
        response, retry_after = yield from _poll_fetch(session, orderr.uri)
        if response is not None:
            previous, body = body, parse(messages.Order, response)
            states.check_transition(states.ORDER, previous.status, body.status)
            logger.debug("polled order %s: %s", orderr.uri, body.status)
    return orderr.update(body=body)


def _poll_fetch(session: Session, url: str) -> Flow[tuple[HTTPResponse | None, float | None]]:
    """POST-as-GET ``url`` for a poll: ``(response, Retry-After seconds)``.

    A transient refusal (429 or 5xx, RFC 8555 section 6.6) is ``(None, its Retry-After)``:
    the poll loop waits (within its deadline) and asks again, instead of failing the whole
    operation over a busy server. Other errors are raised.
    """
    try:
        response = yield from post(session, url, None)
    except messages.Error as error:
        status = error.http_status
        if status is None or not (status == 429 or status >= 500):
            raise
        hint = None
        if error.retry_after is not None:
            hint = (error.retry_after - session.now()).total_seconds()
        logger.debug("poll of %s refused with %d (%s): will ask again", url, status, error.code)
        return None, hint
    return response, session.retry_after(response)
