"""The test CA's default renewal window (``renewal_window``): fractions of each certificate's
lifetime, or ``"due"``, seen through the exact window renewalInfo returns (RFC 9773 4.2).

The core is called directly with an injected clock, so every timestamp is known exactly.
"""

from __future__ import annotations

import datetime
import fractions
import random
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import errors
from acme._core.http import HTTPRequest
from acme._wire.renewal_id import certificate_identifier
from acme.testing import ACMEServerCore, ACMETestServer
from acme.testing._rawclient import RawClient, csr_b64

BASE = "https://acme.test"
T0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now


def make_core(clock: Clock, **options: Any) -> tuple[ACMEServerCore, RawClient]:
    core = ACMEServerCore(BASE, clock=clock, rng=random.Random(7), **options)
    client = RawClient(
        core.handle, core.directory_url, jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    )
    assert client.new_account(termsOfServiceAgreed=True).status_code == 201
    return core, client


def issue(client: RawClient, name: str, **fields: Any) -> x509.Certificate:
    """A whole order (the core's default validator accepts every answer); the leaf."""
    identifiers = [{"type": "dns", "value": name}]
    order = client.post(client.directory["newOrder"], {"identifiers": identifiers, **fields})
    assert order.status_code == 201, order.text
    for authz_url in order.json()["authorizations"]:
        authz = client.post(authz_url).json()
        chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
        assert client.post(chall["url"], {}).status_code == 200
    csr = csr_b64(ec.generate_private_key(ec.SECP256R1()), [name], [])
    done = client.post(order.json()["finalize"], {"csr": csr})
    assert done.json()["status"] == "valid", done.text
    chain = client.post(done.json()["certificate"]).text
    return x509.load_pem_x509_certificate(chain.encode())


def window(core: ACMEServerCore, leaf: x509.Certificate) -> dict[str, str]:
    """The ``suggestedWindow`` renewalInfo answers for ``leaf``, as sent."""
    url = f"{BASE}/renewal-info/{certificate_identifier(leaf)}"
    response = core.handle(HTTPRequest("GET", url))
    assert response.status_code == 200, response.text
    suggested: dict[str, str] = response.json()["suggestedWindow"]
    return suggested


def test_the_default_window_is_two_thirds_to_five_sixths_of_the_lifetime() -> None:
    core, client = make_core(Clock())
    assert core.renewal_window == (2 / 3, 5 / 6)
    leaf = issue(client, "a.test")  # classic: 90 days from T0
    assert leaf.not_valid_before_utc == T0
    assert window(core, leaf) == {"start": "2030-03-02T00:00:00Z", "end": "2030-03-17T00:00:00Z"}
    short = issue(client, "b.test", profile="shortlived")  # 6 days: days 4 to 5
    assert window(core, short) == {"start": "2030-01-05T00:00:00Z", "end": "2030-01-06T00:00:00Z"}


def test_fractions_set_the_window_of_every_certificate_without_its_own() -> None:
    core, client = make_core(Clock(), renewal_window=(0.5, 0.75))
    classic = issue(client, "a.test")  # 90 days: days 45 to 67.5
    short = issue(client, "b.test", profile="shortlived")  # 6 days: days 3 to 4.5
    assert window(core, classic) == {"start": "2030-02-15T00:00:00Z", "end": "2030-03-09T12:00:00Z"}
    assert window(core, short) == {"start": "2030-01-04T00:00:00Z", "end": "2030-01-05T12:00:00Z"}

    core.renewal_window = (0, 1)  # a knob: the next answer follows it
    assert window(core, short) == {"start": "2030-01-01T00:00:00Z", "end": "2030-01-07T00:00:00Z"}
    core.renewal_window = [fractions.Fraction(1, 4), 0.5]  # type: ignore[assignment]
    assert core.renewal_window == (0.25, 0.5)  # any real numbers, kept as floats
    assert window(core, short) == {"start": "2030-01-02T12:00:00Z", "end": "2030-01-04T00:00:00Z"}

    own = datetime.datetime(2030, 1, 3, tzinfo=datetime.timezone.utc)
    core.set_renewal_window(short, own, own + datetime.timedelta(hours=1))  # its own wins
    assert window(core, short) == {"start": "2030-01-03T00:00:00Z", "end": "2030-01-03T01:00:00Z"}
    assert window(core, classic)["start"] == "2030-01-23T12:00:00Z"  # still the default


def test_due_puts_every_window_in_the_past_whenever_asked() -> None:
    clock = Clock()
    core, client = make_core(clock, renewal_window="due")
    early = issue(client, "a.test")
    past = {"start": "2029-12-30T00:00:00Z", "end": "2029-12-31T00:00:00Z"}
    assert window(core, early) == past  # now - 2 days to now - 1 day

    clock.now = T0 + datetime.timedelta(days=10, hours=5)
    late = issue(client, "b.test")  # issued after the drill began: due as well
    moved = {"start": "2030-01-09T05:00:00Z", "end": "2030-01-10T05:00:00Z"}
    assert window(core, early) == moved
    assert window(core, late) == moved

    core.renewal_window = (0.5, 0.75)  # the drill ends
    assert window(core, late)["start"] == "2030-02-25T05:00:00Z"
    assert core.internal_errors == []


def test_move_windows_into_past_and_due_agree() -> None:
    clock = Clock()
    core, client = make_core(clock)
    leaf = issue(client, "a.test")
    assert core.move_windows_into_past() == 1
    fixed = window(core, leaf)
    assert fixed == {"start": "2029-12-30T00:00:00Z", "end": "2029-12-31T00:00:00Z"}
    clock.now += datetime.timedelta(days=3)
    assert window(core, leaf) == fixed  # moved once, at the drill; "due" follows the clock


@pytest.mark.parametrize(
    "value",
    [
        (0.5, 0.5),
        (0.75, 0.5),
        (-0.1, 0.5),
        (0.5, 1.01),
        (float("nan"), 0.5),
        (0.0, float("inf")),
        ("0.5", "0.75"),
        (True, 1),
        (0.1, 0.2, 0.3),
        (0.5,),
        0.5,
        None,
        "Due",
        "soon",
        {0.1, 0.2},
    ],
)
def test_bad_renewal_windows_are_invalid_arguments(value: Any) -> None:
    with pytest.raises(errors.InvalidArgument) as refused:
        ACMEServerCore(BASE, renewal_window=value)
    message = str(refused.value)
    assert message.startswith(
        "renewal_window must be (start, end) fractions of the lifetime with 0 <= start < end <= "
        '1, or "due", not '
    )
    core = ACMEServerCore(BASE, renewal_window=(0.1, 0.2))
    with pytest.raises(errors.InvalidArgument, match="renewal_window"):
        core.renewal_window = value
    assert core.renewal_window == (0.1, 0.2)  # unchanged


def test_the_https_server_forwards_renewal_window_and_refuses_bad_ones() -> None:
    with ACMETestServer(always_valid=True, renewal_window="due") as server:
        assert server.core.renewal_window == "due"
    with pytest.raises(errors.InvalidArgument, match="renewal_window"):
        ACMETestServer(renewal_window=(1, 0))
