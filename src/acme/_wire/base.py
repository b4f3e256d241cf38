"""Shared machinery of the ACME message classes.

Rules every message class follows (enforced here, so each class only declares its fields):

1. ``from_json`` accepts *any* decoded JSON value and raises only
   ``josepy.errors.DeserializationError``, whose message names the class and the JSON field
   (``Order.identifiers[1]: Identifier.type: expected a string, got number``). josepy's own base
   classes raise raw ``TypeError``/``KeyError`` on non-object input; `JSONObject` checks the type
   first and converts stray exceptions at the one place field decoders run.
2. Field decoders check JSON types, so a decoded message never holds a value of the wrong type
   that would fail later, far from the parser.
3. Optional scalars default to ``None`` and are omitted only when ``None`` (so ``"reason": 0`` or
   ``"wildcard": false`` survive a round trip); optional arrays default to ``()``.
4. Objects are immutable and hashable (josepy ``ImmutableMap``): derive changed copies with
   ``update()``. Non-field slots (e.g. ``_extra``, unknown JSON members kept for re-serialization)
   are inherited by subclasses without redeclaring ``__slots__``.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from josepy import errors as jose_errors
from josepy import json_util
from josepy import util as jose_util

__all__ = [
    "DECODE_ERRORS",
    "STRAY_ERRORS",
    "JSONObject",
    "Resource",
    "ResourceBody",
    "ResourceWithURI",
    "array",
    "array_of",
    "boolean",
    "error_text",
    "freeze",
    "integer",
    "json_object",
    "json_type",
    "nullable_string",
    "optional",
    "required",
    "short",
    "string",
    "thaw",
]

T = TypeVar("T", bound="JSONObject")

#: Exceptions a decoder may raise on hostile input; converted to DeserializationError.
STRAY_ERRORS: tuple[type[BaseException], ...] = (
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    jose_errors.Error,
    UnsupportedAlgorithm,
)

#: Everything a field decoder may raise: converted to a DeserializationError naming the field.
DECODE_ERRORS: tuple[type[BaseException], ...] = (jose_errors.DeserializationError, *STRAY_ERRORS)

_MAX_REASON = 500

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = 4


def short(value: Any) -> str:
    """A bounded ``repr`` of a (possibly huge or deeply nested) value, for messages."""
    return _REPR.repr(value)


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _bounded(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def error_text(error: BaseException, value: Any = None) -> str:
    """Why decoding failed, without josepy's ``Deserialization error:`` prefix."""
    if isinstance(error, jose_errors.DeserializationError):
        if error.args and isinstance(error.args[0], str):
            return _bounded(error.args[0])
        return _bounded(str(error).removeprefix("Deserialization error: "))
    return _bounded(f"invalid value {short(value)} ({type(error).__name__}: {error})")


def freeze(value: Any) -> Any:
    """Decoded JSON to immutable, hashable values (objects to frozendict, arrays to tuples)."""
    return json_util.Field.default_decoder(value)


