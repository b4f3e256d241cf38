"""The ACME directory (RFC 8555 section 7.1.1), with its ``meta`` object."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from josepy import errors as jose_errors
from josepy import interfaces, json_util
from josepy import util as jose_util

from acme import errors
from acme._wire.base import (
    DECODE_ERRORS,
    JSONObject,
    array,
    boolean,
    error_text,
    freeze,
    json_type,
    optional,
    string,
    thaw,
)

__all__ = ["Directory"]

# Directory fields whose value is a resource URL: RFC 8555 section 7.1.1, RFC 9773 section 3.
_RESOURCE_KEYS = frozenset(
    {"newNonce", "newAccount", "newOrder", "newAuthz", "revokeCert", "keyChange", "renewalInfo"}
)


def _profiles(value: Any) -> Any:
    """Decode ``meta.profiles``: profile name to description (draft-ietf-acme-profiles 3)."""
    if not isinstance(value, Mapping):
        raise jose_errors.DeserializationError(f"expected an object, got {json_type(value)}")
    for name, description in value.items():
        if not isinstance(description, str):
            raise jose_errors.DeserializationError(
                f"profile {name!r}: expected a string, got {json_type(description)}"
            )
    return jose_util.frozendict(dict(value))


def _field(json_name: str, **kwargs: Any) -> Any:
    return json_util.Field(json_name, **kwargs)


def _camel(name: str) -> str:
    """``new_order`` to ``newOrder``: snake_case attribute names map to RFC keys."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class Directory(interfaces.JSONDeSerializable, Mapping[str, Any]):
    """The ACME directory: resource URLs by RFC key, plus ``meta``.

    Look resources up as ``directory["newOrder"]``, ``directory.newOrder`` or
    ``directory.new_order``; a missing one raises ``KeyError`` (``AttributeError`` for
    attributes). ``directory.meta`` is always a `Directory.Meta` (empty if the server sent
    none). Unknown keys are kept and re-serialized. Immutable and hashable.
    """

    class Meta(JSONObject):
        """The directory ``meta`` object (RFC 8555 section 7.1.1; profiles draft section 3).

        Unknown metadata members are kept and re-serialized.
        """

        __slots__ = ("_extra",)
        _slot_defaults: ClassVar[dict[str, Any]] = {"_extra": jose_util.frozendict({})}
        _keep_unknown: ClassVar[bool] = True

        terms_of_service: str | None = optional("termsOfService", string)
        website: str | None = optional("website", string)
        caa_identities: tuple[str, ...] = array("caaIdentities", string)
        external_account_required: bool | None = optional("externalAccountRequired", boolean)
        profiles: Mapping[str, str] = _field(
            "profiles",
            default=jose_util.frozendict({}),
            omitempty=True,
            decoder=_profiles,
            encoder=thaw,
        )

        _extra: Any

        def __init__(self, **kwargs: Any) -> None:
            for name in ("profiles", "_extra"):
                if isinstance(kwargs.get(name), Mapping):
                    kwargs[name] = freeze(dict(kwargs[name]))
            if "caa_identities" in kwargs:
                kwargs["caa_identities"] = tuple(kwargs["caa_identities"])
            super().__init__(**kwargs)

    __slots__ = ("_jobj",)
    _jobj: dict[str, Any]
    _REGISTERED_TYPES: ClassVar[dict[str, Any]] = {}

    def __init__(self, jobj: Mapping[Any, Any]) -> None:
        resources: dict[str, Any] = {}
        for key, value in jobj.items():
            name = self._canon_key(key)
            if name == "meta" and not isinstance(value, Directory.Meta):
                value = Directory.Meta.from_json(value)
            elif name != "meta" and not isinstance(value, interfaces.JSONDeSerializable):
                value = freeze(value)
            resources[name] = value
        object.__setattr__(self, "_jobj", resources)

    @classmethod
    def _canon_key(cls, key: Any) -> str:
        if isinstance(key, str):
            return key
        resource_type = getattr(key, "resource_type", None)  # 1.x: a registered resource class
        if isinstance(resource_type, str):
            return resource_type
        raise KeyError(f"Directory key must be a string, not {key!r}")

    @classmethod
    def register(cls, resource_body_cls: Any) -> Any:
        """Register a 1.x resource class for lookup by class. Deprecated: use string keys."""
        warnings.warn(
            "Directory.register is deprecated: look resources up by their RFC 8555 key",
            DeprecationWarning,
            stacklevel=2,
        )
        resource_type = getattr(resource_body_cls, "resource_type", None)
        if not isinstance(resource_type, str):
            raise errors.InvalidArgument(f"{resource_body_cls!r} has no string resource_type")
        cls._REGISTERED_TYPES[resource_type] = resource_body_cls
        return resource_body_cls

    def __getitem__(self, name: Any) -> Any:
        key = self._canon_key(name)
        jobj = self._jobj
        if key in jobj:
            return jobj[key]
        if _camel(key) in jobj:
            return jobj[_camel(key)]
        if key == "meta":
            return Directory.Meta()
        raise KeyError(f"Directory has no {key!r} resource")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"Directory has no {name!r} resource") from None

    def __contains__(self, name: object) -> bool:
        try:
            key = self._canon_key(name)
        except KeyError:
            return False
        return key in self._jobj or _camel(key) in self._jobj

    def __iter__(self) -> Iterator[str]:
        return iter(self._jobj)

    def __len__(self) -> int:
        return len(self._jobj)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Directory is immutable")

    def __hash__(self) -> int:
        return hash(frozenset(self._jobj.items()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Directory):
            return NotImplemented
        return self._jobj == other._jobj

    def __repr__(self) -> str:
        return f"Directory({self._jobj!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.to_partial_json(),))

    def to_json(self) -> Any:
        """Fully serialized, JSON arrays as lists (as `JSONObject.to_json` gives them)."""
        return thaw(super().to_json())

    def to_partial_json(self) -> dict[str, Any]:
        """Every member, unknown ones included, as the server sent it."""
        return {
            key: value if isinstance(value, interfaces.JSONDeSerializable) else thaw(value)
            for key, value in self._jobj.items()
        }

    @classmethod
    def from_json(cls, jobj: Any) -> Directory:
        """Decode a directory; resource URLs must be strings, ``meta`` an object."""
        if not isinstance(jobj, Mapping):
            raise jose_errors.DeserializationError(
                f"Directory: expected a JSON object, got {json_type(jobj)}"
            )
        resources: dict[str, Any] = {}
        for key, value in jobj.items():
            try:
                if not isinstance(key, str):
                    raise jose_errors.DeserializationError("keys must be strings")
                if key == "meta":
                    resources[key] = Directory.Meta.from_json(value)
                elif key in _RESOURCE_KEYS:
                    resources[key] = string(value)
                else:
                    resources[key] = freeze(value)
            except DECODE_ERRORS as error:
                raise jose_errors.DeserializationError(
                    f"Directory.{key}: {error_text(error, value)}"
                ) from error
        return cls(resources)
