"""The core's building blocks: Retry-After parsing, backoff, nonce pool, Link parsing, drivers."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import itertools
import json

import pytest
from josepy import json_util

from acme import errors
from acme._core.deadlines import within
from acme._core.drive import run_async, run_sync
from acme._core.http import Flow, Headers, HTTPRequest, HTTPResponse, Send, Sleep, parse_links
from acme._core.nonces import NoncePool, is_valid_nonce
from acme._core.retry import PollPolicy, parse_retry_after, retry_time
from acme._core.session import Session
from acme._wire.timestamps import utcnow
from acme.testing import ACMEServerCore

NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", -5.0),
        ("Thu, 26 Nov 2026 12:00:30 GMT", 30.0),
        ("Thu, 26 Nov 2026 11:59:00 GMT", -60.0),  # a past date
        (None, None),
        ("soon", None),
        ("", None),
        ("1e9", None),
        ("99999999999999999999", None),  # absurdly long numbers are not trusted
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


SECOND = datetime.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + 120 * SECOND),
        ("Thu, 26 Nov 2026 12:00:30 GMT", NOW + 30 * SECOND),
        ("Thu, 26 Nov 2026 11:59:00 GMT", NOW + 7 * SECOND),  # past: the default
        ("-5", NOW + 7 * SECOND),
        ("soon", NOW + 7 * SECOND),
        (None, NOW + 7 * SECOND),
        ("999999999999", NOW + 3600 * SECOND),  # cut to the cap
        ("Fri, 31 Dec 9999 23:59:59 GMT", NOW + 3600 * SECOND),
    ],
)
def test_retry_time(value: str | None, expected: datetime.datetime) -> None:
    assert retry_time(value, NOW, 7, 3600) == expected


def test_retry_time_without_a_default_is_none_for_no_usable_hint() -> None:
    for value in (None, "soon", "-1", "Thu, 26 Nov 2026 11:59:00 GMT"):
        assert retry_time(value, NOW, None, 3600) is None
    assert retry_time("0", NOW, None, 3600) == NOW


def test_retry_time_keeps_a_naive_local_now_naive() -> None:
    """acme 5.x callers get naive local time; an HTTP-date is still compared correctly."""
    local_now = NOW.astimezone().replace(tzinfo=None)
    when = retry_time("Thu, 26 Nov 2026 12:00:30 GMT", local_now, 7, 3600)
    assert when is not None
    assert when.tzinfo is None
    assert when == local_now + 30 * SECOND
    assert retry_time("45", local_now, 7, 3600) == local_now + 45 * SECOND


def test_backoff_starts_fast_and_grows_to_the_cap() -> None:
    policy = PollPolicy()
    waits = [policy.backoff(n, rand=lambda: 0.5) for n in range(12)]
    assert waits[0] == pytest.approx(0.005)
    assert all(later > earlier for earlier, later in itertools.pairwise(waits[:9]))
    assert waits[-1] == policy.max_delay
    # Polite against a server that validates in 2 s: the 7th poll is already past it.
    assert sum(waits[:7]) > 2.0
    assert sum(waits[:3]) < 0.15  # fast against a local server


def test_backoff_jitter_stays_within_bounds() -> None:
    policy = PollPolicy(jitter=0.1)
    low = policy.backoff(3, rand=lambda: 0.0)
    high = policy.backoff(3, rand=lambda: 1.0)
    base = policy.initial * policy.factor**3
    assert low == pytest.approx(base * 0.9)
    assert high == pytest.approx(base * 1.1)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(5.0, 5.0), (0.0, 0.005), (-3.0, 0.005), (10**9, 3600.0), (float("nan"), 0.005)],
)
def test_delay_clamps_retry_after(retry_after: float, expected: float) -> None:
    policy = PollPolicy(jitter=0.0)
    assert policy.delay(0, retry_after) == pytest.approx(expected)


def test_delay_without_hint_is_the_backoff() -> None:
    policy = PollPolicy(jitter=0.0)
    assert policy.delay(2, None) == pytest.approx(0.03125)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("oFvnlFP1wIhRlYS2jTaXbA", True),
        ("abc", True),
        ("abc=", False),  # padding is not allowed (RFC 8555 section 6.5.1)
        ("ab+c", False),  # base64, not base64url
        ("abcde", False),  # length 1 mod 4 cannot be base64
        ("abd", False),  # non-canonical trailing bits would change on re-encoding
        ("", False),
        ("a b", False),
    ],
)
def test_nonce_validity(value: str, valid: bool) -> None:
    assert is_valid_nonce(value) is valid


def test_nonce_pool_is_bounded_and_freshest_first() -> None:
    pool = NoncePool(capacity=3)
    for nonce in ("AAAA", "BBBB", "CCCC", "DDDD"):
        assert pool.add(nonce)
    assert not pool.add("bad=")
    assert not pool.add(None)
    assert len(pool) == 3
    assert [pool.pop(), pool.pop(), pool.pop(), pool.pop()] == ["DDDD", "CCCC", "BBBB", None]


def test_nonce_pool_refills_from_responses() -> None:
    pool = NoncePool()
    response = HTTPResponse(200, Headers({"replay-nonce": "QUJD"}), b"", "https://x/")
    assert pool.add_from(response)
    assert pool.pop() == "QUJD"


def test_headers_are_case_insensitive_and_keep_repeats() -> None:
    headers = Headers([("Link", "<a>;rel=up"), ("link", "<b>;rel=alternate")])
    assert headers.get_all("LINK") == ["<a>;rel=up", "<b>;rel=alternate"]
    assert "Content-Type" not in headers
    headers["Content-Type"] = "application/json"
    assert headers["content-type"] == "application/json"


def test_parse_links() -> None:
    links = parse_links(
        [
            '<https://a/authz/1>;rel="up", <https://a/dir>; rel=index',
            '<https://a/cert/1/alt/1>;rel="alternate",<https://a/cert/1/alt/2>;rel="alternate"',
            '<https://a/orders?cursor=2>; title="x, y"; rel="next"',
        ]
    )
    assert links == {
        "up": ["https://a/authz/1"],
        "index": ["https://a/dir"],
        "alternate": ["https://a/cert/1/alt/1", "https://a/cert/1/alt/2"],
        "next": ["https://a/orders?cursor=2"],
    }


def _flow() -> Flow[tuple[int, str] | None]:
    response = yield Send(HTTPRequest("GET", "https://x/a"))
    yield Sleep(0.5)
    try:
        yield Send(HTTPRequest("GET", "https://x/fail"))
    except OSError as error:
        return (response.status_code, str(error))
    return None


def _send(request: HTTPRequest, timeout: float | None = None) -> HTTPResponse:
    if request.url.endswith("fail"):
        raise OSError("boom")
    return HTTPResponse(204, Headers(), b"", request.url)


def test_run_sync_answers_effects_and_throws_transport_errors_into_the_flow() -> None:
    slept: list[float] = []
    assert run_sync(_flow(), _send, slept.append) == (204, "boom")
    assert slept == [0.5]


def test_run_async_drives_the_same_flow() -> None:
    slept: list[float] = []

    async def send(request: HTTPRequest, timeout: float | None) -> HTTPResponse:
        return _send(request, timeout)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    assert asyncio.run(run_async(_flow(), send, sleep)) == (204, "boom")
    assert slept == [0.5]


def _deadline_flow() -> Flow[list[int | str]]:
    """Three requests; reports how each ended."""
    seen: list[int | str] = []
    for path in ("a", "slow", "b"):
        try:
            response = yield Send(HTTPRequest("GET", f"https://x/{path}"))
            seen.append(response.status_code)
        except errors.Error as error:
            seen.append(type(error).__name__)
    return seen


def test_drivers_bound_requests_by_the_deadline_that_within_puts_on_them() -> None:
    """`within` puts the call's deadline on each Send (keeping an earlier one); the driver
    gives the transport the time left, turns a failure at the deadline into TimeoutError, and
    sends nothing once the deadline has passed."""
    now = [100.0]
    timeouts: list[float | None] = []

    def send(request: HTTPRequest, timeout: float | None) -> HTTPResponse:
        timeouts.append(timeout)
        if request.url.endswith("slow"):
            now[0] += 45.0 if timeout is None else timeout  # hangs: the transport gives up
            raise errors.NetworkError(request.url, "no complete response")
        now[0] += 1.0
        return HTTPResponse(200, Headers(), b"", request.url)

    flow = within(within(_deadline_flow(), 105.0), 110.0)
    assert run_sync(flow, send, lambda s: None, lambda: now[0]) == [
        200,
        "TimeoutError",
        "TimeoutError",
    ]
    assert timeouts == [5.0, 4.0]  # the earlier deadline won; "b" was never sent
    assert now[0] == 105.0

    async def asend(request: HTTPRequest, timeout: float | None) -> HTTPResponse:
        return send(request, timeout)

    async def asleep(seconds: float) -> None:
        pass

    now[0], timeouts[:] = 100.0, []
    flow = within(_deadline_flow(), 103.0)
    result = asyncio.run(run_async(flow, asend, asleep, lambda: now[0]))
    assert result == [200, "TimeoutError", "TimeoutError"]
    assert timeouts == [3.0, 2.0]
    # Without a deadline the transport keeps its own timeout, and a failure stays what it is.
    now[0], timeouts[:] = 100.0, []
    assert run_sync(_deadline_flow(), send, lambda s: None, lambda: now[0]) == [
        200,
        "NetworkError",
        200,
    ]


@pytest.mark.parametrize("kty", ["ec", "rsa"])
@pytest.mark.parametrize("kid", [None, "https://ca.test/acct/1"])
def test_sign_request_makes_the_jws_josepy_makes(kty: str, kid: str | None) -> None:
    """The hand-built request JWS (RFC 8555 section 6.2) is read and verified by acme.jws, and
    protects exactly the header fields josepy's JWS.sign protects, the nonce as sent."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from josepy import jwa, jwk

    from acme import jws
    from acme._core.signing import sign_request

    if kty == "ec":
        key: jwk.JWK = jwk.JWKEC(key=ec.generate_private_key(ec.SECP384R1()))
        alg: jwa.JWASignature = jwa.ES384
    else:
        key, alg = jwk.JWKRSA(key=rsa.generate_private_key(65537, 2048)), jwa.RS256
    nonce, url, payload = "oFvnlFP1wIhRlYS2jTaXbA", "https://ca.test/new-order", b'{"a":1}'
    body = sign_request(payload, key, alg, nonce, url, kid)
    parsed = jws.JWS.json_loads(body)
    assert parsed.verify(key.public_key())
    assert parsed.payload == payload
    assert set(json.loads(body)) == {"protected", "payload", "signature"}  # flattened
    mine = json.loads(parsed.signature.protected)
    reference = jws.JWS.sign(
        payload, key=key, alg=alg, nonce=json_util.decode_b64jose(nonce), url=url, kid=kid
    )
    assert mine == json.loads(reference.signature.protected)
    assert mine["nonce"] == nonce
    assert mine["url"] == url
    assert mine["alg"] == alg.name
    assert ("kid" in mine) == (kid is not None)
    assert ("jwk" in mine) == (kid is None)
    assert parsed.signature.header.to_partial_json() == {}  # nothing unprotected
    with pytest.raises(errors.Error, match="kid"):
        sign_request(payload, key, alg, nonce, url, "")


def test_every_default_wall_clock_is_the_one_aware_utc_clock() -> None:
    """The session, the test CA and the certificate manager read the wall clock through one
    function, aware UTC."""
    from acme.manager._base import ManagerBase

    assert Session().now is utcnow
    assert inspect.signature(ACMEServerCore).parameters["clock"].default is utcnow
    assert inspect.signature(ManagerBase).parameters["clock"].default is utcnow
    before = datetime.datetime.now(datetime.timezone.utc)
    now = utcnow()
    assert now.utcoffset() == datetime.timedelta(0)
    assert before <= now <= datetime.datetime.now(datetime.timezone.utc)