def thaw(value: Any) -> Any:
    """The inverse of `freeze`: plain dicts and lists, ready for ``json.dumps``."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


# Decoders: each checks the JSON type and returns an immutable value.


def string(value: Any) -> str:
    """Decode a JSON string."""
    if not isinstance(value, str):
        raise jose_errors.DeserializationError(f"expected a string, got {json_type(value)}")
    return value


def nullable_string(value: Any) -> str | None:
    """Decode a JSON string or null."""
    return None if value is None else string(value)


def boolean(value: Any) -> bool:
    """Decode a JSON boolean."""
    if not isinstance(value, bool):
        raise jose_errors.DeserializationError(f"expected a boolean, got {json_type(value)}")
    return value


def integer(value: Any) -> int:
    """Decode a JSON integer (not a boolean, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise jose_errors.DeserializationError(f"expected an integer, got {json_type(value)}")
    return value


def json_object(value: Any) -> Any:
    """Decode any JSON object, frozen."""
    if not isinstance(value, Mapping):
        raise jose_errors.DeserializationError(f"expected an object, got {json_type(value)}")
    return freeze(value)


def array_of(decode_item: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A decoder of a JSON array whose items are decoded by ``decode_item``."""

    def decode(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, (list, tuple)):
            raise jose_errors.DeserializationError(f"expected an array, got {json_type(value)}")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(decode_item(item))
            except DECODE_ERRORS as error:
                raise jose_errors.DeserializationError(
                    f"[{index}]: {error_text(error, item)}"
                ) from error
        return tuple(items)

    return decode


def _encode_array(value: Any) -> list[Any] | tuple[Any, ...]:
    """The stored tuple (or list) as it is, as acme 5.x's ``to_partial_json`` returns it;
    another iterable as a tuple (``to_json`` writes both as JSON arrays).

    :raises josepy.errors.SerializationError: for a string, a mapping or a non-iterable.
    """
    if isinstance(value, (list, tuple)):
        return value
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping)):
        return tuple(value)
    raise jose_errors.SerializationError(f"expected an array, got {type(value).__name__}")


# Field constructors (typed Any so they can annotate any attribute type).


class _Optional(json_util.Field):
    """An optional field: absent decodes to ``None``; only ``None`` is omitted on output."""

    __slots__ = ()

    def omit(self, value: Any) -> bool:
        return value is None


def optional(
    json_name: str,
    decoder: Callable[[Any], Any],
    encoder: Callable[[Any], Any] | None = None,
) -> Any:
    """An optional field, ``None`` when absent."""
    return _Optional(json_name, default=None, omitempty=True, decoder=decoder, encoder=encoder)


def required(
    json_name: str,
    decoder: Callable[[Any], Any],
    encoder: Callable[[Any], Any] | None = None,
) -> Any:
    """A field that must be present in the JSON object."""
    return json_util.Field(json_name, omitempty=False, decoder=decoder, encoder=encoder)


def array(json_name: str, decode_item: Callable[[Any], Any]) -> Any:
    """An optional array field: ``()`` when absent, omitted when empty."""
    return json_util.Field(
        json_name,
        default=(),
        omitempty=True,
        decoder=array_of(decode_item),
        encoder=_encode_array,
    )


class _Meta(json_util.JSONObjectWithFieldsMeta):
    """josepy's metaclass, letting subclasses inherit non-field slots implicitly.

    josepy sets ``__slots__`` to the class's declared slots plus its fields, and ``ImmutableMap``
    requires every slot as a constructor argument; a subclass that declared no slots would
    otherwise lose its parent's non-field slots from that list.
    """

    def __new__(
        mcs, name: str, bases: list[str], namespace: dict[str, Any]
    ) -> json_util.JSONObjectWithFieldsMeta:
        if "__slots__" not in namespace:
            inherited: list[str] = []
            for base in bases:
                for slot in getattr(base, "_orig_slots", ()):
                    if slot not in inherited:
                        inherited.append(slot)
            namespace["__slots__"] = tuple(inherited)
        return super().__new__(mcs, name, bases, namespace)


#: `JSONObject._defaults` per class.
_DEFAULTS: dict[type, dict[str, Any]] = {}


class JSONObject(json_util.JSONObjectWithFields, metaclass=_Meta):
    """Base of every ACME JSON object: guarded decoding (see the module rules)."""

    #: Defaults of non-field slots (constructor arguments that are not JSON fields).
    _slot_defaults: ClassVar[dict[str, Any]] = {}
    #: If true, the class declares an ``_extra`` slot holding unknown JSON members.
    _keep_unknown: ClassVar[bool] = False
    #: Array fields kept as lists, because acme 5.x callers mutate them (certbot replaces
    #: ``orderr.authorizations[i]`` while polling).
    _list_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **kwargs: Any) -> None:
        for slot, field in type(self)._fields.items():
            if slot in self._list_fields:
                # Left out, too: a default () would not equal the [] of a JSON round trip.
                value = kwargs.get(slot, field.default)
                if isinstance(value, (list, tuple)):
                    kwargs[slot] = list(value)
                continue
            value = kwargs.get(slot)
            if isinstance(value, list) and isinstance(field.default, tuple):
                kwargs[slot] = tuple(value)  # arrays are stored as tuples: hashable
        for name, value in kwargs.items():
            if isinstance(value, dict):
                kwargs[name] = freeze(value)  # JSON objects are stored frozen: hashable
        super().__init__(**kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through the constructor: josepy's immutable slots refuse pickle's setattr,
        # and josepy's frozendict does not unpickle, so frozen JSON travels thawed.
        items = {
            name: thaw(value) if isinstance(value, jose_util.frozendict) else value
            for name, value in self.items()
        }
        return (_rebuild, (type(self), items))

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """Defaults of every slot, computed once per class (every construction asks; josepy
        copies the dict, never changes it)."""
        defaults = _DEFAULTS.get(cls)
        if defaults is None:
            defaults = {
                slot: cls._slot_defaults[slot]
                for slot in cls.__slots__
                if slot in cls._slot_defaults
            }
            defaults.update(super()._defaults())
            _DEFAULTS[cls] = defaults
        return defaults

    @classmethod
    def from_json(cls: type[T], jobj: Any) -> T:
        """Decode ``jobj``; raises only ``DeserializationError`` naming the class and field."""
        if not isinstance(jobj, Mapping):
            raise jose_errors.DeserializationError(
                f"{cls.__qualname__}: expected a JSON object, got {json_type(jobj)}"
            )
        try:
            return cls._from_mapping(jobj)
        except jose_errors.DeserializationError:
            raise
        except STRAY_ERRORS as error:
            raise jose_errors.DeserializationError(
                f"{cls.__qualname__}: {error_text(error, jobj)}"
            ) from error

    @classmethod
    def _from_mapping(cls: type[T], jobj: Mapping[str, Any]) -> T:
        """Build from a JSON object (hook for cross-field checks)."""
        return cls(**cls.fields_from_json(jobj))

    @classmethod
    def fields_from_json(cls, jobj: Mapping[str, Any]) -> dict[str, Any]:
        """Decode every field, naming the class and field in any error."""
        missing = sorted(
            field.json_name
            for field in cls._fields.values()
            if not field.omitempty and field.json_name not in jobj
        )
        if missing:
            raise jose_errors.DeserializationError(
                f"{cls.__qualname__}: missing required field(s): {', '.join(missing)}"
            )
        decoded: dict[str, Any] = {}
        for slot, field in cls._fields.items():
            if field.json_name not in jobj:
                decoded[slot] = field.default
                continue
            value = jobj[field.json_name]
            try:
                decoded[slot] = field.decode(value)
            except DECODE_ERRORS as error:
                text = error_text(error, value)
                sep = "" if text.startswith("[") else ": "
                raise jose_errors.DeserializationError(
                    f"{cls.__qualname__}.{field.json_name}{sep}{text}"
                ) from error
        if cls._keep_unknown:
            known = {field.json_name for field in cls._fields.values()}
            decoded["_extra"] = freeze({k: v for k, v in jobj.items() if k not in known})
        return decoded

    def fields_to_partial_json(self) -> dict[str, Any]:
        """josepy's field encoding, without hashing omitted values (list fields are not)."""
        jobj: dict[str, Any] = {}
        fields: dict[str, json_util.Field] = type(self)._fields
        for slot, field in fields.items():
            value = getattr(self, slot)
            if field.omit(value):
                continue
            try:
                jobj[field.json_name] = field.encode(value)
            except jose_errors.SerializationError as error:
                raise jose_errors.SerializationError(
                    f"Could not encode {slot} ({value!r:.80}): {error}"
                ) from error
        return jobj

    def to_json(self) -> Any:
        """Fully serialized, JSON arrays as lists (josepy would keep the stored tuples), so it
        equals ``json.loads(self.json_dumps())``; `to_partial_json` keeps them as stored."""
        return thaw(super().to_json())

    def to_partial_json(self) -> dict[str, Any]:
        # Plain JSON objects were stored frozen (hashable); json.dumps needs them as dicts again
        # (certbot, for one, saves RegistrationResource(uri=..., body={}) with json_dumps).
        jobj = {
            key: thaw(value) if isinstance(value, jose_util.frozendict) else value
            for key, value in self.fields_to_partial_json().items()
        }
        if self._keep_unknown:
            jobj = {**thaw(getattr(self, "_extra", {})), **jobj}
        return jobj

    def __repr__(self) -> str:
        parts = []
        for slot in self.__slots__:
            value = getattr(self, slot)
            if slot not in type(self)._fields and value == self._slot_defaults.get(slot):
                continue  # hide non-field slots at their defaults
            parts.append(f"{slot}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _rebuild(cls: type[T], items: dict[str, Any]) -> T:
    return cls(**items)


class ResourceBody(JSONObject):
    """Body of an ACME resource: the JSON object the server returns at its URL."""


class Resource(JSONObject):
    """An ACME resource: a body (subclasses fix its type) plus client-side metadata.

    Resources are how the client keeps what it learned (body, URL, related objects); their JSON
    is this library's own storage format, not part of the protocol.

    :ivar body: the resource's object (a `ResourceBody` subclass in subclasses)
    """

    body: Any = required("body", json_object, thaw)


class ResourceWithURI(Resource):
    """A resource with the URL it lives at (the ``Location`` of its creation, RFC 8555 7.1).

    :ivar uri: the resource's URL
    """

    # Typed ``str`` as in acme 5.x; None only if the server sent no Location.
    uri: str = required("uri", nullable_string)
