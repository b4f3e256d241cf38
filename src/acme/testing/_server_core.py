"""The pure core of the test ACME server: one `HTTPRequest` in, one `HTTPResponse` out.

FOR TESTS AND DEMOS ONLY, never production: keys live in memory and nothing is audited.

Rules (what a real CA checks, RFC 8555 section 6):
- Every POST body is a flattened JWS with content type ``application/jose+json`` (else 415),
  a supported ``alg`` (else badSignatureAlgorithm with ``algorithms``), exactly one of ``jwk``
  (newAccount, revokeCert only) and ``kid`` (everything else), a nonce this server issued and
  nobody used yet (else badNonce), and a ``url`` equal to the request URL (else unauthorized).
- A ``kid`` must name an existing account (else accountDoesNotExist) that is ``valid`` (else
  unauthorized, section 7.3.6). Fetches are POST-as-GET with an empty payload (section 6.3);
  plain GET is allowed only for the directory, newNonce and renewalInfo (else 405).
- Every response carries a fresh ``Replay-Nonce`` and, except the directory, a
  ``Link: <directory>;rel="index"`` (section 7.1); refusals are RFC 7807 problem documents.

Theory of operation: the core is deterministic given its clock, random source, validator and
fault seed. It never sleeps and does no I/O itself (the injected validator may). Challenge
validation runs inside `ACMEServerCore.handle`, either when the client answers the challenge or
``validation_delay_polls`` polls later; an order stays ``processing`` for ``processing_polls``
polls. `handle` is serialized by a lock so the threaded HTTPS shell can share one core.
"""

from __future__ import annotations

import base64
import collections
import datetime
import logging
import random
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from josepy import errors as jose_errors
from josepy import jwk

from acme import challenges, errors, messages
from acme._core.http import JOSE_CONTENT_TYPE, Headers, HTTPRequest, HTTPResponse
from acme._wire import renewal_id as _ari
from acme._wire.timestamps import utcnow
from acme.testing import _accounts, _certs, _jose, _orders
from acme.testing._ca import CertificateAuthority
from acme.testing._faults import FaultDice, Faults, RateLimit
from acme.testing._model import Account, Authorization, IssuedCertificate, Order, SignedRequest
from acme.testing._problems import Problem, Reply
from acme.testing._renewal import (
    DEFAULT_RENEWAL_WINDOW,
    RenewalWindow,
    check_renewal_window,
    past_window,
)
from acme.testing._state import Validator

__all__ = ["DEFAULT_PROFILES", "RESOURCES", "ACMEServerCore", "Validator", "always_valid"]

logger = logging.getLogger(__name__)


#: Profiles offered by default (draft-ietf-acme-profiles section 3) and their lifetimes.
DEFAULT_PROFILES: Mapping[str, str] = {
    "classic": "The default: 90-day certificates from the acme.testing CA",
    "shortlived": "6-day certificates from the acme.testing CA",
}
_PROFILE_LIFETIMES = {
    "classic": datetime.timedelta(days=90),
    "shortlived": datetime.timedelta(days=6),
}

_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern + r"\Z"), name)
    for pattern, name in [
        (r"/directory", "directory"),
        (r"/new-nonce", "newNonce"),
        (r"/new-account", "newAccount"),
        (r"/new-order", "newOrder"),
        (r"/new-authz", "newAuthz"),
        (r"/revoke-cert", "revokeCert"),
        (r"/key-change", "keyChange"),
        (r"/renewal-info/([^/]*)", "renewalInfo"),
        (r"/acct/([\w-]+)", "account"),
        (r"/acct/([\w-]+)/orders", "orders"),
        (r"/order/([\w-]+)", "order"),
        (r"/order/([\w-]+)/finalize", "finalize"),
        (r"/authz/([\w-]+)", "authz"),
        (r"/chall/([\w-]+)", "challenge"),
        (r"/cert/([\w-]+)(?:/(\d+))?", "certificate"),
        (r"/terms", "terms"),
    ]
]
#: Resource names, as used by `Faults.resources` (directory keys where there is one).
RESOURCES = tuple(dict.fromkeys(name for _, name in _ROUTES))

