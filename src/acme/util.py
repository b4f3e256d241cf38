"""Small helpers with no better home."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["map_keys"]

K = TypeVar("K")
V = TypeVar("V")


def map_keys(dikt: Mapping[Any, V], func: Callable[[Any], K]) -> dict[K, V]:
    """Return a new dict with ``func`` applied to every key of ``dikt``."""
    return {func(key): value for key, value in dikt.items()}
