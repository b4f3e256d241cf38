"""Requests as flows: nonces, JWS signing, badNonce retries, response checks (RFC 8555 section 6).

This is the signing layer, run by the network objects inside their ``post``/``get``/``head``;
the operation flows above it (``acme._core.operations``) only ask for requests.

Rules:
- Every POST body is a JWS with ``nonce``, ``url`` (equal to the request URL) and either ``kid``
  (the account's URL, once there is an account) or ``jwk`` (without one, or when the request
  asks for it: newAccount), section 6.2. Fetches are POST-as-GET (section 6.3).
- Every response refills the nonce pool; ``newNonce`` is asked only when the pool is empty.
- On ``badNonce`` the request is signed again with the nonce from the error response (each
  error carries a fresh one, section 6.5): until the call's deadline passes (or, for a call
  without one, the policy's default timeout), and at most `Session.max_nonce_attempts` times
  in all. A storm of rejected nonces costs round trips, not the request.
- Problem documents become `acme.messages.Error` raised with the HTTP status and Retry-After
  kept; 409 becomes `ConflictError`; a 3xx on a signed request is an error, never followed.
- Every URL we request must be https, or http to a loopback host when explicitly allowed.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from josepy import errors as jose_errors
from josepy import jwa, jwk

from acme import errors, messages
from acme._core.http import (
    JOSE_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    JSON_ERROR_CONTENT_TYPE,
    Flow,
    HTTPRequest,
    HTTPResponse,
    Send,
)
from acme._core.nonces import NoncePool
from acme._core.retry import PollPolicy, retry_time
from acme._core.signing import sign_request
from acme._wire import identifiers
from acme._wire.timestamps import utcnow

__all__ = [
    "DEFAULT_MAX_NONCE_ATTEMPTS",
    "Session",
    "account_url",
    "check_response",
    "check_url",
    "get",
    "get_expecting",
    "head",
    "new_session",
    "post",
    "post_expecting",
]

logger = logging.getLogger(__name__)

_MAX_GET_REDIRECTS = 5
#: Attempts per request when every nonce is rejected, unless the call's deadline comes first.
DEFAULT_MAX_NONCE_ATTEMPTS = 100


@dataclasses.dataclass
class Session:
    """The signing state of one network object: key, account, nonces, clocks, policy.

    ``clock`` is monotonic seconds and ``now`` aware UTC wall time (the Retry-After of
    problems); both are injectable for tests. ``policy`` caps those Retry-After values.
    """

    key: jwk.JWK | None = None
    alg: jwa.JWASignature = jwa.RS256
    new_nonce_url: str | None = None
    user_agent: str = "acme-python"
    allow_insecure_loopback: bool = False
    policy: PollPolicy = dataclasses.field(default_factory=PollPolicy)
    nonces: NoncePool = dataclasses.field(default_factory=NoncePool)
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime.datetime] = utcnow
    #: A generous cap on attempts per request; the real bound on badNonce retries is time.
    max_nonce_attempts: int = DEFAULT_MAX_NONCE_ATTEMPTS
    #: The current account (a ``messages.RegistrationResource``, or a mapping with ``uri``);
    #: requests are signed with its URL as ``kid``.
    account: Any = None

    @property
    def account_url(self) -> str | None:
        """The current account's URL, or ``None``."""
        return account_url(self.account)

    def set_account(self, regr: Any) -> None:
        """Make ``regr`` the account requests are signed for (``kid``), or none."""
        self.account = regr

    def headers(self, **extra: str) -> dict[str, str]:
        return {"User-Agent": self.user_agent, **extra}


def account_url(account: Any) -> str | None:
    """The URL of an account object: a ``RegistrationResource``, or a mapping with ``uri``
    (what acme 5.x's tests assign), or ``None``."""
    if account is None:
        return None
    uri = getattr(account, "uri", None)
    if uri is None and hasattr(account, "get"):
        uri = account.get("uri")
    return uri if isinstance(uri, str) else None


