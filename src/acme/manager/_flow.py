"""One lineage's turn, as a sans-I/O flow: the single implementation behind both managers.

`lineage_flow` is a generator. It decides (with `acme.manager._policy`) and yields an *effect*
for every piece of I/O: a client call, publishing a challenge answer, a hook, extending the
lease, locking the names, saving the record. The sync `Manager` runs the effects with
`acme.client.ClientV2` and blocking calls, the `AsyncManager` with
`acme.asyncio_client.AsyncClientV2` and awaits; failures are thrown back into the flow at the
effect that failed, so what a failure means is decided here, once.

Failure rules:
- ``alreadyReplaced`` (RFC 9773 section 5, a 409) or a ``malformed`` complaint about
  ``replaces`` (e.g. a certificate the CA does not know): order again at once without it, and
  remember to leave it out for this lineage until the next success.
- ``rateLimited`` (RFC 8555 section 6.6): the lineage fails with `RateLimited`, and its CA is
  left alone until the problem's ``Retry-After``.
- Anything else: a `LineageError` with exponential back-off. Never an exception out of the
  flow: one lineage's failure never stops the others.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import random
from collections.abc import Generator
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import jwk

from acme import challenges, crypto_util, errors, messages
from acme._core.issuance import challenge_response, check_order_identifiers, plan_challenges
from acme._wire import identifiers
from acme.manager import _policy
from acme.manager._challenges import ChallengeAnswer
from acme.manager._errors import HookError, LineageError, LockHeld, RateLimited
from acme.manager._events import Event
from acme.manager._record import Certificate, CertificatePair, Hooks

__all__ = [
    "Call",
    "Context",
    "KeepLease",
    "LockNames",
    "Outcome",
    "Persist",
    "RunHook",
    "Solve",
    "lineage_flow",
]


@dataclasses.dataclass(frozen=True)
class Call:
    """Call ``method`` of the lineage's client (`ClientV2` or `AsyncClientV2`)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Solve:
    """``solver.present(answer)``, ``solver.cleanup(answer)``, or ``solver.ready(answers)``
    (``answer`` is then the tuple of an order's answers)."""

    action: Literal["present", "cleanup", "ready"]
    answer: ChallengeAnswer | tuple[ChallengeAnswer, ...]


@dataclasses.dataclass(frozen=True)
class RunHook:
    """Run a hook command with extra environment variables; `HookError` on failure."""

    hook: Literal["pre", "post", "deploy"]
    command: str
    env: dict[str, str]


@dataclasses.dataclass(frozen=True)
class KeepLease:
    """Extend the lineage's lease (`LeaseLost` if it was lost)."""


@dataclasses.dataclass(frozen=True)
class LockNames:
    """Lock every name for this issuance (`LockHeld` if another issuance has one)."""

    names: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Persist:
    """Save the record under the lineage's lease, scheduled for ``due``."""

    record: Certificate
    due: datetime.datetime
    new_pair: bool = False  # this save makes a new certificate current


logger = logging.getLogger("acme.manager")

Effect = Call | Solve | RunHook | KeepLease | LockNames | Persist
Flow = Generator[Effect, Any, "Outcome"]


@dataclasses.dataclass
class Context:
    """What a flow needs to know about its run (``deadline`` is real wall-clock time)."""

    now: datetime.datetime
    rng: random.Random
    account_key: jwk.JWK
    deadline: datetime.datetime
    ca_has_ari: bool = True
    ca_blocked_until: datetime.datetime | None = None
    account_url: str | None = None
    policy: _policy.Policy = dataclasses.field(default_factory=_policy.Policy)
    force: bool = False
    dry_run: bool = False
    hook_env: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Hooks of this run that replace the lineage's own (a None field keeps the lineage's).
    hooks: Hooks | None = None
    #: The lineage was claimed as due: if it turns out not to be, save its real due time.
    reschedule: bool = False


