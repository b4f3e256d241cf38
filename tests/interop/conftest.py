"""Fixtures of the tests that need Pebble (the API is in the pebble_harness package)."""

from interop.pebble_harness import pebble, pebble_factory, pytest_collection_modifyitems

__all__ = ["pebble", "pebble_factory", "pytest_collection_modifyitems"]
