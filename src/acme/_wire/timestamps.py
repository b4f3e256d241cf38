"""The current time, as every part of acme reads it: an aware UTC ``datetime``.

One function so that the clients' session, the test CA, the X.509 helpers and the CLI agree
on the form (aware, UTC) and tests can see where the wall clock is read. Flows never call it
directly: they read the injectable ``Session.now``, whose default this is.
"""

from __future__ import annotations

import datetime

__all__ = ["utcnow"]


def utcnow() -> datetime.datetime:
    """The current time as an aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)
