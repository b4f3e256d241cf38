"""Interned string constants (statuses, identifier types) and the ACME identifier object.

Known names are interned: ``Status("valid") is STATUS_VALID`` and
``Status.from_json("valid") is STATUS_VALID``, so constants work as ``match`` value patterns and
as dict keys. Unknown names (a newer server, or a hostile one) decode to an unregistered instance
that keeps its name and compares unequal to every known constant; they are never added to the
registry, so hostile input cannot grow it.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from josepy import errors as jose_errors
from josepy import interfaces

from acme._wire.base import JSONObject, json_type, required, string

__all__ = [
    "IDENTIFIER_FQDN",
    "IDENTIFIER_IP",
    "STATUS_DEACTIVATED",
    "STATUS_INVALID",
    "STATUS_PENDING",
    "STATUS_PROCESSING",
    "STATUS_READY",
    "STATUS_REVOKED",
    "STATUS_UNKNOWN",
    "STATUS_VALID",
    "Identifier",
    "IdentifierType",
    "Status",
]

C = TypeVar("C", bound="_Constant")


class _Constant(interfaces.JSONDeSerializable):
    """An immutable named constant serialized as its JSON string."""

    __slots__ = ("name",)
    name: str
    #: The registered (known) constants of this class, by name.
    POSSIBLE_NAMES: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.POSSIBLE_NAMES = {}

    def __new__(cls: type[C], name: str) -> C:
        known = cls.POSSIBLE_NAMES.get(name)
        if known is not None:
            return known  # type: ignore[no-any-return]
        if not isinstance(name, str):
            raise TypeError(f"{cls.__name__} name must be a string, not {type(name).__name__}")
        self = object.__new__(cls)
        object.__setattr__(self, "name", name)
        return self

    @classmethod
    def _register(cls: type[C], name: str) -> C:
        """Create and intern a known constant (module-level definitions only)."""
        constant = cls(name)
        cls.POSSIBLE_NAMES[name] = constant
        return constant

    @property
    def known(self) -> bool:
        """True if this is a registered constant (defined by an RFC this library knows)."""
        return self.POSSIBLE_NAMES.get(self.name) is self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name,))  # unpickling interns known names again

    def to_partial_json(self) -> str:
        return self.name

    @classmethod
    def from_json(cls: type[C], jobj: Any) -> C:
        """The interned constant for ``jobj``, or an unregistered one for an unknown name."""
        if not isinstance(jobj, str):
            raise jose_errors.DeserializationError(
                f"{cls.__name__}: expected a string, got {json_type(jobj)}"
            )
        return cls(jobj)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Constant)
        return self.name == other.name

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __str__(self) -> str:
        return self.name


class IdentifierType(_Constant):
    """ACME identifier type (RFC 8555 section 9.7.7 registry)."""

    __slots__ = ()


#: A DNS name identifier, ``"dns"`` (RFC 8555 section 7.1.4).
IDENTIFIER_FQDN = IdentifierType._register("dns")
#: An IP address identifier, ``"ip"`` (RFC 8738 section 3).
IDENTIFIER_IP = IdentifierType._register("ip")


class Status(_Constant):
    """Status of an ACME object (RFC 8555 section 7.1.6)."""

    __slots__ = ()


#: Not a server status: what acme 1.x called a status it did not know.
STATUS_UNKNOWN = Status._register("unknown")
#: Waiting for the client (an order or authorization) or for validation (a challenge).
STATUS_PENDING = Status._register("pending")
#: The server is validating (a challenge) or issuing (an order).
STATUS_PROCESSING = Status._register("processing")
#: Done: validated, issued, or an account in good standing.
STATUS_VALID = Status._register("valid")
#: Failed for good; start again with a new order.
STATUS_INVALID = Status._register("invalid")
#: Revoked by the server (an account, or an authorization).
STATUS_REVOKED = Status._register("revoked")
#: An order whose authorizations are all valid: finalize it now (section 7.4).
STATUS_READY = Status._register("ready")
#: Deactivated by its owner (an account or an authorization, sections 7.3.6 and 7.5.2).
STATUS_DEACTIVATED = Status._register("deactivated")
# "expired" is an authorization status (RFC 8555 section 7.1.6); interned without a module
# constant, which neither acme 1.x nor 5.x exports.
Status._register("expired")


class Identifier(JSONObject):
    """ACME identifier (RFC 8555 section 7.1.4): ``{"type": "dns", "value": "example.org"}``.

    :ivar typ: the `IdentifierType`: ``dns`` (RFC 8555) or ``ip`` (RFC 8738)
    :ivar value: the DNS name (A-labels) or the IP address text
    """

    typ: IdentifierType = required("type", IdentifierType.from_json)
    value: str = required("value", string)
