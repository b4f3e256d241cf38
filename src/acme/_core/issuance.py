"""One certificate issuance as steps: order, (the caller provisions), answer, validate, finalize.

RFC 8555 section 7.1 lays the steps out: create an order (7.4), prove control of each
identifier through one challenge of each pending authorization (7.5, 7.5.1), wait for the
authorizations to be validated, then finalize and download (7.4, 7.4.2). `Issuance` holds the
state between the steps and decides what each one does; each step is a flow, so the sync and
async clients and the CLI run the same decisions. Between `Issuance.order` and
`Issuance.answer` the caller publishes the answers (files, a listener, DNS records): that is
I/O, and the only part that stays with it.

Rules:
- The order and its authorizations name only what the CSR asked for (section 7.4 ties them
  to the newOrder identifiers); anything else is refused before any challenge is answered,
  since answering it would prove control of a name for someone else.
- An authorization already ``valid`` (reused, or pre-authorized) needs nothing.
- A ``pending`` one gets the first challenge type of the caller's preference that the server
  offers (`choose_challenge`); none offered is an error before anything is answered.
- Any other status (``invalid``, ``deactivated``, ``expired``, ``revoked``) cannot be
  answered: an error, before anything is answered.
- Every step shares the one deadline given at the start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from acme import challenges, crypto_util, errors, messages
from acme._core.challenges import choose_challenge, offered_types
from acme._core.deadlines import to_monotonic
from acme._core.http import NetFlow
from acme._core.operations import ClientFlows
from acme._wire.coercion import coerce_csr
from acme._wire.identifiers import parse_ip

__all__ = [
    "ChallengePlan",
    "Issuance",
    "challenge_response",
    "check_order_identifiers",
    "plan_challenges",
    "requested_identifiers",
]


@dataclasses.dataclass(frozen=True)
class ChallengePlan:
    """What an order's authorizations need before the CA can validate them.

    :ivar answer: ``(authorization, chosen challenge)`` for every pending authorization, in
        the order's order; the caller provisions each, then `Issuance.answer` answers them.
    :ivar valid: the authorizations that are already valid and need nothing.
    """

    answer: tuple[tuple[messages.AuthorizationResource, messages.ChallengeBody], ...]
    valid: tuple[messages.AuthorizationResource, ...]


def _identifier_key(typ: str, value: str, wildcard: bool = False) -> tuple[str, str]:
    """How identifiers compare: DNS names in lower case without a final dot (``*.`` kept
    for wildcards, RFC 8555 section 7.1.4), addresses in canonical form (RFC 8738 section 3)."""
    if typ == "ip":
        address = parse_ip(value)
        return typ, value if address is None else str(address)
    name = value.rstrip(".").lower()
    return typ, f"*.{name}" if wildcard and not name.startswith("*.") else name


def requested_identifiers(csr: Any) -> set[tuple[str, str]]:
    """The ``(type, value)`` identifiers an order for ``csr`` asks for: what newOrder sends."""
    parsed = coerce_csr(csr)
    dns, ips = crypto_util.get_identifiers_from_x509(parsed.subject, parsed.extensions)
    return {_identifier_key("dns", name) for name in dns} | {
        _identifier_key("ip", str(ip)) for ip in ips
    }


def check_order_identifiers(orderr: messages.OrderResource, csr: Any) -> None:
    """Refuse an order whose identifiers or authorizations name something never asked for.

    :raises acme.errors.ClientError: naming the stray identifier and where it was.
    """
    asked = requested_identifiers(csr)
    shown = ", ".join(f"{typ} {value}" for typ, value in sorted(asked))
    found = [(ident, False, "the order") for ident in orderr.body.identifiers]
    found += [
        (authzr.body.identifier, bool(authzr.body.wildcard), f"an authorization ({authzr.uri})")
        for authzr in orderr.authorizations or ()
    ]
    for ident, wildcard, where in found:
        if _identifier_key(str(ident.typ), ident.value, wildcard) not in asked:
            raise errors.ClientError(
                f"the CA put {ident.typ} identifier {ident.value} in {where}, but this order "
                f"asked only for {shown}: refusing to answer any challenge"
            )


def plan_challenges(
    orderr: messages.OrderResource, accepted: Sequence[type[challenges.Challenge]]
) -> ChallengePlan:
    """The `ChallengePlan` for ``orderr`` (its authorizations fetched, as `new_order` returns).

    :raises acme.errors.ClientError: if an authorization cannot be answered (see the rules).
    """
    answer = []
    valid = []
    for authzr in orderr.authorizations or ():
        status = authzr.body.status
        name = authzr.body.identifier.value
        if status == messages.STATUS_VALID:
            valid.append(authzr)
            continue
        if status != messages.STATUS_PENDING:
            raise errors.ClientError(
                f"the authorization for {name} is {status}: it cannot be answered"
            )
        challb = choose_challenge(authzr, accepted)
        if challb is None:
            wanted = " or ".join(str(kind.typ) for kind in accepted)
            offered = ", ".join(offered_types(authzr)) or "none"
            raise errors.ClientError(
                f"the CA offers no {wanted} challenge for {name} (it offers: {offered})"
            )
        answer.append((authzr, challb))
    return ChallengePlan(tuple(answer), tuple(valid))


def challenge_response(
    challb: messages.ChallengeBody, account_key: Any
) -> challenges.ChallengeResponse:
    """The response that tells the CA ``challb`` is ready: a key-authorization challenge's
    (RFC 8555 section 8.1) or dns-persist-01's (draft-ietf-acme-dns-persist section 4); both
    are sent as ``{}``."""
    chall = challb.chall
    if isinstance(chall, (challenges.KeyAuthorizationChallenge, challenges.DNSPersist01)):
        return chall.response(account_key)
    raise errors.ClientError(f"Cannot answer a {chall.typ} challenge")


class Issuance:
    """The state of one issuance between its steps; each step method returns a flow.

    :param flows: the client's operations (a directory and a session with an account).
    :param csr_pem: the CSR, in any form the clients' ``new_order`` accepts.
    :param accepted: the challenge types the caller can answer, most preferred first.
    :param deadline: for all the steps together: an aware datetime or seconds from now.
    """

    def __init__(
        self,
        flows: ClientFlows,
        csr_pem: Any,
        accepted: Sequence[type[challenges.Challenge]],
        deadline: Any,
        *,
        profile: str | None = None,
        replaces: Any = None,
    ) -> None:
        self.flows = flows
        self.csr_pem = csr_pem
        self.accepted = tuple(accepted)
        self.deadline = to_monotonic(flows.ctx, deadline)
        self.profile = profile
        self.replaces = replaces
        self._order: messages.OrderResource | None = None
        self._plan: ChallengePlan | None = None

    @property
    def order_resource(self) -> messages.OrderResource:
        """The order as last seen (after `order`, `validate` or `finalize`)."""
        if self._order is None:
            raise errors.ClientError("Issuance.order() has not run yet")
        return self._order

    @property
    def plan_or_none(self) -> ChallengePlan | None:
        """The plan once `order` made one, else None (e.g. the order was refused)."""
        return self._plan

    @property
    def plan(self) -> ChallengePlan:
        """The challenges to provision and answer (after `order`)."""
        if self._plan is None:
            raise errors.ClientError("Issuance.order() has not run yet")
        return self._plan

    def order(self) -> NetFlow[ChallengePlan]:
        """Create the order with its authorizations (7.4) and decide what to answer."""
        orderr = yield from self.flows.new_order(self.csr_pem, self.profile, self.replaces)
        self._order = orderr
        check_order_identifiers(orderr, orderr.csr_pem)
        self._plan = plan_challenges(orderr, self.accepted)
        return self._plan

    def answer(self) -> NetFlow[list[messages.ChallengeResource]]:
        """Tell the CA each planned challenge is ready to be validated (7.5.1).

        Call it once the answers are published: the CA may validate at once.
        """
        key = self.flows.ctx.net.key
        if key is None:
            raise errors.ClientError("Answering a challenge needs the account key")
        answered = []
        for _, challb in self.plan.answer:
            response = challenge_response(challb, key)
            answered.append((yield from self.flows.answer_challenge(challb, response)))
        return answered

    def validate(self) -> NetFlow[messages.OrderResource]:
        """Poll until no authorization is pending (7.5.1).

        :raises acme.errors.ValidationError: if one ended other than ``valid``.
        :raises acme.errors.TimeoutError: if the deadline would pass first.
        """
        orderr = yield from self.flows.poll_authorizations(self.order_resource, self.deadline)
        self._order = orderr
        return orderr

    def finalize(self, fetch_alternative_chains: bool = False) -> NetFlow[messages.OrderResource]:
        """Send the CSR, poll the order to ``valid`` and download the chain (7.4, 7.4.2)."""
        orderr = yield from self.flows.finalize_order(
            self.order_resource, self.deadline, fetch_alternative_chains
        )
        self._order = orderr
        return orderr