def new_session(
    key: Any,
    alg: jwa.JWASignature | None,
    user_agent: str,
    allow_insecure_loopback: bool,
    policy: PollPolicy | None,
    max_nonce_attempts: int | None,
    account: messages.RegistrationResource | None = None,
) -> Session:
    """The `Session` both network shells start from: the key as a JWK (from a JWK, a
    cryptography key or a pyOpenSSL key), its usual algorithm unless one is given (RS256
    without a key, as acme 5.x), and a refusal of algorithms the key cannot sign with."""
    from acme._wire.coercion import coerce_jwk
    from acme._wire.keys import alg_for_key

    jwk_key = coerce_jwk(key) if key is not None else None
    if alg is None:
        alg = alg_for_key(jwk_key) if jwk_key is not None else jwa.RS256
    elif jwk_key is not None and not isinstance(jwk_key, alg.kty):
        raise errors.ClientError(f"Key {type(jwk_key).__name__} cannot sign with {alg.name}")
    session = Session(
        key=jwk_key,
        alg=alg,
        user_agent=user_agent,
        allow_insecure_loopback=allow_insecure_loopback,
        policy=policy or PollPolicy(),
        max_nonce_attempts=(
            DEFAULT_MAX_NONCE_ATTEMPTS if max_nonce_attempts is None else max_nonce_attempts
        ),
    )
    session.set_account(account)
    return session


def check_url(session: Session, url: Any) -> str:
    """Return ``url`` if we may request it: https, or loopback http when allowed.

    :raises acme.errors.ClientError: for any other URL the server handed us.
    """
    if not isinstance(url, str):
        raise errors.ClientError(f"Expected a URL, got {url!r:.100}")
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError as error:
        raise errors.ClientError(f"Malformed URL {url!r:.200}: {error}") from None
    if not host:
        raise errors.ClientError(f"URL without a host: {url!r:.200}")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and session.allow_insecure_loopback and _is_loopback(host):
        return url
    raise errors.ClientError(f"Refusing non-https URL {url!r:.200}")


def _is_loopback(host: str) -> bool:
    """A loopback address, or ``localhost`` (the caller allowed insecure loopback URLs)."""
    return host == "localhost" or identifiers.is_loopback(host)


def check_response(session: Session, response: HTTPResponse) -> HTTPResponse:
    """Raise the right error for an unsuccessful response; return it otherwise."""
    if response.status_code == 409:
        raise errors.ConflictError(response.headers.get("Location"), _problem(session, response))
    if 200 <= response.status_code < 300:
        return response
    problem = _problem(session, response)
    if problem is not None:
        raise problem
    if 300 <= response.status_code < 400:
        raise errors.ClientError(
            f"Unexpected redirect ({response.status_code}) from {response.url} to "
            f"{response.headers.get('Location')!r:.200}: ACME requests are never redirected"
        )
    raise errors.ClientError(
        f"{response.status_code} response from {response.url}: {response.text[:200]!r}"
    )


def _problem(session: Session, response: HTTPResponse) -> messages.Error | None:
    """The response's problem document as a `messages.Error`, or ``None`` if it has none."""
    if response.content_type not in (JSON_ERROR_CONTENT_TYPE, JSON_CONTENT_TYPE):
        return None
    try:
        problem = messages.Error.from_json(response.json())
    except (ValueError, jose_errors.DeserializationError, errors.Error):
        return None  # not a (valid) problem document
    when = retry_time(
        response.headers.get("Retry-After"), session.now(), None, session.policy.max_retry_after
    )  # None also for a date already past: there is nothing to wait for
    return problem.update(http_status=response.status_code, retry_after=when)


def head(session: Session, url: str) -> Flow[HTTPResponse]:
    """HEAD ``url`` (used for ``newNonce``, section 7.2); keeps any nonce it brings."""
    request = HTTPRequest("HEAD", check_url(session, url), session.headers())
    response: HTTPResponse = yield Send(request)
    session.nonces.add_from(response)
    return response


def get(session: Session, url: str, accept: str | None = None) -> Flow[HTTPResponse]:
    """Unsigned GET (directory, certificate chains for 5.x callers), following a few redirects."""
    url = check_url(session, url)
    for _ in range(_MAX_GET_REDIRECTS + 1):
        headers = session.headers(**({"Accept": accept} if accept else {}))
        response: HTTPResponse = yield Send(HTTPRequest("GET", url, headers))
        session.nonces.add_from(response)
        location = response.headers.get("Location")
        if response.status_code in (301, 302, 303, 307, 308) and location:
            url = check_url(session, urllib.parse.urljoin(url, location))
            continue
        return check_response(session, response)
    raise errors.ClientError(f"Too many redirects starting at {url!r:.200}")


