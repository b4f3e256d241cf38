"""Shared test helpers: fakes, builders and loopback servers, written once."""
