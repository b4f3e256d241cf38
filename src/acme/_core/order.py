"""Order, authorization and challenge flows (RFC 8555 sections 7.4, 7.5).

Rules:
- An order comes back with its authorizations fetched (acme 5.x callers rely on it).
- Polling follows `PollPolicy`: the server's Retry-After when given, else fast-then-slower
  backoff; an order's first poll after a finalize response without Retry-After comes after
  1 ms (issuing takes a CA milliseconds; a validation takes it round trips). A wait that
  would pass the deadline raises `TimeoutError` at once when the server asked for it in
  seconds (or while busy, with 429/5xx); a backoff step or a Retry-After HTTP-date past the
  deadline is cut short instead, for one last poll just before it.
- Authorizations are polled one after the other, each until it is final (acme 5.x's order).
- Every observed status change must be a path of RFC 8555 section 7.1.6 (`states`), else
  `UnexpectedUpdate`: a server moving an order from ``valid`` back to ``pending`` is broken.
  So is an authorization whose identifier changes, or a challenge answered at another URL.
- A poll answered 429 or 5xx is a "not yet": wait its Retry-After (or the backoff) and ask
  again, within the deadline. Only polls: other requests may have had an effect.
- Finalization picks up where the order is (section 7.4): an order already ``processing`` or
  ``valid`` (a retried finalize whose answer was lost) is not finalized again but polled; a
  finalize answered ``orderNotReady`` fetches the order, waits (within the deadline) while it
  is ``pending``, finalizes again once it is ``ready``, and polls if it moved on. A ``valid``
  order without a certificate URL is fetched again.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from cryptography import x509

from acme import crypto_util, errors, messages
from acme._core import states
from acme._core.context import Context, post
from acme._core.deadlines import wait, wait_to_poll
from acme._core.http import HTTPResponse, NetFlow
from acme._core.responses import location, parse, resource_url
from acme._core.retry import RetryHint
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


def fetch_authorization(ctx: Context, url: str) -> NetFlow[messages.AuthorizationResource]:
    """POST-as-GET one authorization (section 7.5)."""
    authzr, _ = yield from poll_authorization(ctx, url)
    return authzr


def poll_authorization(
    ctx: Context, url: str, identifier: messages.Identifier | None = None
) -> NetFlow[tuple[messages.AuthorizationResource, HTTPResponse]]:
    """POST-as-GET one authorization, returning the response too (for Retry-After).

    With ``identifier`` (what the caller knew the authorization for), an authorization that
    now names another identifier raises `UnexpectedUpdate`: it is not the one asked about.
    """
    response = yield from post(ctx, url, None)
    body = parse(messages.Authorization, response)
    _check_identifier(url, identifier, body)
    return messages.AuthorizationResource(body=body, uri=url), response


def _check_identifier(
    url: str, identifier: messages.Identifier | None, body: messages.Authorization
) -> None:
    if identifier is not None and body.identifier != identifier:
        new = body.identifier.value if body.identifier is not None else None
        raise errors.UnexpectedUpdate(
            f"The authorization at {url} changed identifier from {identifier.value!r} to {new!r}"
        )


def new_order(
    ctx: Context,
    csr_pem: bytes,
    profile: str | None = None,
    replaces: str | None = None,
) -> NetFlow[messages.OrderResource]:
    """Create an order for the CSR's identifiers and fetch its authorizations (7.4)."""
    identifiers = identifiers_from_csr(csr_pem)
    fields: dict[str, Any] = {"identifiers": identifiers}
    if profile is not None:
        fields["profile"] = profile
    if replaces is not None:
        fields["replaces"] = replaces
    response = yield from post(
        ctx, resource_url(ctx.directory, "newOrder"), messages.NewOrder(**fields)
    )
    uri = location(response)
    body = parse(messages.Order, response)
    authorizations = []
    for url in body.authorizations:
        authorizations.append((yield from fetch_authorization(ctx, url)))
    return messages.OrderResource(
        body=body, uri=uri, csr_pem=csr_pem, authorizations=authorizations
    )


def new_authorization(
    ctx: Context, identifier: messages.Identifier
) -> NetFlow[messages.AuthorizationResource]:
    """Pre-authorize an identifier (section 7.4.1), where the directory offers ``newAuthz``."""
    url = resource_url(ctx.directory, "newAuthz")  # optional: not every CA pre-authorizes
    payload = messages.NewAuthorization(identifier=identifier)
    response = yield from post(ctx, url, payload)
    body = parse(messages.Authorization, response)
    return messages.AuthorizationResource(body=body, uri=location(response))


