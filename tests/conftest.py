"""Shared fixtures: the Pebble harness (see tests/pebble_harness.py for the API)."""

from pebble_harness import pebble, pebble_factory, pytest_collection_modifyitems

__all__ = ["pebble", "pebble_factory", "pytest_collection_modifyitems"]