_HANDLERS: dict[str, Callable[[ACMEServerCore, SignedRequest], Reply]] = {
    "newAccount": _accounts.new_account,
    "account": _accounts.account,
    "keyChange": _accounts.key_change,
    "orders": _accounts.orders_list,
    "newOrder": _orders.new_order,
    "newAuthz": _orders.new_authz,
    "order": _orders.order,
    "authz": _orders.authorization,
    "challenge": _orders.challenge,
    "finalize": _certs.finalize,
    "certificate": _certs.certificate,
    "revokeCert": _certs.revoke,
}
_JWK_RESOURCES = frozenset({"newAccount", "revokeCert"})  # RFC 8555 section 6.2
_MAX_NONCES = 10_000


def always_valid(
    challenge_type: str,
    identifier: messages.Identifier,
    token: str,
    key_authorization: str,
    account_key: jwk.JWK,
) -> messages.Error | None:
    """The validator of unit tests: every challenge the client answers is fulfilled."""
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _issuer_names(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` checked as dns-persist-01 issuer domain names: 1 to 10 normalized domain
    names (draft-ietf-acme-dns-persist section 3.1), by the clients' own decoder."""
    if isinstance(names, str) or not 1 <= len(names) <= 10:
        raise errors.InvalidArgument("issuer_domain_names must hold 1 to 10 names")
    try:
        challenges.DNSPersist01.from_json(
            {"type": challenges.DNSPersist01.typ, "issuerDomainNames": list(names)}
        )
    except jose_errors.DeserializationError as error:
        raise errors.InvalidArgument(f"issuer_domain_names: {error}") from None
    return tuple(names)


class ACMEServerCore:
    """A strict RFC 8555 server as a function: call `handle` with each request.

    Usable directly as the transport of the client's flows (``core.handle``). Knobs are
    public attributes and may be changed between requests.

    :param base_url: scheme and authority (and optional path prefix) every URL starts with.
    :param validator: checks answered challenges; `always_valid` when None.
    :param clock: returns the current time as an aware UTC datetime.
    :param rng: source of ids, tokens, nonces and serial numbers (seed it for repeatability).
    :param ca: the issuing CA; a fresh one (with ``alternate_chains``) when None.
    :param terms_of_service: ToS URL in the directory (default ``<base>/terms``); when set,
        newAccount requires ``termsOfServiceAgreed`` (RFC 8555 section 7.3). None disables.
    :param profiles: profile names and descriptions (draft-ietf-acme-profiles); ``{}`` offers
        none. ``default_profile`` is given to orders that ask for none.
    :param eab_keys: external account MAC keys by key id (raw bytes, or base64url text as
        handed to users); ``external_account_required`` defaults to whether any are set.
    :param challenge_types: challenge types offered (wildcards only get the DNS ones, IP
        addresses never do, RFC 8738 section 7). dns-account-01 and dns-persist-01 are
        validated by the core from ``dns_lookup`` when it is set, else by ``validator``.
    :param dns_lookup: ``dns_lookup(name)`` gives the TXT values at ``name`` (the test
        server passes its `DNSRecordStore`).
    :param issuer_domain_names: the dns-persist-01 issuer domain names (directory and
        challenges, draft-ietf-acme-dns-persist sections 3.1 and 3.2).
    :param renewal_window: what renewalInfo suggests for a certificate without a window of
        its own (RFC 9773 section 4.2): ``(start, end)`` fractions of its lifetime, with
        ``0 <= start < end <= 1`` (default ``(2/3, 5/6)``), or ``"due"``, a renewal drill:
        every such window lies in the past when asked for, so every ARI client renews at
        once, including for certificates issued later. See `renewal_window`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        validator: Validator | None = None,
        clock: Callable[[], datetime.datetime] = utcnow,
        rng: random.Random | None = None,
        ca: CertificateAuthority | None = None,
        alternate_chains: int = 0,
        terms_of_service: str | None = "",
        profiles: Mapping[str, str] | None = None,
        default_profile: str | None = "",
        eab_keys: Mapping[str, bytes | str] | None = None,
        external_account_required: bool | None = None,
        pre_authorization: bool = True,
        reuse_authorizations: bool = True,
        challenge_types: tuple[str, ...] = (
            "http-01",
            "dns-01",
            "tls-alpn-01",
            "dns-account-01",
            "dns-persist-01",
        ),
        dns_lookup: Callable[[str], Sequence[str]] | None = None,
        issuer_domain_names: tuple[str, ...] = ("acme-testing.invalid",),
        validation_delay_polls: int = 0,
        processing_polls: int = 0,
        orders_page_size: int = 10,
        poll_retry_after: int | None = None,
        renewal_retry_after: int = 21600,
        renewal_window: RenewalWindow = DEFAULT_RENEWAL_WINDOW,
        certificate_lifetime: datetime.timedelta = datetime.timedelta(days=90),
        faults: Faults | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https"):
            raise errors.InvalidArgument(f"base_url must be an http(s) URL, got {base_url!r}")
        self.clock = clock
        self.now()  # fail early on a naive clock
        self.validator: Validator = validator or always_valid
        self.rng = rng or random.Random()
        self.ca = ca or CertificateAuthority(now=self.now(), alternate_chains=alternate_chains)
        self.terms_of_service = (
            f"{self.base_url}/terms" if terms_of_service == "" else (terms_of_service)
        )
        self.profiles = dict(DEFAULT_PROFILES if profiles is None else profiles)
        if default_profile == "":
            default_profile = next(iter(self.profiles), None)
        if default_profile is not None and default_profile not in self.profiles:
            raise errors.InvalidArgument(f"default_profile {default_profile!r} is not in profiles")
        self.default_profile = default_profile
        self.eab_keys = {
            kid: _jose.b64decode_strict(key, "EAB key") if isinstance(key, str) else bytes(key)
            for kid, key in (eab_keys or {}).items()
        }
        self.external_account_required = (
            bool(self.eab_keys) if external_account_required is None else external_account_required
        )
        self.pre_authorization = pre_authorization
        self.reuse_authorizations = reuse_authorizations
        self.challenge_types = tuple(challenge_types)
        self.dns_lookup = dns_lookup
        self.issuer_domain_names = _issuer_names(issuer_domain_names)
        self.validation_delay_polls = validation_delay_polls
        self.processing_polls = processing_polls
        self.orders_page_size = orders_page_size
        self.poll_retry_after = poll_retry_after
        self.renewal_retry_after = renewal_retry_after
        self.renewal_window = renewal_window
        self.certificate_lifetime = certificate_lifetime
        self._faults = faults or Faults()
        self.dice = FaultDice(self._faults)
        #: Renewal-test knobs: a `RateLimit` on one resource, and refusing every order with
        #: ``replaces`` ("alreadyReplaced": 409, or "malformed": 400; None accepts them).
        self.rate_limit: RateLimit | None = None
        self.reject_replaces: str | None = None
        self._rate_count = 0
        self._rate_limited_until: datetime.datetime | None = None
        #: Exceptions raised by server bugs or validators (each answered with a 500): tests
        #: assert this stays empty.
        self.internal_errors: list[BaseException] = []
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.authorizations: dict[str, Authorization] = {}
        self.certificates: dict[str, IssuedCertificate] = {}
        self._nonces: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.RLock()

    # -- configuration and helpers used by the handler modules ---------------------------

    @property
    def faults(self) -> Faults:
        """The fault knobs (`Faults`) in force."""
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        """Replace the fault knobs; their random streams restart from the seed."""
        self._faults = value
        self.dice = FaultDice(value)

    @property
    def renewal_window(self) -> RenewalWindow:
        """The default renewal window: ``(start, end)`` fractions of a certificate's lifetime,
        or ``"due"`` (always in the past). A certificate's own window (`set_renewal_window`,
        `move_windows_into_past`) or its revocation takes precedence. Setting a value that is
        neither raises `acme.errors.InvalidArgument`."""
        return self._renewal_window

    @renewal_window.setter
    def renewal_window(self, value: RenewalWindow) -> None:
        self._renewal_window = check_renewal_window(value)

    @property
    def directory_url(self) -> str:
        """The directory URL clients start from."""
        return f"{self.base_url}/directory"

    @property
    def account_hash_prefix(self) -> str:
        """dns-persist-01's ``accountHashPrefix`` (draft-ietf-acme-dns-persist 4.1)."""
        return self.url("/account-hash/")

    def now(self) -> datetime.datetime:
        """The injected clock's time; a naive datetime is refused."""
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise errors.InvalidArgument("The test server's clock returned a naive datetime")
        return now

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + path

    def new_id(self) -> str:
        """A fresh random id for a URL path (96 bits, base64url)."""
        return _b64(self.rng.getrandbits(96).to_bytes(12, "big"))

    def new_token(self) -> str:
        """A challenge token with 256 bits of entropy (RFC 8555 section 8.3 asks for 128)."""
        return _b64(self.rng.getrandbits(256).to_bytes(32, "big"))

    def profile_lifetime(self, profile: str | None) -> datetime.timedelta:
        """The certificate lifetime of ``profile`` (the default lifetime for unknown ones)."""
        return _PROFILE_LIFETIMES.get(profile or "", self.certificate_lifetime)

    def account_by_key(self, key: jwk.JWK) -> Account | None:
        """The account registered with ``key``, if any."""
        for account in self.accounts.values():
            if _jose.same_key(account.key, key):
                return account
        return None

    def owned(self, store: Mapping[str, Any], ident: str, account: Account, what: str) -> Any:
        """The record ``ident`` of ``store`` if ``account`` owns it."""
        record = store.get(ident)
        if record is None:
            raise Problem("malformed", f"No such {what}", 404)
        if record.account_id != account.id:
            raise Problem("unauthorized", f"This {what} belongs to another account", 403)
        return record

    def certificate_record(self, cert: Any) -> IssuedCertificate:
        """The issued-certificate record for a certificate (object, PEM or DER) or its id."""
        ari_id = cert if isinstance(cert, str) and "-----" not in cert else None
        ari_id = ari_id or _ari.certificate_identifier(cert)
        for record in self.certificates.values():
            if record.ari_id == ari_id:
                return record
        raise KeyError(f"No certificate {ari_id!r} was issued by this server")

    def set_renewal_window(
        self, cert: Any, start: datetime.datetime, end: datetime.datetime
    ) -> None:
        """Make renewalInfo suggest ``[start, end)`` for ``cert`` (RFC 9773 section 4.2)."""
        if end <= start:
            raise errors.InvalidArgument("A renewal window must end after it starts (RFC 9773 4.2)")
        with self._lock:
            self.certificate_record(cert).window = (start, end)

    def move_windows_into_past(self, *certs: Any) -> int:
        """Move the renewal window of ``certs`` (every unexpired certificate when none are
        given) into the past, as a CA does in a revocation drill: ARI clients renew at once
        (RFC 9773 section 4.2). Returns how many certificates were moved."""
        with self._lock:
            now = self.now()
            if certs:
                records = [self.certificate_record(cert) for cert in certs]
            else:
                records = [
                    record
                    for record in self.certificates.values()
                    if record.certificate.not_valid_after_utc > now
                ]
            for record in records:
                record.window = past_window(now)
            return len(records)

    def is_revoked(self, cert: Any) -> bool:
        """Whether ``cert`` (object, PEM, DER or RFC 9773 id) was revoked here."""
        with self._lock:
            return self.certificate_record(cert).revoked

    def resource_of(self, url: str) -> str | None:
        """The resource name a URL addresses, or None if it is not one of ours."""
        try:
            return self._route(url)[0]
        except Problem:
            return None

    # -- the request pipeline ------------------------------------------------------------

    def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Answer one request (thread-safe; never raises for bad input)."""
        with self._lock:
            resource = "unknown"
            try:
                resource, params = self._route(request.url)
                reply = self._dispatch(request, resource, params)
            except Problem as problem:
                reply = problem.reply()
            except Exception as error:  # a server bug: answer as a real CA would, and keep it
                logger.exception("acme.testing internal error on %s", request.url)
                self.internal_errors.append(error)
                reply = Problem("serverInternal", f"{type(error).__name__}: {error}", 500).reply()
            return self._finish(request, resource, reply)

    def problem_response(
        self, request: HTTPRequest, code: str, detail: str, status: int = 400
    ) -> HTTPResponse:
        """A refusal decided outside `handle` (the HTTPS shell's, e.g. a body too large), made
        like every other one: an RFC 7807 problem with a fresh ``Replay-Nonce`` and the
        ``index`` link (RFC 8555 sections 6.5, 6.7, 7.1)."""
        with self._lock:
            resource = self.resource_of(request.url) or "unknown"
            return self._finish(request, resource, Problem(code, detail, status).reply())

    def _route(self, url: str) -> tuple[str, tuple[str, ...]]:
        if not url.startswith(self.base_url + "/"):
            raise Problem("malformed", f"{url[:200]!r} is not a resource of this server", 404)
        path = url[len(self.base_url) :].partition("#")[0].partition("?")[0]
        for pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and (name != "newAuthz" or self.pre_authorization):
                return name, tuple(group for group in match.groups() if group is not None)
        raise Problem("malformed", f"No resource at {path[:200]!r}", 404)

    def _dispatch(self, request: HTTPRequest, resource: str, params: tuple[str, ...]) -> Reply:
        faults = self._faults
        if self.dice.roll("error", faults.error_rate, resource):
            code = "rateLimited" if faults.error_status == 429 else "serverInternal"
            headers = (
                () if faults.retry_after is None else (("Retry-After", str(faults.retry_after)),)
            )
            raise Problem(code, "Injected fault", faults.error_status, headers=headers)
        method = request.method.upper()
        if method == "GET" and resource in ("directory", "renewalInfo", "terms", "newNonce"):
            if resource == "directory":
                return Reply.json(self._directory())
            if resource == "newNonce":
                return Reply(204, headers=[("Cache-Control", "no-store")])  # section 7.2
            if resource == "terms":
                return Reply(200, b"acme.testing: a test CA. No terms; no trust.\n", "text/plain")
            return _certs.renewal_info(self, params[0])
        if method == "HEAD" and resource == "newNonce":
            return Reply(200, headers=[("Cache-Control", "no-store")])
        if method != "POST" or resource in ("renewalInfo", "terms"):
            raise Problem(
                "malformed",
                f"{method[:10]} is not allowed here (RFC 8555 section 6.3)",
                405,
                headers=(("Allow", "GET" if resource in ("renewalInfo", "terms") else "POST"),),
            )
        signed = self._verify(request, resource, params)
        self._check_rate_limit(resource)
        if resource == "directory":
            signed.require_empty()
            return Reply.json(self._directory())
        if resource == "newNonce":
            signed.require_empty()
            return Reply(204, headers=[("Cache-Control", "no-store")])
        return _HANDLERS[resource](self, signed)

    def _check_rate_limit(self, resource: str) -> None:
        """The `RateLimit` knob: refuse with rateLimited and Retry-After past the count."""
        limit = self.rate_limit
        if limit is None or resource != limit.resource:
            return
        now = self.now()
        until = self._rate_limited_until
        if until is not None and now >= until:
            self._rate_limited_until, self._rate_count, until = None, 0, None
        if until is None and self._rate_count < limit.limit:
            self._rate_count += 1
            return
        if until is None:
            until = self._rate_limited_until = now + datetime.timedelta(seconds=limit.retry_after)
        wait = max(1, int((until - now).total_seconds() + 0.999))
        raise Problem(
            "rateLimited",
            f"Too many {resource} requests: at most {limit.limit} per {limit.retry_after} s",
            429,
            headers=(("Retry-After", str(wait)),),
        )

    def _verify(
        self, request: HTTPRequest, resource: str, params: tuple[str, ...]
    ) -> SignedRequest:
        """Every check of RFC 8555 section 6.2-6.5 on a POST; returns the verified request."""
        headers = Headers(dict(request.headers))
        content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type != JOSE_CONTENT_TYPE:
            raise Problem(
                "malformed",
                f"Content-Type must be {JOSE_CONTENT_TYPE}, not {content_type[:60]!r}",
                415,
            )
        parsed = _jose.parse_jws(request.body or b"")
        header = parsed.protected
        alg_name, _ = _jose.signature_algorithm(header)
        if "jwk" in header and "kid" in header:
            raise Problem("malformed", 'The JWS header has both "jwk" and "kid"')
        if "jwk" in header and resource not in _JWK_RESOURCES:
            raise Problem("malformed", f'{resource} requests must be signed with "kid", not "jwk"')
        if "jwk" not in header and resource == "newAccount":
            raise Problem("malformed", 'newAccount requests must carry the key in "jwk"')
        if "jwk" not in header and "kid" not in header:
            raise Problem("malformed", 'The JWS header needs "kid" (or "jwk" where allowed)')
        self._use_nonce(header.get("nonce"))
        if header.get("url") != request.url:
            raise Problem(
                "unauthorized",
                f"The JWS url {str(header.get('url'))[:200]!r} is not the request URL",
                401,
            )
        account = None
        if "jwk" in header:
            key = _jose.parse_jwk(header["jwk"], alg_name)
        else:
            account = self._account_for_kid(header["kid"])
            key = account.key
        _jose.verify_signature(parsed, key, alg_name)
        if self.dice.roll("nonce", self._faults.bad_nonce_rate, resource):
            raise Problem("badNonce", "Injected fault: please retry with the fresh nonce")
        return SignedRequest(
            request.url, resource, params, headers, header, parsed.payload, key, account
        )

    def _account_for_kid(self, kid: Any) -> Account:
        prefix = self.url("/acct/")
        if not isinstance(kid, str) or not kid.startswith(prefix):
            raise Problem("accountDoesNotExist", f"No account at {str(kid)[:200]!r}", 400)
        account = self.accounts.get(kid[len(prefix) :])
        if account is None or account.url != kid:
            raise Problem("accountDoesNotExist", f"No account at {kid[:200]!r}", 400)
        if account.status != "valid":  # RFC 8555 section 7.3.6
            raise Problem("unauthorized", f"Account {kid} is {account.status}", 401)
        return account

    def _new_nonce(self) -> str:
        nonce = _b64(self.rng.getrandbits(128).to_bytes(16, "big"))
        self._nonces[nonce] = None
        while len(self._nonces) > _MAX_NONCES:
            self._nonces.popitem(last=False)
        return nonce

    def _use_nonce(self, nonce: Any) -> None:
        """Accept each issued nonce exactly once (RFC 8555 section 6.5)."""
        if not isinstance(nonce, str):
            raise Problem("badNonce", 'The JWS header has no "nonce"')
        if self._nonces.pop(nonce, "missing") == "missing":
            raise Problem("badNonce", f"Nonce {nonce[:40]!r} is unknown or already used")

    def _finish(self, request: HTTPRequest, resource: str, reply: Reply) -> HTTPResponse:
        headers = Headers()
        if reply.content_type:
            headers["Content-Type"] = reply.content_type
        for name, value in reply.headers:
            headers.add(name, value)
        headers["Replay-Nonce"] = self._new_nonce()  # RFC 8555 section 6.5
        if resource != "directory":
            headers.add("Link", f'<{self.directory_url}>;rel="index"')  # section 7.1
        body = b"" if request.method.upper() == "HEAD" else reply.body
        return HTTPResponse(reply.status, headers, body, request.url)

    def _directory(self) -> dict[str, Any]:
        """The directory object (RFC 8555 section 7.1.1, RFC 9773 section 3, profiles 3)."""
        directory: dict[str, Any] = {
            "newNonce": self.url("/new-nonce"),
            "newAccount": self.url("/new-account"),
            "newOrder": self.url("/new-order"),
            "revokeCert": self.url("/revoke-cert"),
            "keyChange": self.url("/key-change"),
            "renewalInfo": self.url("/renewal-info"),
        }
        if self.pre_authorization:
            directory["newAuthz"] = self.url("/new-authz")
        meta: dict[str, Any] = {"externalAccountRequired": self.external_account_required}
        if self.terms_of_service:
            meta["termsOfService"] = self.terms_of_service
        if self.profiles:
            meta["profiles"] = dict(self.profiles)
        if "dns-persist-01" in self.challenge_types:  # draft-ietf-acme-dns-persist 3.2, 4.1
            meta["accountHashPrefix"] = self.account_hash_prefix
            meta["issuerDomainNames"] = list(self.issuer_domain_names)
        directory["meta"] = meta
        return directory