def answer_challenge(
    ctx: Context, challb: messages.ChallengeBody, response: Any
) -> NetFlow[messages.ChallengeResource]:
    """Tell the server the challenge is ready (section 7.5.1): POST ``{}`` to its URL."""
    http_response = yield from post(ctx, challb.uri, response)
    body = parse(messages.ChallengeBody, http_response)
    if body.uri != challb.uri:
        raise errors.UnexpectedUpdate(
            f"Answering the challenge at {challb.uri} returned the challenge at {body.uri}"
        )
    up = http_response.links.get("up")
    if not up:
        raise errors.ClientError('Challenge response has no Link rel="up" header')
    authzr_uri = urllib.parse.urljoin(http_response.url, up[0])
    return messages.ChallengeResource(body=body, authzr_uri=authzr_uri)


def deactivate_authorization(
    ctx: Context, authzr: messages.AuthorizationResource
) -> NetFlow[messages.AuthorizationResource]:
    """Deactivate an authorization (section 7.5.2)."""
    payload = messages.UpdateAuthorization(status=messages.STATUS_DEACTIVATED)
    response = yield from post(ctx, authzr.uri, payload)
    return messages.AuthorizationResource(
        body=parse(messages.Authorization, response), uri=authzr.uri
    )


def poll_authorizations(
    ctx: Context, orderr: messages.OrderResource, deadline: float
) -> NetFlow[messages.OrderResource]:
    """Poll the order's authorizations, one after the other, until each is final (7.5.1).

    Each authorization is fetched until it is no longer ``pending`` (as acme 5.x does); the
    backoff is shared, so once one authorization took long, the next is not asked about at
    millisecond pace. Only the first fetch waits first (the server just got the answers).

    :raises acme.errors.ValidationError: if any authorization ended other than ``valid``.
    :raises acme.errors.TimeoutError: if ``deadline`` (monotonic) would pass first.
    """
    known = {authzr.uri: authzr for authzr in orderr.authorizations or ()}
    urls = list(orderr.body.authorizations) or list(known)
    final: list[messages.AuthorizationResource] = []
    attempt = 0
    last = False
    for index, url in enumerate(urls):
        retry_after: RetryHint | None = None
        wait_first = index == 0
        while True:
            if wait_first:
                last = yield from _wait(ctx, attempt, retry_after, deadline, "authorization", last)
                attempt += 1
            wait_first = True
            response, retry_after = yield from _poll_fetch(ctx, url)
            if response is None:  # busy: wait its Retry-After and ask again
                continue
            authzr = messages.AuthorizationResource(
                body=parse(messages.Authorization, response), uri=url
            )
            if authzr.body.status is None:
                raise errors.ClientError(
                    f"{url} answered with an authorization without status (RFC 8555 7.1.4)"
                )
            if url in known:
                _check_identifier(url, known[url].body.identifier, authzr.body)
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
                final.append(authzr)
                break
    failed = [a for a in final if a.body.status != messages.STATUS_VALID]
    if failed:
        raise errors.ValidationError(failed)
    return orderr.update(authorizations=final)


def _is_final(authzr: messages.AuthorizationResource) -> bool:
    """Whether polling is done with ``authzr``: it has left ``pending`` (section 7.1.6).

    Not "cannot change any more": a ``valid`` authorization can still expire, be deactivated
    or be revoked. But only a ``pending`` one can still become ``valid``, so polling stops.
    """
    return authzr.body.status != messages.STATUS_PENDING


def _next_wait(ctx: Context, attempt: int, retry_after: float | None) -> float:
    return ctx.policy.delay(attempt, retry_after, ctx.rand)


def _wait(
    ctx: Context,
    attempt: int,
    hint: RetryHint | None,
    deadline: float,
    what: str,
    last: bool,
) -> NetFlow[bool]:
    """The wait before poll ``attempt + 1``; returns whether it is the last poll (see
    `wait_to_poll`: only one wait is ever cut short, and never one the server set exactly)."""
    seconds = _next_wait(ctx, attempt, hint.seconds if hint else None)
    exact = hint is not None and not hint.dated and hint.seconds > 0  # the server's own delay
    cut = yield from wait_to_poll(ctx, seconds, deadline, what, may_cut=not (exact or last))
    return last or cut


def begin_finalization(
    ctx: Context, orderr: messages.OrderResource
) -> NetFlow[messages.OrderResource]:
    """Send the CSR to the order's finalize URL once (section 7.4)."""
    response = yield from post(ctx, orderr.body.finalize, _csr_payload(orderr))
    return orderr.update(body=parse(messages.Order, response))


def _csr_payload(orderr: messages.OrderResource) -> messages.CertificateRequest:
    if orderr.csr_pem is None:
        raise errors.ClientError("The order has no CSR to finalize with")
    return messages.CertificateRequest(csr=coerce_csr(orderr.csr_pem))


_FINALIZED = (messages.STATUS_PROCESSING, messages.STATUS_VALID)


