"""The challenge rules the client and the test CA share (acme._core.challenges).

Pure: which challenge a client answers (RFC 8555 sections 7.1.4, 7.5.1), and whether a served
http-01 resource is the key authorization (section 8.3). That the client's self-check and the
test CA's validator reach the same verdicts over a real connection is tested in
``tests/testing/test_testing_shell.py``.
"""

from __future__ import annotations

import pytest

from acme import challenges, messages
from acme._core.challenges import choose_challenge, http01_body_matches, offered_types

BASE = "https://ca.test"
CUTSET = challenges.HTTP01Response.WHITESPACE_CUTSET
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEY_AUTHORIZATION = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


# -- the http-01 rule: one function for the client's self-check and the test CA ------------


@pytest.mark.parametrize(
    ("body", "matches"),
    [
        (KEY_AUTHORIZATION, True),
        (KEY_AUTHORIZATION + "\n", True),
        (KEY_AUTHORIZATION + " \r\n\t ", True),  # trailing whitespace is ignored (8.3 step 4)
        (" " + KEY_AUTHORIZATION, False),  # leading whitespace is not
        ("\n" + KEY_AUTHORIZATION, False),
        (KEY_AUTHORIZATION + ".", False),
        (KEY_AUTHORIZATION + "\x00", False),
        (KEY_AUTHORIZATION[:-1], False),
        (KEY_AUTHORIZATION + KEY_AUTHORIZATION, False),
        ("", False),
        ("\n", False),
    ],
)
def test_http01_body_rule(body: str, matches: bool) -> None:
    assert http01_body_matches(body.encode(), KEY_AUTHORIZATION, CUTSET) is matches


def test_http01_body_rule_is_on_bytes_and_uses_the_given_cutset() -> None:
    assert not http01_body_matches(KEY_AUTHORIZATION.encode("utf-16"), KEY_AUTHORIZATION, CUTSET)
    assert not http01_body_matches(b"\xff" + KEY_AUTHORIZATION.encode(), KEY_AUTHORIZATION, CUTSET)
    assert not http01_body_matches(KEY_AUTHORIZATION.encode() + b"\n", KEY_AUTHORIZATION, "")
    assert http01_body_matches(KEY_AUTHORIZATION.encode() + b"~~", KEY_AUTHORIZATION, "~")


def _authzr(*types: str) -> messages.AuthorizationResource:
    body = messages.Authorization.from_json(
        {
            "status": "pending",
            "identifier": {"type": "dns", "value": "a.test"},
            "challenges": [
                {"type": typ, "url": f"{BASE}/chall/{typ}", "status": "pending", "token": TOKEN}
                for typ in types
            ],
        }
    )
    return messages.AuthorizationResource(body=body, uri=f"{BASE}/authz/1")


def test_choose_challenge_follows_the_clients_preference_not_the_servers_order() -> None:
    authzr = _authzr("http-01", "dns-01", "tls-alpn-01")
    chosen = choose_challenge(authzr, [challenges.DNS01, challenges.HTTP01])
    assert chosen is not None
    assert chosen.chall.typ == "dns-01"
    alpn = choose_challenge(authzr, [challenges.TLSALPN01])
    assert alpn is not None
    assert alpn.chall.typ == "tls-alpn-01"
    assert choose_challenge(_authzr("dns-01"), [challenges.HTTP01]) is None
    assert choose_challenge(_authzr("http-01", "dns-01"), []) is None


def test_offered_types_are_listed_once_each_sorted() -> None:
    assert offered_types(_authzr("http-01", "dns-01", "http-01", "x-new")) == [
        "dns-01",
        "http-01",
        "x-new",
    ]
