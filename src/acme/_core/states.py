"""The status state machines of RFC 8555 section 7.1.6, as one table of data.

Rules of this module (layer 0, stdlib plus `acme.errors`):
- `TRANSITIONS` lists, per object kind, the *direct* edges drawn in section 7.1.6. A server
  moves objects along single edges; it checks each move with `is_allowed`.
- A client only sees snapshots, so a poll may skip states (a server that validates
  synchronously shows a challenge ``pending`` then ``valid``, never ``processing``).
  `check_transition` therefore accepts any *path* through the table; staying in the same
  state is always accepted (a poll that saw no change).
- Statuses are compared by name: plain strings or `acme.messages.Status` constants both work
  (``str(status)`` is the name). A status the table does not know is never allowed.
"""

from __future__ import annotations

from collections.abc import Mapping

from acme import errors

__all__ = [
    "ACCOUNT",
    "AUTHORIZATION",
    "CHALLENGE",
    "FINAL",
    "ORDER",
    "TRANSITIONS",
    "check_transition",
    "is_allowed",
    "is_final",
    "is_known",
    "is_reachable",
]

ACCOUNT = "account"
ORDER = "order"
AUTHORIZATION = "authorization"
CHALLENGE = "challenge"

#: Direct transitions ``{kind: {status: frozenset(next statuses)}}`` (RFC 8555 section 7.1.6).
TRANSITIONS: Mapping[str, Mapping[str, frozenset[str]]] = {
    # "Challenge objects are created in the pending state ... processing ... valid / invalid."
    CHALLENGE: {
        "pending": frozenset({"processing"}),
        "processing": frozenset({"processing", "valid", "invalid"}),  # retries stay processing
        "valid": frozenset(),
        "invalid": frozenset(),
    },
    # Authorization diagram: pending -> valid | invalid, and pending or valid -> revoked |
    # deactivated | expired.
    AUTHORIZATION: {
        "pending": frozenset({"valid", "invalid", "revoked", "deactivated", "expired"}),
        "valid": frozenset({"revoked", "deactivated", "expired"}),
        "invalid": frozenset(),
        "revoked": frozenset(),
        "deactivated": frozenset(),
        "expired": frozenset(),
    },
    # Order diagram: pending -> ready -> processing -> valid, any non-final state -> invalid.
    ORDER: {
        "pending": frozenset({"ready", "invalid"}),
        "ready": frozenset({"processing", "invalid"}),
        "processing": frozenset({"valid", "invalid"}),
        "valid": frozenset(),
        "invalid": frozenset(),
    },
    # Account diagram: valid -> deactivated (client) | revoked (server).
    ACCOUNT: {
        "valid": frozenset({"deactivated", "revoked"}),
        "deactivated": frozenset(),
        "revoked": frozenset(),
    },
}

#: Final statuses per kind: no transition leaves them.
FINAL: Mapping[str, frozenset[str]] = {
    kind: frozenset(status for status, nexts in table.items() if not nexts)
    for kind, table in TRANSITIONS.items()
}


def _table(kind: str) -> Mapping[str, frozenset[str]]:
    try:
        return TRANSITIONS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown ACME object kind {kind!r}; expected one of {sorted(TRANSITIONS)}"
        ) from None


def is_known(kind: str, status: object) -> bool:
    """True if ``status`` is a status RFC 8555 defines for ``kind`` objects."""
    return str(status) in _table(kind)


def is_final(kind: str, status: object) -> bool:
    """True if ``status`` is final for ``kind`` (nothing can follow it)."""
    _table(kind)
    return str(status) in FINAL[kind]


def is_allowed(kind: str, old: object, new: object) -> bool:
    """True if ``old -> new`` is one direct edge of the section 7.1.6 diagrams."""
    return str(new) in _table(kind).get(str(old), frozenset())


def is_reachable(kind: str, old: object, new: object) -> bool:
    """True if ``new`` equals ``old`` or follows it through one or more edges."""
    table = _table(kind)
    start, goal = str(old), str(new)
    if start not in table or goal not in table:
        return False
    seen = {start}
    frontier = [start]
    while frontier:
        status = frontier.pop()
        if status == goal:
            return True
        for following in table[status] - seen:
            seen.add(following)
            frontier.append(following)
    return False


def check_transition(kind: str, old: object, new: object) -> None:
    """Accept a change a client observed between two snapshots of one object.

    :raises acme.errors.UnexpectedUpdate: if ``new`` cannot follow ``old`` (e.g. an order
        going from ``valid`` back to ``pending``, or a status RFC 8555 does not define).
    """
    if not is_reachable(kind, old, new):
        raise errors.UnexpectedUpdate(
            f"The server moved a {kind} from {str(old)!r} to {str(new)!r}, which RFC 8555 "
            "section 7.1.6 does not allow"
        )