def finalize(
    ctx: Context, orderr: messages.OrderResource, deadline: float
) -> NetFlow[tuple[messages.OrderResource, RetryHint | None]]:
    """Finalize the order, from wherever it is; return it with a Retry-After hint, if any.

    The order returned is the one the finalize response carries (or, if it carries none that
    can be read, the last one seen, for the caller's poll to fetch). An order already
    ``processing`` or ``valid`` is returned as is, unsent (a retried finalize whose answer
    was lost). ``orderNotReady`` (RFC 8555 section 7.4)
    fetches the order and keeps looking, with the poll backoff and within ``deadline``
    (monotonic), until it is ``ready`` (finalized again), ``valid`` (returned) or
    ``invalid`` (`IssuanceError`).
    """
    payload = _csr_payload(orderr)
    if orderr.body.status in _FINALIZED:
        return orderr, None
    looks = 0
    while True:
        status = orderr.body.status
        if status == messages.STATUS_INVALID:
            raise errors.IssuanceError(orderr.body.error or _order_failed())
        if status == messages.STATUS_VALID:
            return orderr, None
        if looks == 0 or status == messages.STATUS_READY:
            try:
                response = yield from post(ctx, orderr.body.finalize, payload)
            except messages.Error as error:
                if error.code != "orderNotReady":
                    raise
            else:
                return _read_order(orderr, response), ctx.retry_hint(response)
        if looks > 0:  # the first look right away, later ones after the poll backoff
            yield from wait(ctx, _next_wait(ctx, looks - 1, None), deadline, "order to be ready")
        looks += 1
        response = yield from post(ctx, orderr.uri, None)
        orderr = orderr.update(body=parse(messages.Order, response))


def _read_order(orderr: messages.OrderResource, response: HTTPResponse) -> messages.OrderResource:
    """The order a finalize response carries, saving the poll a fetch; a body that cannot be
    read as an order (acme 5.x never reads it) leaves the poll to fetch the order."""
    try:
        return orderr.update(body=parse(messages.Order, response))
    except errors.ClientError:
        return orderr


def _order_failed() -> messages.Error:
    return messages.Error(
        detail="The certificate order failed. No further information was provided by the server."
    )


def poll_order(
    ctx: Context,
    orderr: messages.OrderResource,
    deadline: float,
    retry_after: RetryHint | None = None,
) -> NetFlow[messages.OrderResource]:
    """Poll the order until it is ``valid`` with a certificate URL (section 7.4); ``invalid``
    raises `IssuanceError`.

    ``retry_after`` is the finalize response's hint for the first wait, if it gave one.
    Without one the first poll comes after `PollPolicy.first_order_poll` (1 ms): unlike a
    validation, which costs the CA network round trips, issuing is a signature, usually done
    within milliseconds of the finalize request (Pebble, Boulder), so the backoff's 5 ms
    first step would only add latency; the backoff starts after that first poll. A
    snapshot already ``valid`` but without ``certificate`` is fetched once at once.
    """
    attempt = 0
    last = False
    soon = retry_after is None
    body = orderr.body
    if body.status == messages.STATUS_VALID and not body.certificate:
        fetched = yield from post(ctx, orderr.uri, None)
        body = parse(messages.Order, fetched)
        states.check_transition(states.ORDER, orderr.body.status, body.status)
    while body.status != messages.STATUS_VALID:
        if body.status == messages.STATUS_INVALID:
            raise errors.IssuanceError(body.error or _order_failed())
        if soon:
            soon = False
            wait_first = ctx.policy.first_order_poll
            last = yield from wait_to_poll(ctx, wait_first, deadline, "order", may_cut=True)
        else:
            last = yield from _wait(ctx, attempt, retry_after, deadline, "order", last)
            attempt += 1
        response, retry_after = yield from _poll_fetch(ctx, orderr.uri)
        if response is not None:
            previous, body = body, parse(messages.Order, response)
            states.check_transition(states.ORDER, previous.status, body.status)
            logger.debug("polled order %s: %s", orderr.uri, body.status)
    if not body.certificate:
        raise errors.ClientError(f"The order {orderr.uri} is valid but names no certificate URL")
    return orderr.update(body=body)


def _poll_fetch(ctx: Context, url: str) -> NetFlow[tuple[HTTPResponse | None, RetryHint | None]]:
    """POST-as-GET ``url`` for a poll: ``(response, its Retry-After)``.

    A transient refusal (429 or 5xx, RFC 8555 section 6.6) is ``(None, its Retry-After)``:
    the poll loop waits (within its deadline) and asks again, instead of failing the whole
    operation over a busy server. Its Retry-After counts as exact: a busy server asked to be
    left alone. Other errors are raised.
    """
    try:
        response = yield from post(ctx, url, None)
    except messages.Error as error:
        status = error.http_status
        if status is None or not (status == 429 or status >= 500):
            raise
        hint = None
        if error.retry_after is not None:
            hint = RetryHint((error.retry_after - ctx.now()).total_seconds())
        logger.debug("poll of %s refused with %d (%s): will ask again", url, status, error.code)
        return None, hint
    return response, ctx.retry_hint(response)
