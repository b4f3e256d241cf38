"""What the operation flows know, and how they ask their network object for requests.

Rules:
- The operation flows never sign and never touch nonces: they yield `Post`, `Get` and `Head`
  effects, answered by the client's network object (``net.post``, ``net.get``, ``net.head``,
  as acme 5.x's ``ClientV2`` calls them); signing, nonces and badNonce retries are the
  network's (``acme._core.session``).
- What acme 5.x keeps on the network object (``key``, ``alg``, ``account``) is read and written
  there, through `NetState`; the rest (directory, clocks, poll policy, jitter) is the client's.
- Every ``Post`` carries the directory's ``newNonce`` URL, as acme 5.x passes it.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from acme import messages
from acme._core.http import (
    JOSE_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    Get,
    Head,
    HTTPResponse,
    NetFlow,
    Post,
)
from acme._core.retry import PollPolicy, RetryHint, parse_retry_after, parse_retry_hint
from acme._core.session import account_url
from acme._wire.timestamps import utcnow

__all__ = ["Context", "NetState", "account_url", "get", "head", "post"]


class NetState(Protocol):
    """The network object's attributes the operation flows read and write (acme 5.x names)."""

    key: Any
    alg: Any
    account: Any


@dataclasses.dataclass
class Context:
    """One client's view for its operation flows: directory, network state, clocks, policy.

    ``clock`` is monotonic seconds (deadlines), ``now`` aware UTC wall time (HTTP dates), and
    ``rand`` feeds the polling jitter; all three are injectable for tests.
    """

    directory: messages.Directory
    net: NetState
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime.datetime] = utcnow
    rand: Callable[[], float] = random.random
    policy: PollPolicy = dataclasses.field(default_factory=PollPolicy)

    @property
    def new_nonce_url(self) -> str | None:
        url = self.directory.get("newNonce")
        return url if isinstance(url, str) else None

    def retry_after(self, response: HTTPResponse) -> float | None:
        """Seconds the server asked us to wait, if it did."""
        return parse_retry_after(response.headers.get("Retry-After"), self.now())

    def retry_hint(self, response: HTTPResponse) -> RetryHint | None:
        """`retry_after` with the form it came in (HTTP-date or seconds)."""
        return parse_retry_hint(response.headers.get("Retry-After"), self.now())


def post(
    ctx: Context,
    url: str,
    obj: Any,
    content_type: str = JOSE_CONTENT_TYPE,
    *,
    jwk: bool = False,
) -> NetFlow[HTTPResponse]:
    """``net.post``: ``obj`` signed by the network (``None`` for POST-as-GET, section 6.3)."""
    response: HTTPResponse = yield Post(url, obj, content_type, ctx.new_nonce_url, jwk)
    return response


def get(ctx: Context, url: str, content_type: str = JSON_CONTENT_TYPE) -> NetFlow[HTTPResponse]:
    """``net.get``: an unsigned GET (directory, renewal information)."""
    response: HTTPResponse = yield Get(url, content_type)
    return response


def head(ctx: Context, url: str) -> NetFlow[HTTPResponse]:
    """``net.head``."""
    response: HTTPResponse = yield Head(url)
    return response