def get_expecting(session: Session, url: str, content_type: str) -> Flow[HTTPResponse]:
    """The network objects' ``get(url, content_type)``: `get` asking for ``content_type``."""
    accept = content_type if content_type != JSON_CONTENT_TYPE else None
    return (yield from get(session, url, accept=accept))


def post_expecting(
    session: Session, url: str, obj: Any, content_type: str, embed_jwk: bool = False
) -> Flow[HTTPResponse]:
    """The network objects' ``post(url, obj, content_type)``: signed for the account, or with
    the embedded key when there is none (revocation by certificate key) or when ``embed_jwk``
    asks for it (newAccount)."""
    accept = content_type if content_type not in (JOSE_CONTENT_TYPE, JSON_CONTENT_TYPE) else None
    embed = embed_jwk or session.account_url is None
    return (yield from post(session, url, obj, embed_jwk=embed, accept=accept))


def _nonce(session: Session) -> Flow[str]:
    nonce = session.nonces.pop()
    if nonce is not None:
        return nonce
    if session.new_nonce_url is None:
        raise errors.ClientError("No nonce available and the directory has no newNonce URL")
    response = yield from head(session, session.new_nonce_url)
    check_response(session, response)
    nonce = session.nonces.pop()
    if nonce is None:
        raise errors.MissingNonce(response)
    return nonce


def post(
    session: Session,
    url: str,
    payload: Any,
    *,
    embed_jwk: bool = False,
    key: jwk.JWK | None = None,
    alg: jwa.JWASignature | None = None,
    accept: str | None = None,
) -> Flow[HTTPResponse]:
    """Sign ``payload`` and POST it to ``url``; return the (successful) response.

    ``payload`` is a josepy object, a JSON-ready dict, or ``None`` for POST-as-GET (an empty
    payload, section 6.3). ``embed_jwk`` signs with the public key in the header instead of
    the account URL (newAccount, revocation by certificate key); ``key``/``alg`` override the
    session's (revocation by certificate key).
    """
    url = check_url(session, url)
    key = key or session.key
    if key is None:
        raise errors.ClientError("This network object has no key: it can GET but not POST")
    alg = alg or session.alg
    if not isinstance(key, alg.kty):
        raise errors.ClientError(f"Key {type(key).__name__} cannot sign with {alg.name}")
    kid = None if embed_jwk else session.account_url
    if not embed_jwk and kid is None:
        raise errors.ClientError("No account: register or look up an account first")
    body = _encode_payload(payload)
    headers = session.headers(**{"Content-Type": JOSE_CONTENT_TYPE})
    if accept:
        headers["Accept"] = accept
    last_error: messages.Error | None = None
    nonce = ""
    # Without a caller's deadline (which `within` puts on each Send and the driver enforces
    # by throwing TimeoutError in), retries stop after the policy's default timeout.
    give_up_at = session.clock() + session.policy.default_timeout
    attempts = max(1, session.max_nonce_attempts)
    for attempt in range(1, attempts + 1):
        if last_error is not None:
            if session.clock() >= give_up_at:
                logger.debug("POST %s: badNonce for %d attempts, giving up", url, attempt - 1)
                break
            logger.debug(
                "POST %s: badNonce, signing again with the nonce the refusal carried "
                "(attempt %d of at most %d)",
                url,
                attempt,
                attempts,
            )
        try:
            nonce = yield from _nonce(session)
            signed = sign_request(body, key, alg, nonce, url, kid)
            response: HTTPResponse = yield Send(HTTPRequest("POST", url, headers, signed))
        except errors.TimeoutError as timeout:
            if last_error is None:
                raise
            raise errors.BadNonce(nonce, last_error) from timeout  # the deadline ended a storm
        session.nonces.add_from(response)
        try:
            return check_response(session, response)
        except messages.Error as error:
            if error.code != "badNonce":
                raise
            last_error = error
    assert last_error is not None
    raise errors.BadNonce(nonce, last_error)


def _encode_payload(payload: Any) -> bytes:
    if payload is None:
        return b""
    if hasattr(payload, "json_dumps"):
        return str(payload.json_dumps()).encode()
    return json.dumps(payload).encode()
