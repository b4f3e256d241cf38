"""HTTP request/response values and the effects the two layers of flows yield.

Rules of this module (layer 0, stdlib only):
- A flow is a generator that yields effects and returns its result. Drivers do the I/O; flows
  decide everything.
- The signing layer (``acme._core.session``) yields `Send` (answered with an `HTTPResponse`)
  and `Sleep` (answered with ``None``).
- The operation layer (``acme._core.operations``) never signs: it yields `Post`, `Get`, `Head`
  and `Sleep`, which the client's driver answers by calling its network object's ``post``,
  ``get`` and ``head`` (as acme 5.x's ``ClientV2`` does) and converting what they return with
  `response_from`.
- Header names are case-insensitive; values are kept as the server sent them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Generator, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_MAX_BODY",
    "JOSE_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "JSON_ERROR_CONTENT_TYPE",
    "PEM_CHAIN_CONTENT_TYPE",
    "REPLAY_NONCE_HEADER",
    "Effect",
    "Flow",
    "Get",
    "HTTPRequest",
    "HTTPResponse",
    "Head",
    "Headers",
    "NetEffect",
    "NetFlow",
    "Post",
    "Send",
    "Sleep",
    "parse_links",
    "response_from",
]

T = TypeVar("T")

JSON_CONTENT_TYPE = "application/json"
JOSE_CONTENT_TYPE = "application/jose+json"  # RFC 8555 section 6.2
JSON_ERROR_CONTENT_TYPE = "application/problem+json"  # RFC 7807, RFC 8555 section 6.7
PEM_CHAIN_CONTENT_TYPE = "application/pem-certificate-chain"  # RFC 8555 section 9.1
REPLAY_NONCE_HEADER = "Replay-Nonce"  # RFC 8555 section 6.5.1
#: Bodies larger than this are refused: far above any ACME object or chain, bounds hostile ones.
DEFAULT_MAX_BODY = 8 * 1024 * 1024


class Headers(MutableMapping[str, str]):
    """Case-insensitive header mapping; repeated headers are kept in `get_all`."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, list[tuple[str, str]]] = {}
        pairs = items.items() if isinstance(items, Mapping) else (items or [])
        for name, value in pairs:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a value, keeping earlier ones (``Link`` and ``Replay-Nonce`` may repeat)."""
        self._items.setdefault(name.lower(), []).append((name, value))

    def get_all(self, name: str) -> list[str]:
        return [value for _, value in self._items.get(name.lower(), [])]

    def __getitem__(self, name: str) -> str:
        values = self._items[name.lower()]
        return ", ".join(value for _, value in values)

    def __setitem__(self, name: str, value: str) -> None:
        self._items[name.lower()] = [(name, value)]

    def __delitem__(self, name: str) -> None:
        del self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return (pairs[0][0] for pairs in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclasses.dataclass(frozen=True)
class HTTPRequest:
    """One HTTP request, as a flow wants it sent (redirects are never followed)."""

    method: str
    url: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    body: bytes | None = None


@dataclasses.dataclass
class HTTPResponse:
    """One HTTP response, body fully read. ``raw`` keeps the driver's own response object.

    ``json_from_raw`` marks a response adopted from a network object whose response had no
    bytes ``content`` (a test double): `json` then asks ``raw.json()``.
    """

    status_code: int
    headers: Headers
    content: bytes
    url: str
    raw: Any = None
    json_from_raw: bool = False
    #: Links a double gave as ``requests``' parsed ``links`` (``{rel: {"url": ...}}``) with no
    #: ``Link`` header; used only when the headers have none.
    raw_links: dict[str, list[str]] | None = None

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``""`` when absent)."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not JSON, or nested too deeply)."""
        if self.json_from_raw:
            return self.raw.json()
        try:
            return json.loads(self.content)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    @property
    def links(self) -> dict[str, list[str]]:
        """``Link`` header targets by relation (RFC 8288), resolved later by the caller."""
        links = parse_links(self.headers.get_all("Link"))
        if not links and self.raw_links:
            return {rel: list(urls) for rel, urls in self.raw_links.items()}
        return links


@dataclasses.dataclass(frozen=True)
class Send:
    """Effect: send ``request``; the driver answers with an `HTTPResponse`."""

    request: HTTPRequest


