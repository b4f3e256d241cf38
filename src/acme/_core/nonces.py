"""A bounded pool of anti-replay nonces (RFC 8555 section 6.5).

Every response's ``Replay-Nonce`` refills the pool, so a client running many requests in a row
asks ``newNonce`` only when the pool is empty. Values that are not base64url (section 6.5.1)
are ignored, never sent back to the server.
"""

from __future__ import annotations

import collections
import re

from josepy import json_util

from acme._core.http import REPLAY_NONCE_HEADER, HTTPResponse

__all__ = ["REPLAY_NONCE_HEADER", "NoncePool", "is_valid_nonce"]

# RFC 8555 section 6.5.1: base64url (RFC 4648 section 5) without padding; we cap the length.
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,512}\Z")


def is_valid_nonce(value: str) -> bool:
    """True if ``value`` is canonical unpadded base64url (it must survive the JWS round trip)."""
    if not _NONCE.match(value) or len(value) % 4 == 1:
        return False
    return json_util.encode_b64jose(json_util.decode_b64jose(value)) == value


class NoncePool:
    """Most-recent-first nonce store, bounded so a chatty server cannot grow it.

    Safe to share between threads without a lock: ``deque.append`` and ``deque.pop`` are
    atomic, and an empty pool is detected by the pop itself, not by a separate check.
    """

    def __init__(self, capacity: int = 32) -> None:
        self._nonces: collections.deque[str] = collections.deque(maxlen=capacity)

    def add(self, value: str | None) -> bool:
        """Keep ``value`` if it is a valid nonce; return whether it was kept."""
        if value is None or not is_valid_nonce(value.strip()):
            return False
        self._nonces.append(value.strip())
        return True

    def add_from(self, response: HTTPResponse) -> bool:
        """Keep the response's ``Replay-Nonce`` if it carries a valid one."""
        return self.add(response.headers.get(REPLAY_NONCE_HEADER))

    def pop(self) -> str | None:
        """Take the freshest nonce, or ``None`` when the pool is empty."""
        try:
            return self._nonces.pop()
        except IndexError:
            return None

    def clear(self) -> None:
        self._nonces.clear()

    def __len__(self) -> int:
        return len(self._nonces)
