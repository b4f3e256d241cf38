"""The manager's errors: one per failed lineage, and the storage ones.

acme.errors.Error
├── ManagerError            base of everything acme.manager raises
│   ├── LineageError        one lineage failed (the run goes on with the others)
│   │   ├── RateLimited     the CA answered rateLimited; its lineages wait until retry_at
│   │   └── HookError       a pre/post/deploy hook command failed
│   └── StorageError        the store could not read or write
│       ├── LockHeld        someone else holds the lock (names the holder)
│       └── LeaseLost       our lease expired or was taken over (fencing token is stale)
"""

from __future__ import annotations

import datetime

from acme import errors

__all__ = [
    "HookError",
    "LeaseLost",
    "LineageError",
    "LockHeld",
    "ManagerError",
    "RateLimited",
    "StorageError",
]


class ManagerError(errors.Error):
    """Base of the errors raised by `acme.manager`."""


class LineageError(ManagerError):
    """One lineage could not be issued, checked or renewed.

    :ivar lineage: the lineage id.
    :ivar retry_at: when it will be tried again (aware UTC), if known.

    The underlying error is chained as ``__cause__``.
    """

    def __init__(
        self, lineage: str, message: str, retry_at: datetime.datetime | None = None
    ) -> None:
        self.lineage = lineage
        self.message = message
        self.retry_at = retry_at
        super().__init__(lineage, message, retry_at)

    def __str__(self) -> str:
        text = f"{self.lineage}: {self.message}"
        if self.retry_at is not None:
            text += f" (next attempt after {self.retry_at.isoformat()})"
        return text


class RateLimited(LineageError):
    """The CA answered ``rateLimited`` (RFC 8555 section 6.6); ``ca`` is its directory URL."""

    def __init__(self, lineage: str, message: str, retry_at: datetime.datetime, ca: str) -> None:
        super().__init__(lineage, message, retry_at)
        self.ca = ca


class HookError(LineageError):
    """A hook command failed or timed out; ``hook`` is ``pre``, ``post`` or ``deploy``."""

    def __init__(self, lineage: str, message: str, hook: str) -> None:
        super().__init__(lineage, message)
        self.hook = hook


class StorageError(ManagerError):
    """The store failed (I/O, a database error, a malformed record)."""


class LockHeld(StorageError):
    """The lock ``name`` is held by ``holder`` until ``expires`` (aware UTC, if known)."""

    def __init__(self, name: str, holder: str, expires: datetime.datetime | None) -> None:
        self.name = name
        self.holder = holder
        self.expires = expires
        super().__init__(name, holder, expires)

    def __str__(self) -> str:
        until = f" until {self.expires.isoformat()}" if self.expires is not None else ""
        return f"Lock {self.name!r} is held by {self.holder!r}{until}"


class LeaseLost(StorageError):
    """A write or renewal under a lease whose fencing token is no longer current."""