@dataclasses.dataclass(frozen=True)
class Sleep:
    """Effect: wait ``seconds`` (>= 0); the driver answers with ``None``."""

    seconds: float


@dataclasses.dataclass(frozen=True)
class Post:
    """Effect: the network object's ``post(url, obj, content_type=..., new_nonce_url=...)``.

    ``obj`` is a josepy object, a JSON-ready dict or ``None`` (POST-as-GET). The network signs
    it: with the account's ``kid``, or with the key's ``jwk`` when it has no account or when
    ``jwk`` is set (newAccount, RFC 8555 section 6.2). Answered with an `HTTPResponse`.
    """

    url: str
    obj: Any
    content_type: str = JOSE_CONTENT_TYPE
    new_nonce_url: str | None = None
    jwk: bool = False


@dataclasses.dataclass(frozen=True)
class Get:
    """Effect: the network object's unsigned ``get(url, content_type=...)``."""

    url: str
    content_type: str = JSON_CONTENT_TYPE


@dataclasses.dataclass(frozen=True)
class Head:
    """Effect: the network object's ``head(url)``."""

    url: str


Effect = Send | Sleep
Flow = Generator[Effect, Any, T]
NetEffect = Post | Get | Head | Sleep
NetFlow = Generator[NetEffect, Any, T]


def response_from(raw: Any, url: str) -> HTTPResponse:
    """The `HTTPResponse` for what a network object's ``post``/``get``/``head`` returned.

    An `HTTPResponse` is used as is; anything else is read by duck typing, as a
    ``requests.Response`` (``status_code``, ``headers``, ``content``, ``url``), and kept as
    ``raw``. A double whose ``content`` is not bytes has its body read from ``text``, and its
    JSON from its own ``json()``; a ``status_code`` that is not an int counts as 200.
    """
    if isinstance(raw, HTTPResponse):
        return raw
    status = getattr(raw, "status_code", None)
    if not isinstance(status, int) or isinstance(status, bool):
        status = 200
    headers = Headers()
    raw_headers = getattr(raw, "headers", None)
    if isinstance(raw_headers, Mapping):
        for name, value in raw_headers.items():
            if isinstance(name, str) and isinstance(value, str):
                headers.add(name, value)
    content = getattr(raw, "content", None)
    json_from_raw = False
    if not isinstance(content, bytes):
        text = getattr(raw, "text", None)
        content = text.encode("utf-8") if isinstance(text, str) else b""
        json_from_raw = callable(getattr(raw, "json", None))
    raw_url = getattr(raw, "url", None)
    return HTTPResponse(
        status,
        headers,
        content,
        raw_url if isinstance(raw_url, str) and raw_url else url,
        raw,
        json_from_raw,
        _parsed_links(getattr(raw, "links", None)),
    )


def _parsed_links(links: Any) -> dict[str, list[str]] | None:
    """``requests``-style parsed links (``{rel: {"url": target}}``) as ``{rel: [target]}``."""
    if not isinstance(links, Mapping):
        return None
    found: dict[str, list[str]] = {}
    for rel, link in links.items():
        target = link.get("url") if isinstance(link, Mapping) else None
        if isinstance(rel, str) and isinstance(target, str):
            found[rel.lower()] = [target]
    return found or None


# RFC 8288: link-value = "<" URI-Reference ">" *( ";" link-param ); values may be quoted.
_PARAM_RE = r'\s*;\s*([^;,=\s]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,]*)))?'
_LINK = re.compile(r"\s*<([^>]*)>((?:" + _PARAM_RE + r")*)")
_PARAM = re.compile(_PARAM_RE)


def parse_links(values: list[str]) -> dict[str, list[str]]:
    """Parse ``Link`` header values into ``{relation: [target, ...]}`` in order of appearance."""
    links: dict[str, list[str]] = {}
    for value in values:
        pos = 0
        while pos < len(value):
            match = _LINK.match(value, pos)
            if match is None:
                break
            target, params = match.group(1), match.group(2)
            for param in _PARAM.finditer(params):
                if param.group(1).lower() != "rel":
                    continue
                for rel in (param.group(2) or param.group(3) or "").split():
                    links.setdefault(rel.lower(), []).append(target)
            pos = match.end()
            while pos < len(value) and value[pos] in ", ":
                pos += 1
    return links
