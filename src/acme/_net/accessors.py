"""The session accessors both network shells expose (acme 5.x: ``net.key``, ``net.account``).

Stdlib only at import time, so ``import acme.client`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from josepy import jwa, jwk

    from acme._core.session import Session

__all__ = ["SessionAccessors"]


class SessionAccessors:
    """``key``, ``alg``, ``account`` and ``user_agent``, read and written through the signing
    state ``acme_session`` (the operation flows use them as acme 5.x's client does)."""

    acme_session: Session

    @property
    def key(self) -> jwk.JWK | None:
        return self.acme_session.key

    @key.setter
    def key(self, value: Any) -> None:
        from acme._wire.coercion import coerce_jwk

        self.acme_session.key = coerce_jwk(value) if value is not None else None

    @property
    def alg(self) -> jwa.JWASignature:
        return self.acme_session.alg

    @alg.setter
    def alg(self, value: jwa.JWASignature) -> None:
        self.acme_session.alg = value

    @property
    def account(self) -> Any:
        """The account requests are signed for (``kid``); ``None`` signs with ``jwk``."""
        return self.acme_session.account

    @account.setter
    def account(self, regr: Any) -> None:
        self.acme_session.set_account(regr)

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` of every request; settable."""
        return self.acme_session.user_agent

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self.acme_session.user_agent = value
