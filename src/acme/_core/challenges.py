"""Challenge decisions every side shares: which challenge to answer, and is an answer right.

Pure functions, no I/O: the client's issuance steps (`acme._core.issuance`), its http-01
self-check (`acme._net.probes`) and the test CA's validator (``acme.testing``) all decide
here, so a client and the CA it is tested against cannot disagree on the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - types only: the http-01 probe (acme._net.probes) uses
    # this module, and acme.challenges loads that probe, so nothing of ours is imported here.
    from acme import challenges, messages

__all__ = ["choose_challenge", "http01_body_matches", "offered_types"]


def choose_challenge(
    authzr: messages.AuthorizationResource,
    accepted: Sequence[type[challenges.Challenge]],
) -> messages.ChallengeBody | None:
    """The challenge to answer for ``authzr``, or None if the server offers none we accept.

    ``accepted`` is in the client's order of preference: the server lists the challenges it
    would accept, and completing any one of them validates the authorization (RFC 8555
    sections 7.1.4 and 7.5.1), so the client picks the first type it prefers that is offered.
    """
    offered = authzr.body.challenges
    for kind in accepted:
        for challb in offered:
            if isinstance(challb.chall, kind):
                return challb
    return None


def offered_types(authzr: messages.AuthorizationResource) -> list[str]:
    """The challenge types the server offers for ``authzr``, sorted, for messages."""
    return sorted({str(challb.chall.typ) for challb in authzr.body.challenges})


def http01_body_matches(body: bytes, key_authorization: str, cutset: str) -> bool:
    """Whether a served http-01 resource is the key authorization (RFC 8555 section 8.3).

    Steps 4 and 5 of the validation: the body, less trailing whitespace (which the server
    "SHOULD ignore"; ``cutset`` says which: ``HTTP01Response.WHITESPACE_CUTSET``), must be
    the key authorization exactly. Nothing before it is ignored, and the comparison is on
    bytes, so no decoding can make a wrong body match.
    """
    expected = key_authorization.encode("ascii")
    return body.rstrip(cutset.encode("ascii")) == expected
