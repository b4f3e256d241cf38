"""Fakes for the core flows: a scripted server function, a clock, sessions and contexts.

No mock.patch and no real sleeping: flows run under `run_sync` with `FakeServer` as the
transport and `FakeClock.sleep` advancing monotonic and wall time together. An operation-layer
flow runs through `acme._core.layers.signed` on the session that is its context's ``net``.
`CoreCA` is the other server the core is tested against: `acme.testing.ACMEServerCore`
called directly (no sockets), on the same fake clock, with its fault knobs.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from josepy import json_util, jwa, jwk

from acme import crypto_util, errors, jws, messages
from acme._core.context import Context
from acme._core.drive import run_sync
from acme._core.http import Headers, HTTPRequest, HTTPResponse, NetFlow
from acme._core.layers import signed
from acme._core.operations import ClientFlows
from acme._core.retry import PollPolicy
from acme._core.session import Session
from acme.testing import ACMEServerCore, Faults

__all__ = [
    "BASE",
    "DIRECTORY",
    "CoreCA",
    "FakeClock",
    "FakeServer",
    "Handler",
    "account_key",
    "drive",
    "issue_leaf",
    "key_and_csr",
    "make_ctx",
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
    """Routes ``METHOD path`` to handlers, checks JWS basics, hands out fresh nonces.

    With a ``clock``, each answer takes ``latency`` seconds of it; an answer later than the
    driver's timeout (the time left to the call's deadline) is a `NetworkError` at the timeout,
    as from a real transport. ``timeouts`` records the timeout of every request.
    """

    def __init__(self, clock: FakeClock | None = None, latency: float = 0.0) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[tuple[HTTPRequest, dict[str, Any]]] = []
        self.timeouts: list[float | None] = []
        self.counter = 0
        self.clock = clock
        self.latency = latency
        self.route("HEAD /nonce", lambda req, hdr: reply(200))

    def route(self, key: str, handler: Handler) -> None:
        self.routes[key] = handler

    def nonce(self) -> str:
        self.counter += 1
        return json_util.encode_b64jose(self.counter.to_bytes(8, "big"))

    def __call__(self, request: HTTPRequest, timeout: float | None = None) -> HTTPResponse:
        self.timeouts.append(timeout)
        if self.clock is not None and self.latency:
            if timeout is not None and timeout < self.latency:
                self.requests.append((request, {}))  # sent, then cut by the deadline
                self.clock.mono += timeout
                raise errors.NetworkError(request.url, f"no complete response in {timeout} s")
            self.clock.mono += self.latency
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
        policy=PollPolicy(jitter=0.0),
    )
    if account:
        session.account = messages.RegistrationResource(
            body=messages.Registration(), uri=f"{BASE}/acct/1"
        )
    return session


def make_ctx(
    clock: FakeClock, account: bool = True, directory: messages.Directory | None = None
) -> Context:
    """An operation-layer context whose network state is a signing `Session`."""
    return Context(
        DIRECTORY if directory is None else directory,
        make_session(clock, account),
        clock=clock.monotonic,
        now=clock.now,
        rand=lambda: 0.5,
        policy=PollPolicy(jitter=0.0),
    )


def drive(flow: Any, server: FakeServer, clock: FakeClock, ctx: Context | None = None) -> Any:
    """Run a signing-layer flow, or (with ``ctx``) an operation-layer flow signed by the
    session that is ``ctx.net``, on the fake server."""
    if ctx is not None:
        assert isinstance(ctx.net, Session)
        flow = signed(flow, ctx.net)
    return run_sync(flow, server, clock.sleep, clock.monotonic)


def key_and_csr(names: list[str]) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A fresh P-256 key and a PEM CSR for ``names``."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, crypto_util.make_csr(pem, names)


def issue_leaf(key: ec.EllipticCurvePrivateKey, names: list[str]) -> str:
    """A one-day PEM leaf for ``key`` and ``names`` from a throwaway CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class CoreCA:
    """`acme.testing.ACMEServerCore` driven directly: no sockets, the fake clock for both sides.

    ``flows`` are the operations of a client with a fresh key (no account yet); `client` makes
    more. `run` drives an operation flow, signed by its client's session, with the core's
    ``handle`` as the transport, and notes each answer in `answers`.
    """

    def __init__(self, *, faults: Faults | None = None, seed: int = 1, **knobs: Any) -> None:
        self.clock = FakeClock()
        self.core = ACMEServerCore(
            "https://acme.test", clock=self.clock.now, rng=random.Random(seed), faults=faults,
            **knobs,
        )  # fmt: skip
        self.directory = messages.Directory.from_json(
            self.core.handle(HTTPRequest("GET", self.core.directory_url)).json()
        )
        #: ``(status, problem code or None)`` of every answer `run` received, in order.
        self.answers: list[tuple[int, str | None]] = []
        self.flows = self.client()

    def client(self, key: jwk.JWK | None = None) -> ClientFlows:
        """A client's operations for ``key`` (a fresh P-256 key by default), no account."""
        session = Session(
            key=key or account_key(),
            alg=jwa.ES256,
            new_nonce_url=self.directory["newNonce"],
            clock=self.clock.monotonic,
            now=self.clock.now,
            policy=PollPolicy(jitter=0.0),
        )
        ctx = Context(
            self.directory,
            session,
            clock=self.clock.monotonic,
            now=self.clock.now,
            rand=lambda: 0.5,
            policy=PollPolicy(jitter=0.0),
        )
        return ClientFlows(ctx)

    def handle(self, request: HTTPRequest, timeout: float | None = None) -> HTTPResponse:
        """``core.handle``, noting each answer's status and problem type in `answers`."""
        response = self.core.handle(request)
        code = None
        if response.content_type == "application/problem+json":
            code = str(response.json().get("type", "")).rpartition(":")[2]
        self.answers.append((response.status_code, code))
        return response

    def run(self, flow: NetFlow[T], flows: ClientFlows | None = None) -> T:
        """Run ``flow``, signed by the session of ``flows`` (default: `flows`)."""
        session = (flows or self.flows).ctx.net
        assert isinstance(session, Session)
        result: T = run_sync(
            signed(flow, session), self.handle, self.clock.sleep, self.clock.monotonic
        )
        return result
