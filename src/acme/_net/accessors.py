"""The session accessors both network shells expose (acme 5.x: ``net.key``, ``net.account``).

Stdlib only at import time, so ``import acme.client`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from josepy import jwa, jwk

    from acme import messages
    from acme._core.session import Session

__all__ = ["SessionAccessors"]


class SessionAccessors:
    """``key``, ``alg``, ``account`` and ``user_agent`` read and written through ``session``."""

    session: Session

    @property
    def key(self) -> jwk.JWK | None:
        return self.session.key

    @key.setter
    def key(self, value: Any) -> None:
        from acme._wire.coercion import coerce_jwk

        self.session.key = coerce_jwk(value) if value is not None else None

    @property
    def alg(self) -> jwa.JWASignature:
        return self.session.alg

    @alg.setter
    def alg(self, value: jwa.JWASignature) -> None:
        self.session.alg = value

    @property
    def account(self) -> messages.RegistrationResource | None:
        return self.session.account

    @account.setter
    def account(self, regr: messages.RegistrationResource | None) -> None:
        self.session.set_account(regr)

    @property
    def user_agent(self) -> str:
        return self.session.user_agent