Action = Literal["issued", "renewed", "checked", "waiting", "would_renew", "skipped", "failed"]


@dataclasses.dataclass
class Outcome:
    """How a lineage's turn ended."""

    record: Certificate
    action: Action
    events: list[Event] = dataclasses.field(default_factory=list)
    error: LineageError | None = None
    wait_until: datetime.datetime | None = None
    skip_reason: str | None = None


def _problem(error: BaseException) -> messages.Error | None:
    if isinstance(error, messages.Error):
        return error
    inner = getattr(error, "error", None)  # ConflictError, IssuanceError
    return inner if isinstance(inner, messages.Error) else None


def replaces_rejected(error: BaseException) -> bool:
    """Whether the CA refused the order because of its ``replaces`` field."""
    problem = _problem(error)
    if problem is None:
        return False
    if problem.code == "alreadyReplaced":
        return True
    return problem.code == "malformed" and "replace" in str(problem.detail or "").lower()


def generate_key(key_type: str) -> bytes:
    """A new private key of a `KEY_TYPES` kind, as PKCS#8 PEM."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if key_type in ("ec256", "ec384"):
        key = ec.generate_private_key(ec.SECP256R1() if key_type == "ec256" else ec.SECP384R1())
    else:
        key = rsa.generate_private_key(65537, int(key_type[3:]))
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _split(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    dns, ips = [], []
    for name in names:
        address = identifiers.parse_ip(name)
        if address is not None:
            ips.append(str(address))
        else:
            dns.append(name)
    return dns, ips


def _answer(
    challb: messages.ChallengeBody, identifier: str, ctx: Context, lineage: str
) -> ChallengeAnswer:
    chall = challb.chall
    assert isinstance(chall, challenges.KeyAuthorizationChallenge)
    account_key = ctx.account_key
    key_authorization = chall.key_authorization(account_key)
    value: str
    record_name = ""
    if isinstance(chall, challenges.DNSAccount01):
        if not ctx.account_url:
            raise errors.Error("dns-account-01 needs the account URL")
        value = chall.validation(account_key)
        record_name = chall.validation_domain_name(identifier, ctx.account_url)
    elif isinstance(chall, challenges.TLSALPN01):
        cert, key = chall.validation(account_key, domain=identifier)
        value = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii") + cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    elif isinstance(chall, challenges.DNS01):
        value = chall.validation(account_key)
        record_name = chall.validation_domain_name(identifier)
    else:
        value = key_authorization
    token = chall.encode("token")
    return ChallengeAnswer(
        str(chall.typ), identifier, token, key_authorization, value, lineage, record_name
    )


def _obtain(
    record: Certificate, replaces: str | None, ctx: Context
) -> Generator[Effect, Any, CertificatePair]:
    """One order to a downloaded chain (RFC 8555 sections 7.4, 7.5.1, 7.4.2)."""
    key_pem = generate_key(record.key_type)
    dns, ips = _split(record.names)
    csr = crypto_util.make_csr(key_pem, dns or None, ipaddrs=ips or None)
    order = yield Call("new_order", (csr,), {"profile": record.profile, "replaces": replaces})
    # The core decides: a stray identifier is refused, valid authorizations need nothing, each
    # pending one gets the lineage's challenge type (RFC 8555 sections 7.4, 7.1.4, 7.5.1).
    check_order_identifiers(order, order.csr_pem)
    plan = plan_challenges(order, [challenges.Challenge.TYPES[record.challenge]])
    answered: list[tuple[messages.ChallengeBody, ChallengeAnswer]] = []
    try:
        for authzr, challb in plan.answer:
            if isinstance(challb.chall, challenges.DNSPersist01):
                continue  # its record was published once, outside any order (draft section 4)
            ident = authzr.body.identifier.value
            answer = _answer(challb, ident, ctx, record.id)
            yield Solve("present", answer)
            answered.append((challb, answer))
        if answered:
            yield Solve("ready", tuple(answer for _, answer in answered))
        for _, challb in plan.answer:
            yield Call("answer_challenge", (challb, challenge_response(challb, ctx.account_key)))
        order = yield Call("poll_authorizations", (order, ctx.deadline))
        order = yield Call("finalize_order", (order, ctx.deadline))
    finally:
        for _, answer in answered:
            try:
                yield Solve("cleanup", answer)
            except Exception as error:  # a leftover answer is harmless; the outcome matters
                logger.warning(
                    "Could not remove the %s answer for %s: %s",
                    answer.kind,
                    answer.identifier,
                    error,
                )
    if not order.fullchain_pem:
        raise errors.Error("The order finished without a certificate")
    return CertificatePair(key_pem, order.fullchain_pem)


def _check_ari(record: Certificate, ctx: Context) -> Generator[Effect, Any, Event | None]:
    """Fetch renewal information and apply it to ``record`` (RFC 9773 section 4)."""
    assert record.current is not None
    state = record.schedule()
    try:
        info, retry_at = yield Call("renewal_info", (record.current.leaf,))
    except errors.Error:  # ARIError: a long-term error, ask again in six hours (4.3.3)
        update = _policy.renewal_info_failed(state, ctx.now, ctx.policy)
    else:
        window = info.suggested_window
        update = _policy.renewal_info_received(
            state, window.start, window.end, retry_at, ctx.now, ctx.rng, ctx.policy
        )
        record.explanation_url = info.explanation_url
    record.window, record.renew_at = update.window, update.renew_at
    record.next_ari_check = update.next_ari_check
    if update.window_changed and update.window is not None and state.window is not None:
        return Event("window_changed", record.id, ctx.now, window=update.window)
    return None


def _decide(record: Certificate, ctx: Context) -> _policy.Decision:
    return _policy.decide(
        record.schedule(ctx.force),
        ctx.now,
        ca_has_ari=ctx.ca_has_ari,
        ca_blocked_until=ctx.ca_blocked_until,
        policy=ctx.policy,
    )


def _hook_env(record: Certificate, hook: str, ctx: Context) -> dict[str, str]:
    env = {"ACME_HOOK": hook, "ACME_LINEAGE": record.id, "ACME_NAMES": " ".join(record.names)}
    if hook == "deploy":
        env.update(ctx.hook_env)
        env["RENEWED_DOMAINS"] = env["ACME_NAMES"]
        if record.current is not None:
            env["ACME_SERIAL"] = f"{record.current.serial:x}"
            env["ACME_NOT_AFTER"] = record.current.not_after.isoformat()
    return env


def _failure(record: Certificate, error: BaseException, ctx: Context) -> tuple[LineageError, bool]:
    """The typed error for ``error`` and whether it was a rate limit; updates the back-off."""
    record.failures += 1
    record.last_error = str(error)[:500]
    problem = _problem(error)
    if isinstance(error, LineageError):
        typed: LineageError = error
        record.retry_at = _policy.failure_backoff(record.failures, ctx.now, ctx.rng, ctx.policy)
    elif problem is not None and problem.code == "rateLimited":
        backoff = _policy.CABackoff(ctx.policy)
        until = backoff.rate_limited(record.directory_url, problem.retry_after, ctx.now)
        record.retry_at = until
        typed = RateLimited(record.id, f"rate limited: {error}", until, record.directory_url)
    else:
        record.retry_at = _policy.failure_backoff(record.failures, ctx.now, ctx.rng, ctx.policy)
        typed = LineageError(record.id, f"{type(error).__name__}: {error}", record.retry_at)
    if typed is not error:
        typed.__cause__ = error
    typed.retry_at = record.retry_at
    return typed, isinstance(typed, RateLimited)


def lineage_flow(original: Certificate, ctx: Context) -> Flow:
    """Check, renew or issue one leased lineage; returns its `Outcome` (never raises)."""
    record = dataclasses.replace(original)
    events: list[Event] = []
    checked = False
    decision = _decide(record, ctx)
    if isinstance(decision, _policy.CheckRenewalInfo):
        event = yield from _check_ari(record, ctx)
        events += [event] if event else []
        checked = True
        decision = _decide(record, ctx)
    if isinstance(decision, _policy.Wait):
        if checked or ctx.reschedule:
            yield Persist(record, record.due_at(ctx.now, ctx.ca_has_ari))
        action: Action = "checked" if checked else "waiting"
        return Outcome(record, action, events, wait_until=decision.until)
    if ctx.dry_run:
        return Outcome(record, "would_renew", events)
    assert isinstance(decision, _policy.Issue)
    try:
        yield LockNames(record.names)
    except LockHeld as held:
        return Outcome(record, "skipped", events, skip_reason=str(held))
    first = record.current is None
    replaced = decision.replaces is not None
    hooks = record.hooks
    if ctx.hooks is not None:
        hooks = Hooks(
            pre=ctx.hooks.pre or hooks.pre,
            post=ctx.hooks.post or hooks.post,
            deploy=ctx.hooks.deploy or hooks.deploy,
        )
    failure: BaseException | None = None
    pair: CertificatePair | None = None
    try:
        yield KeepLease()
        if hooks.pre:
            yield RunHook("pre", hooks.pre, _hook_env(record, "pre", ctx))
        try:
            pair = yield from _obtain(record, decision.replaces, ctx)
        except Exception as error:
            if not replaced or not replaces_rejected(error):
                raise
            record.skip_replaces, replaced = True, False
            pair = yield from _obtain(record, None, ctx)
    except Exception as error:
        failure = error
    if hooks.post:
        try:
            yield RunHook("post", hooks.post, _hook_env(record, "post", ctx))
        except Exception as error:
            failure = failure or error
    if pair is None:
        assert failure is not None
        typed, _ = _failure(record, failure, ctx)
        try:
            yield Persist(record, record.due_at(ctx.now, ctx.ca_has_ari))
        except Exception as error:  # the lease is gone: whoever has it now keeps the record
            logger.warning("Could not save the failure of %s: %s", record.id, error)
        events.append(Event("failed", record.id, ctx.now, error=typed))
        return Outcome(record, "failed", events, error=typed)
    record.previous, record.current = record.current, pair
    record.window = record.renew_at = record.next_ari_check = record.retry_at = None
    record.failures, record.last_error, record.revoked = 0, None, False
    record.account = ctx.account_url or record.account
    record.skip_replaces = False  # the refusal was about the certificate just replaced
    if ctx.ca_has_ari:  # RFC 9773 section 4.3: fetch renewal information right after issuance
        yield from _check_ari(record, ctx)
    kind: Literal["issued", "renewed"] = "issued" if first else "renewed"
    after_save: LineageError | None = None  # the certificate is saved, what follows failed
    try:
        yield Persist(record, record.due_at(ctx.now, ctx.ca_has_ari), new_pair=True)
    except HookError as error:  # the save's own follow-up (on_saved) failed
        after_save = error
    except Exception as error:  # not saved: this certificate is lost to us
        typed, _ = _failure(record, error, ctx)
        events.append(Event("failed", record.id, ctx.now, error=typed))
        return Outcome(record, "failed", events, error=typed)
    events.append(Event(kind, record.id, ctx.now, certificate=pair, replaced=replaced))
    if after_save is None and hooks.deploy:
        try:
            yield RunHook("deploy", hooks.deploy, _hook_env(record, "deploy", ctx))
        except HookError as error:
            after_save = error
    if after_save is None and isinstance(failure, HookError):  # the post hook failed
        after_save = failure
    if after_save is not None:
        events.append(Event("failed", record.id, ctx.now, error=after_save))
    return Outcome(record, kind, events, error=after_save)
