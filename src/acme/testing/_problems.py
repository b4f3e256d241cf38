"""Replies of the test server: RFC 7807 problem documents and successful bodies.

Handlers raise `Problem` to refuse a request and return `Reply` otherwise; the core turns both
into an `HTTPResponse` and adds what every response carries (``Replay-Nonce``, the ``index``
link).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from acme import messages
from acme._core.http import JSON_CONTENT_TYPE, JSON_ERROR_CONTENT_TYPE

__all__ = ["Problem", "Reply", "problem_json"]


class Problem(Exception):
    """A refused request: an ACME error ``code`` (RFC 8555 section 6.7) and an HTTP status.

    ``headers`` are added to the response (e.g. ``Location`` for a 409 on keyChange,
    ``Retry-After`` for rateLimited); ``extra`` adds members to the problem document (e.g.
    ``algorithms`` for badSignatureAlgorithm, RFC 8555 section 6.2).
    """

    def __init__(
        self,
        code: str,
        detail: str,
        status: int = 400,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        if code not in messages.ERROR_CODES:  # never invent types in the ACME URN namespace
            raise ValueError(f"Unknown ACME error code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status
        self.headers = headers
        self.extra = dict(extra or {})

    def to_json(self) -> dict[str, Any]:
        return problem_json(self.code, self.detail, self.status, **self.extra)

    def reply(self) -> Reply:
        body = json.dumps(self.to_json()).encode()
        return Reply(self.status, body, JSON_ERROR_CONTENT_TYPE, list(self.headers))


def problem_json(code: str, detail: str, status: int | None = None, **extra: Any) -> dict[str, Any]:
    """A problem document of ACME type ``code`` (RFC 8555 section 6.7, RFC 7807 section 3.1)."""
    doc: dict[str, Any] = {"type": messages.ERROR_PREFIX + code, "detail": detail}
    if status is not None:
        doc["status"] = status
    doc.update(extra)
    return doc


@dataclasses.dataclass
class Reply:
    """A successful (or already-built) response body, before the common headers are added."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def json(
        cls,
        obj: Any,
        status: int = 200,
        *,
        location: str | None = None,
        links: tuple[tuple[str, str], ...] = (),
        retry_after: int | None = None,
    ) -> Reply:
        """A JSON reply; ``links`` are ``(url, rel)`` pairs (RFC 8288)."""
        headers: list[tuple[str, str]] = []
        if location is not None:
            headers.append(("Location", location))
        headers.extend(("Link", f'<{url}>;rel="{rel}"') for url, rel in links)
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return cls(status, json.dumps(obj, indent=2).encode(), JSON_CONTENT_TYPE, headers)
