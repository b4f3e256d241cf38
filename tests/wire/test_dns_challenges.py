"""dns-account-01 and dns-persist-01 (acme.challenges): names, values and records, pure.

Vectors come from the drafts where they give them:
- draft-ietf-acme-dns-account-label-03 section 3.2: the account URL
  ``https://example.com/acme/acct/ExampleAccount`` has the label ``_ujmmovf2vn55tgye``.
- draft-ietf-acme-dns-persist-02 section 10.2: the hashed URI of ``example.com`` for account
  ``https://ca.example/acct/123`` and the RFC 7638 section 3.1 key, with and without the
  domain, and the TXT records of Figures 2, 3, 9 and 10.
Vectors derived by hand from the text are marked so.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import pickle
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import errors as jose_errors
from josepy import jwk

from acme import challenges, errors, messages
from acme._wire import dns_challenges as _dns_challenges

# RFC 7638 section 3.1 example key; its thumbprint is the key input of dns-persist 10.2.
_RFC7638_JWK = jwk.JWK.from_json(
    {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
        "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
        "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-b"
        "FTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
    }
)
assert isinstance(_RFC7638_JWK, jwk.JWK)
RFC7638_KEY: jwk.JWK = _RFC7638_JWK
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
TOKEN = "ODE4OWY4NTktYjhmYS00YmY1LTk5MDgtZTFjYTZmNjZlYTUx"  # dns-account 3.1 example

# dns-persist-02 section 10.2 inputs and outputs.
ACCOUNT_URL = "https://ca.example/acct/123"
PREFIX = "https://ca.example/account-hash/"
HASHED = "https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw"
HASHED_ANY = "https://ca.example/account-hash/sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug"
# Figure 2 / Figure 5, its quoted strings joined (RFC 1035 section 3.3.14).
FIGURE_2 = "authority.example; accounturi=" + HASHED
NOW = datetime.datetime(2024, 7, 1, tzinfo=datetime.timezone.utc)


def _persist(names: Any = None) -> challenges.DNSPersist01:
    jobj = {
        "type": "dns-persist-01",
        "url": "https://ca.example/acme/authz/1234/0",
        "status": "pending",
        "issuerDomainNames": ["authority.example", "ca.example.net"] if names is None else names,
    }
    chall = challenges.Challenge.from_json(jobj)
    assert isinstance(chall, challenges.DNSPersist01)
    return chall


def _account(token: str = TOKEN) -> challenges.DNSAccount01:
    chall = challenges.Challenge.from_json({"type": "dns-account-01", "token": token})
    assert isinstance(chall, challenges.DNSAccount01)
    return chall


# -- dns-account-01 ----------------------------------------------------------------------


def test_dns_account01_label_matches_the_draft_example() -> None:
    url = "https://example.com/acme/acct/ExampleAccount"
    assert challenges.DNSAccount01.account_label(url) == "_ujmmovf2vn55tgye"
    assert (
        _account().validation_domain_name("example.org", url)
        == "_ujmmovf2vn55tgye._acme-challenge.example.org"
    )
    # A wildcard authorization is validated on its base name (RFC 8555 section 7.1.3).
    assert (
        _account()
        .validation_domain_name("*.example.org", url)
        .endswith("._acme-challenge.example.org")
    )
    # The label depends on every byte of the URL (a trailing slash is another account).
    assert challenges.DNSAccount01.account_label(url + "/") != "_ujmmovf2vn55tgye"


def test_dns_account01_value_is_dns01s_value() -> None:
    # Section 3.2 step 1: the RFC 8555 key authorization; step 2: its base64url SHA-256.
    chall = _account()
    keyauth = f"{TOKEN}.{RFC7638_THUMBPRINT}"
    assert chall.key_authorization(RFC7638_KEY) == keyauth
    digest = hashlib.sha256(keyauth.encode("ascii")).digest()
    assert chall.validation(RFC7638_KEY) == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert chall.validation(RFC7638_KEY) == challenges.DNS01(token=chall.token).validation(
        RFC7638_KEY
    )


def test_dns_account01_json_and_response() -> None:
    jobj = {
        "type": "dns-account-01",
        "url": "https://example.com/acme/chall/i00MGYwLWIx",
        "status": "pending",
        "token": TOKEN,
    }
    body = messages.ChallengeBody.from_json(jobj)
    assert isinstance(body.chall, challenges.DNSAccount01)
    assert body.to_json() == jobj
    response = body.response(RFC7638_KEY)
    assert isinstance(response, challenges.DNSAccount01Response)
    assert response.to_json() == {}  # section 3.2 step 3: an empty object
    assert response.verify(body.chall, RFC7638_KEY)
    parsed = challenges.ChallengeResponse.from_json({"type": "dns-account-01"})
    assert type(parsed) is challenges.DNSAccount01Response


@pytest.mark.parametrize("url", ["", None, 5])
def test_dns_account01_refuses_bad_account_url(url: Any) -> None:
    with pytest.raises(errors.Error, match="account URL"):
        _account().validation_domain_name("example.org", url)


def test_dns_account01_token_rules_are_rfc8555s() -> None:
    with pytest.raises(jose_errors.DeserializationError, match="128 bits"):
        challenges.Challenge.from_json({"type": "dns-account-01", "token": "c2hvcnQ"})


# -- dns-persist-01: the challenge object --------------------------------------------------


def test_dns_persist01_challenge_object_from_figure_1() -> None:
    body = messages.ChallengeBody.from_json(
        {
            "type": "dns-persist-01",
            "url": "https://ca.example/acme/authz/1234/0",
            "status": "pending",
            "issuerDomainNames": ["authority.example", "ca.example.net"],
        }
    )
    chall = body.chall
    assert isinstance(chall, challenges.DNSPersist01)
    assert chall.issuer_domain_names == ("authority.example", "ca.example.net")
    assert body.to_json()["issuerDomainNames"] == ["authority.example", "ca.example.net"]
    assert "token" not in body.to_json()
    response = chall.response()
    assert isinstance(response, challenges.DNSPersist01Response)
    assert response.to_json() == {}  # section 4: POST {} (RFC 8555 section 7.5.1)
    assert challenges.ChallengeResponse.from_json({"type": "dns-persist-01"}) == response
    assert chall.validation_domain_name("example.com") == "_validation-persist.example.com"
    assert chall.validation_domain_name("*.example.com") == "_validation-persist.example.com"


@pytest.mark.parametrize(
    ("names", "why"),
    [
        ([], "1 to 10"),
        ([f"ca{i}.example" for i in range(11)], "1 to 10"),
        ("authority.example", "array"),
        (["Authority.example"], "lower-case"),
        (["authority.example."], "trailing dot"),
        (["bücher.example"], "ASCII"),
        (["\ud800.example"], "ASCII"),
        (["xn--zz.example"], "A-label"),
        (["a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63], "too long"),
        ([""], "non-empty"),
        ([7], "non-empty"),
    ],
)
def test_dns_persist01_rejects_malformed_issuer_names(names: Any, why: str) -> None:
    # Section 3.1: the client MUST consider such a challenge malformed and reject it.
    with pytest.raises(jose_errors.DeserializationError, match=why):
        _persist(names)


def test_dns_persist01_accepts_ten_names() -> None:
    names = [f"ca{i}.example" for i in range(10)]
    assert _persist(names).issuer_domain_names == tuple(names)


def test_dns_persist01_directory_consistency() -> None:
    chall = _persist()
    # Figure 6's directory: D is within C, so the challenge is well formed.
    chall.check_directory(
        {
            "accountHashPrefix": PREFIX,
            "issuerDomainNames": ["authority.example", "ca.example.net"],
        }
    )
    chall.check_directory({})  # no directory names: nothing to compare (section 3.2)
    with pytest.raises(errors.Error, match="lacks directory issuer names"):
        chall.check_directory({"issuerDomainNames": ["other.example"]})
    with pytest.raises(errors.Error, match="caaIdentities"):
        chall.check_directory({"caaIdentities": ["authority.example"]})
    chall.check_directory({"caaIdentities": ["AUTHORITY.example.", "ca.example.net"]})
    # The same check on what a client holds: Directory.meta.to_partial_json() (tuples).
    meta = messages.Directory.Meta(caa_identities=["authority.example"]).to_partial_json()
    assert isinstance(meta["caaIdentities"], tuple)
    with pytest.raises(errors.Error, match="caaIdentities"):
        chall.check_directory(meta)


# -- dns-persist-01: hashed account URI and record --------------------------------------------


def test_hashed_account_uri_matches_section_10_2() -> None:
    persist = challenges.DNSPersist01
    assert persist.account_uri(ACCOUNT_URL, RFC7638_KEY, PREFIX, "example.com") == HASHED
    # The thumbprint alone is enough (a delegated DNS operator, section 4.5).
    assert persist.account_uri(ACCOUNT_URL, RFC7638_THUMBPRINT, PREFIX, "example.com") == HASHED
    # The domain-omitted opt-out form (section 10.2, last paragraph).
    assert persist.account_uri(ACCOUNT_URL, RFC7638_KEY, PREFIX, "*") == HASHED_ANY
    # Section 9.2 normalization applies to the domain input (draft's ASCII example).
    assert persist.account_uri(ACCOUNT_URL, RFC7638_KEY, PREFIX, "EXAMPLE.com.") == HASHED
    # A wildcard's record is the base name's record (section 5).
    assert persist.account_uri(ACCOUNT_URL, RFC7638_KEY, PREFIX, "*.example.com") == HASHED


def test_hashed_account_uri_refuses_a_non_ascii_url() -> None:
    with pytest.raises(errors.Error, match="not ASCII"):
        challenges.DNSPersist01.account_uri("https://ca.example/é", RFC7638_KEY, PREFIX, "*")


def test_domain_normalization_section_9_2() -> None:
    normalize = _dns_challenges.normalize_domain
    assert normalize("EXAMPLE.com.") == "example.com"  # the draft's first example
    # Derived by hand (IDNA ToASCII of "ünicode-example"): the draft's second example
    # prints "xn--nicode-example-9jb", which decodes to "énicode-example", not its input.
    assert normalize("üNICODE-example.com.") == "xn--nicode-example-fsb.com"
    with pytest.raises(errors.Error, match="Empty label"):
        normalize("a..example")


def test_record_text_matches_the_draft_figures() -> None:
    chall = _persist()
    kwargs: dict[str, Any] = {
        "account_url": ACCOUNT_URL,
        "account_hash_prefix": PREFIX,
        "domain": "example.com",
    }
    assert chall.validation(RFC7638_KEY, **kwargs) == FIGURE_2
    until = datetime.datetime(2024, 7, 26, tzinfo=datetime.timezone.utc)  # 1721952000
    figure_9 = chall.validation(RFC7638_KEY, persist_until=until, **kwargs)
    assert figure_9 == FIGURE_2 + "; persistUntil=1721952000"
    figure_10 = chall.validation(RFC7638_KEY, persist_until=until, wildcard=True, **kwargs)
    assert figure_10 == FIGURE_2 + "; policy=wildcard; persistUntil=1721952000"
    reusable = chall.record(RFC7638_KEY, any_domain=True, **kwargs)
    assert reusable.account_uri == HASHED_ANY
    other = chall.record(RFC7638_KEY, issuer_domain_name="ca.example.net", **kwargs)
    assert other.issuer_domain_name == "ca.example.net"
    with pytest.raises(errors.Error, match="not one of this challenge's issuer"):
        chall.record(RFC7638_KEY, issuer_domain_name="evil.example", **kwargs)
    with pytest.raises(errors.Error, match="aware"):
        chall.record(RFC7638_KEY, persist_until=datetime.datetime(2030, 1, 1), **kwargs)


def test_record_parses_figure_3_records() -> None:
    ca1 = challenges.DNSPersist01Record.from_text(
        "ca1.example; accounturi=https://ca1.example/account-hash/"
        "sha-256/wjZNvLpIgf7zrr9KQo7zCLaG2Ea67KS4o4cAwSepsls; policy=wildcard"
    )
    assert ca1.issuer_domain_name == "ca1.example"
    assert ca1.account_uri.endswith("/sha-256/wjZNvLpIgf7zrr9KQo7zCLaG2Ea67KS4o4cAwSepsls")
    assert ca1.wildcard
    assert ca1.persist_until is None
    ca2 = challenges.DNSPersist01Record.from_text(
        "ca2.example; accounturi=https://ca2.example/account-hash/"
        "sha-256/Mpngr2LZCN9gPArggXqEu4pKtYZvLL5IxMStzyWrrXc; persistUntil=1767225600"
    )
    assert ca2.persist_until == datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert not ca2.wildcard
    # Round trip, unknown parameters kept (section 4.1 item 1), odd spacing tolerated.
    spaced = challenges.DNSPersist01Record.from_text(
        "  ca.example ;accounturi = x:y ;  POLICY=WILDCARD; future-tag=1  "
    )
    assert spaced.wildcard
    assert spaced.extra == (("future-tag", "1"),)
    assert spaced.to_text() == "ca.example; accounturi=x:y; policy=WILDCARD; future-tag=1"
    assert challenges.DNSPersist01Record.from_text(spaced.to_text()) == spaced


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ca.example", "No accounturi"),
        ("ca.example; policy=wildcard", "No accounturi"),
        ("ca.example; accounturi=a; accounturi=b", "Duplicate"),
        ("ca.example; accounturi=a; AccountURI=b", "Duplicate"),
        ("ca.example; accounturi=a; persistUntil=soon", "base-10"),
        ("ca.example; accounturi=a; persistUntil=-5", "base-10"),
        ("ca.example; accounturi=a; persistUntil=99999999999999999999", "out of range"),
        ("ca.example; accounturi", "Malformed parameter"),
        ("ca.example; -bad=1; accounturi=a", "Malformed parameter"),
        ("ca.example; accounturi=a b", "Malformed parameter"),
        ("; accounturi=a", "issuer domain name"),
        ("ca_example; accounturi=a", "LDH"),
    ],
)
def test_record_parse_refuses_malformed(text: str, why: str) -> None:
    with pytest.raises(errors.Error, match=why):
        challenges.DNSPersist01Record.from_text(text)


# -- dns-persist-01: reading published records (read-only check and CA verdicts) --------------


def _find(values: list[str], **overrides: Any) -> challenges.DNSPersist01Record:
    kwargs: dict[str, Any] = {
        "account_url": ACCOUNT_URL,
        "account_keys": [RFC7638_KEY],
        "account_hash_prefix": PREFIX,
        "domain": "example.com",
        "now": NOW,
    }
    kwargs.update(overrides)
    return _persist().find_record(values, **kwargs)


def test_find_record_accepts_the_draft_record_among_others() -> None:
    other_ca = "ca2.example; accounturi=https://ca2.example/x"
    assert _find([other_ca, "garbage;;", FIGURE_2]).account_uri == HASHED
    assert _find([FIGURE_2.replace(HASHED, HASHED_ANY)]).account_uri == HASHED_ANY
    # Issuer names compare case-insensitively after normalization (section 4.2).
    assert _find([FIGURE_2.replace("authority", "AUTHORITY")]).account_uri == HASHED


def test_find_record_refusals() -> None:
    new_key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(errors.Error, match=r"_validation-persist\.example\.com: no TXT record"):
        _find([])
    with pytest.raises(errors.Error, match="no TXT record names this CA"):
        _find(["ca2.example; accounturi=https://ca2.example/x"])
    with pytest.raises(errors.Error, match="not this account's hashed URI"):
        _find([FIGURE_2], account_keys=[new_key])
    # After a key rollover the CA still accepts the record made with a retained old key.
    assert _find([FIGURE_2], account_keys=[new_key, RFC7638_KEY]).account_uri == HASHED
    with pytest.raises(errors.Error, match="not this account's hashed URI"):
        _find([FIGURE_2], account_url="https://ca.example/acct/124")
    with pytest.raises(errors.Error, match="not this account's hashed URI"):
        _find([FIGURE_2], domain="example.net")  # bound to its own domain (7.2.3)
    with pytest.raises(errors.Error, match="policy=wildcard"):
        _find([FIGURE_2], wildcard=True)
    assert _find([FIGURE_2 + "; policy=Wildcard"], wildcard=True).wildcard
    expired = FIGURE_2 + "; persistUntil=1721952000"
    assert _find([expired]).persist_until is not None
    with pytest.raises(errors.Error, match="has passed"):
        _find([expired], now=datetime.datetime(2024, 7, 27, tzinfo=datetime.timezone.utc))


def test_verdict_codes_follow_section_9_3_1() -> None:
    evaluate = _dns_challenges.evaluate_persist_records
    common: dict[str, Any] = {
        "issuer_domain_names": ("authority.example",),
        "account_url": ACCOUNT_URL,
        "account_keys": [RFC7638_THUMBPRINT],
        "account_hash_prefix": PREFIX,
        "domain": "example.com",
        "wildcard": False,
        "now": NOW,
    }
    assert evaluate([], **common).problem == "dns"
    bad = evaluate(["authority.example; persistUntil=1"], **common)
    assert (bad.record, bad.problem) == (None, "malformed")
    assert evaluate(["authority.example; accounturi=x"], **common).problem == "unauthorized"
    assert evaluate(["x.example; accounturi=x"], **common).problem == "unauthorized"
    assert evaluate([FIGURE_2], **common).record is not None


def test_pickle_copy_and_equality() -> None:
    objects: list[Any] = [
        _persist(),
        _account(),
        _persist().response(),
        _account().response(RFC7638_KEY),
        challenges.DNSPersist01Record.from_text(FIGURE_2),
    ]
    for obj in objects:
        assert pickle.loads(pickle.dumps(obj)) == obj
        assert copy.deepcopy(obj) == obj
    assert _persist() != _persist(["authority.example"])
    assert challenges.DNS01(token=_account().token) != _account()
