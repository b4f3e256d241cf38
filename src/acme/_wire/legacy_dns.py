"""The pre-RFC 8555 "dns" challenge of acme 1.x (JWS validation). Deprecated: use dns-01.

Public through `acme.challenges` (``DNS``, ``DNSResponse``); kept apart so the RFC challenges
stay readable.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from josepy import json_util, jwa, jwk
from josepy import jws as jose_jws

from acme._wire.challenge_base import (
    Challenge,
    ChallengeResponse,
    _require_jwk,
    _TokenChallenge,
)

__all__ = ["DNS", "DNSResponse"]


# Objects built by from_json (what a server sent) are not the caller's use of a legacy class:
# the legacy classes warn only when constructed by the caller (see challenge_base._parsed).
_PARSED_FLAG = "_acme_parsed"


def _legacy_init(kwargs: dict[str, Any]) -> None:
    if not kwargs.pop(_PARSED_FLAG, False):
        _warn_legacy_dns()


def _warn_legacy_dns() -> None:
    warnings.warn(
        'The pre-RFC 8555 "dns" challenge is deprecated: use dns-01 (DNS01)',
        DeprecationWarning,
        stacklevel=3,
    )


@Challenge.register
class DNS(_TokenChallenge):
    """Deprecated pre-RFC "dns" challenge, validated with a JWS over the challenge."""

    typ = "dns"
    WARNS_ON_USE = True
    LABEL = "_acme-challenge"

    def __init__(self, **kwargs: Any) -> None:
        _legacy_init(kwargs)
        super().__init__(**kwargs)

    def gen_validation(self, account_key: jwk.JWK, alg: jwa.JWASignature = jwa.RS256) -> Any:
        """This challenge, as sorted JSON, signed with ``account_key`` (a josepy JWS)."""
        payload = self.json_dumps(sort_keys=True).encode("utf-8")
        return jose_jws.JWS.sign(payload, key=_require_jwk(account_key), alg=alg)

    def check_validation(self, validation: Any, account_public_key: jwk.JWK) -> bool:
        """Whether ``validation`` is this challenge signed by ``account_public_key``."""
        if not isinstance(validation, jose_jws.JWS):
            return False
        if not validation.verify(key=_require_jwk(account_public_key)):
            return False
        try:
            signed = json.loads(validation.payload.decode("utf-8"))
        except ValueError:  # includes UnicodeDecodeError and JSONDecodeError
            return False
        return bool(signed == self.to_json())

    def gen_response(self, account_key: jwk.JWK, alg: jwa.JWASignature = jwa.RS256) -> DNSResponse:
        """A `DNSResponse` carrying `gen_validation`."""
        return DNSResponse(validation=self.gen_validation(account_key, alg=alg))

    def validation_domain_name(self, name: str) -> str:
        """``_acme-challenge.<name>``."""
        return f"{self.LABEL}.{name}"


@ChallengeResponse.register
class DNSResponse(ChallengeResponse):
    """Deprecated response to the pre-RFC "dns" challenge.

    :ivar validation: the JWS over the challenge, signed by the account key
    """

    typ = "dns"
    WARNS_ON_USE = True
    validation: Any = json_util.field("validation", decoder=jose_jws.JWS.from_json)

    def __init__(self, **kwargs: Any) -> None:
        _legacy_init(kwargs)
        super().__init__(**kwargs)

    def check_validation(self, chall: DNS, account_public_key: jwk.JWK) -> bool:
        """Whether the carried validation is ``chall`` signed by ``account_public_key``."""
        return chall.check_validation(self.validation, account_public_key)

    def to_partial_json(self) -> dict[str, Any]:
        """``{"validation": ...}`` without ``type``: what acme 5.x sends for this response
        (parse it with ``DNSResponse.from_json``; a ``type`` in the input is still read)."""
        return self.fields_to_partial_json()
