"""Fakes for the sans-I/O core, written once: a fake clock, a scripted fake server, a session.

`FakeServer` routes ``METHOD path`` to handler functions and checks the JWS basics of every
POST; `FakeClock` moves only when a flow sleeps. Flows run under `drive` with no sockets and no
real sleeping. The same clock drives `acme.testing.ACMEServerCore` (see `CoreCA`), so a flow
can be run against the real test CA logic too.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import json_util, jwa, jwk

from acme import jws, messages
from acme._core.drive import run_sync
from acme._core.http import Flow, Headers, HTTPRequest, HTTPResponse
from acme._core.retry import PollPolicy
from acme._core.session import Session
from acme.testing import ACMEServerCore, Faults

__all__ = [
    "BASE",
    "DIRECTORY",
    "CoreCA",
    "FakeClock",
    "FakeServer",
    "account_key",
    "drive",
    "make_session",
    "problem",
    "reply",
]

T = TypeVar("T")

BASE = "https://ca.test"
Handler = Callable[[HTTPRequest, dict[str, Any]], HTTPResponse]


class FakeClock:
    """Monotonic and wall time that move only when a flow sleeps.

    Give ``now`` to `acme.testing.ACMEServerCore` as its clock too: then a client's wait moves
    the test CA's time with it, as on a real machine.
    """

    def __init__(self) -> None:
        self.mono = 1000.0
        self.start = datetime.datetime(2026, 11, 26, 12, tzinfo=datetime.timezone.utc)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.mono - 1000.0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.mono += seconds


class FakeServer:
    """Routes ``METHOD path`` to handlers, checks JWS basics, hands out fresh nonces."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[tuple[HTTPRequest, dict[str, Any]]] = []
        self.counter = 0
        self.route("HEAD /nonce", lambda req, hdr: reply(200))

    def route(self, key: str, handler: Handler) -> None:
        self.routes[key] = handler

    def nonce(self) -> str:
        self.counter += 1
        return json_util.encode_b64jose(self.counter.to_bytes(8, "big"))

    def __call__(self, request: HTTPRequest) -> HTTPResponse:
        protected: dict[str, Any] = {}
        if request.method == "POST":
            assert request.headers["Content-Type"] == "application/jose+json"
            signed = jws.JWS.json_loads(request.body or b"")
            assert signed.verify() if "jwk" in signed.signature.combined.to_json() else True
            protected = json.loads(signed.signature.protected)
            protected["payload"] = signed.payload
            assert protected["url"] == request.url  # RFC 8555 section 6.4
            assert ("kid" in protected) != ("jwk" in protected)  # section 6.2
        self.requests.append((request, protected))
        path = request.url[len(BASE) :]
        response = self.routes[f"{request.method} {path}"](request, protected)
        response.url = request.url
        if "Replay-Nonce" not in response.headers:
            response.headers["Replay-Nonce"] = self.nonce()
        return response

    def count(self, method: str, path: str) -> int:
        return sum(1 for r, _ in self.requests if r.method == method and r.url == BASE + path)


def reply(
    status: int,
    body: Any = None,
    content_type: str = "application/json",
    **headers: str,
) -> HTTPResponse:
    raw = (
        body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    )
    hdrs = Headers({name.replace("_", "-"): value for name, value in headers.items()})
    if body is not None:
        hdrs["Content-Type"] = content_type
    return HTTPResponse(status, hdrs, raw, "")


def problem(status: int, code: str, **headers: str) -> HTTPResponse:
    doc = {"type": messages.ERROR_PREFIX + code, "detail": f"{code} happened"}
    return reply(status, doc, "application/problem+json", **headers)


DIRECTORY = messages.Directory.from_json(
    {
        "newNonce": f"{BASE}/nonce",
        "newAccount": f"{BASE}/new-account",
        "newOrder": f"{BASE}/new-order",
        "revokeCert": f"{BASE}/revoke",
        "keyChange": f"{BASE}/key-change",
        "renewalInfo": f"{BASE}/ari",
    }
)


def account_key() -> jwk.JWKEC:
    return jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def make_session(clock: FakeClock, account: bool = True) -> Session:
    session = Session(
        key=account_key(),
        alg=jwa.ES256,
        new_nonce_url=f"{BASE}/nonce",
        clock=clock.monotonic,
        now=clock.now,
        rand=lambda: 0.5,
        policy=PollPolicy(jitter=0.0),
    )
    if account:
        session.account_url = f"{BASE}/acct/1"
    return session


def drive(flow: Flow[T], server: Callable[[HTTPRequest], HTTPResponse], clock: FakeClock) -> T:
    """Run ``flow`` with ``server`` as its transport; its sleeps only move ``clock``."""
    return run_sync(flow, server, clock.sleep)


class CoreCA:
    """`acme.testing.ACMEServerCore` driven directly: no sockets, the fake clock for both sides.

    ``session`` is a fresh key's session (no account yet) pointed at the core's directory;
    ``run`` drives a flow with ``core.handle`` as the transport.
    """

    def __init__(self, *, faults: Faults | None = None, seed: int = 1, **knobs: Any) -> None:
        self.clock = FakeClock()
        self.core = ACMEServerCore(
            "https://ca.test", clock=self.clock.now, rng=random.Random(seed), faults=faults, **knobs
        )
        self.directory = messages.Directory.from_json(
            self.core.handle(HTTPRequest("GET", self.core.directory_url)).json()
        )
        self.session = self.new_session()
        #: ``(status, problem code or None)`` of every answer `run` received, in order.
        self.answers: list[tuple[int, str | None]] = []

    def new_session(self, key: jwk.JWK | None = None) -> Session:
        """A session for ``key`` (a fresh P-256 key by default) on this CA, with no account."""
        return Session(
            key=key or account_key(),
            alg=jwa.ES256,
            new_nonce_url=self.directory["newNonce"],
            clock=self.clock.monotonic,
            now=self.clock.now,
            rand=lambda: 0.5,
            policy=PollPolicy(jitter=0.0),
        )

    def handle(self, request: HTTPRequest) -> HTTPResponse:
        """``core.handle``, noting each answer's status and problem type in `answers`."""
        response = self.core.handle(request)
        code = None
        if response.content_type == "application/problem+json":
            code = str(response.json().get("type", "")).rpartition(":")[2]
        self.answers.append((response.status_code, code))
        return response

    def run(self, flow: Flow[T]) -> T:
        return drive(flow, self.handle, self.clock)
