"""acme.errors: the documented exception tree, and data carried in attributes."""

from __future__ import annotations

import datetime
import pickle
from types import SimpleNamespace
from typing import Any

import pytest
from josepy import errors as jose_errors

from acme import errors

# The tree drawn in the acme.errors docstring, as (class, documented parent).
TREE: list[tuple[type[BaseException], type[BaseException]]] = [
    (errors.Error, Exception),
    (errors.InvalidArgument, errors.Error),
    (errors.DependencyError, errors.Error),
    (errors.ClientError, errors.Error),
    (errors.UnexpectedUpdate, errors.ClientError),
    (errors.NonceError, errors.ClientError),
    (errors.BadNonce, errors.NonceError),
    (errors.MissingNonce, errors.NonceError),
    (errors.PollError, errors.ClientError),
    (errors.ConflictError, errors.ClientError),
    (errors.ARIError, errors.ClientError),
    (errors.NetworkError, errors.ClientError),
    (errors.ValidationError, errors.Error),
    (errors.TimeoutError, errors.Error),
    (errors.IssuanceError, errors.Error),
    (errors.WildcardUnsupportedError, errors.Error),
    (jose_errors.DeserializationError, Exception),
    (errors.SchemaValidationError, jose_errors.DeserializationError),
]
PARENT = dict(TREE)


def _ancestors(cls: type[BaseException]) -> set[type[BaseException]]:
    """Every documented ancestor of ``cls``."""
    found = set()
    while cls in PARENT:
        cls = PARENT[cls]
        found.add(cls)
    return found


def _docstring_tree() -> dict[str, str]:
    """Parse the box-drawing tree in the module docstring into {name: parent name}."""
    assert errors.__doc__ is not None
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        if "── " in line:
            depth = line.index("── ")
            words = line[depth + 3 :].split()
            name = " ".join(words[:2]) if words[0] == "josepy" else words[0]
        elif line.strip() == "Exception":
            depth, name = line.index("Exception"), "Exception"
        else:
            continue
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_docstring_tree_matches_table() -> None:
    names: dict[type[BaseException], str] = {
        jose_errors.DeserializationError: "josepy DeserializationError"
    }
    expected = {
        names.get(cls, cls.__name__): names.get(parent, parent.__name__) for cls, parent in TREE
    }
    assert _docstring_tree() == expected
    # Every exported exception appears in the drawing.
    assert set(errors.__all__) <= set(expected)


@pytest.mark.parametrize(("cls", "parent"), TREE, ids=[cls.__name__ for cls, _ in TREE])
def test_documented_parent(cls: type[BaseException], parent: type[BaseException]) -> None:
    assert issubclass(cls, parent)


@pytest.mark.parametrize("cls", [cls for cls, _ in TREE], ids=[cls.__name__ for cls, _ in TREE])
def test_no_undocumented_relations(cls: type[BaseException]) -> None:
    # Negative controls: a class is a subclass of a documented class only via the drawing,
    # e.g. ValidationError is not a ClientError and SchemaValidationError is not an acme Error.
    for other in PARENT:
        if other is cls:
            continue
        assert issubclass(cls, other) == (other in _ancestors(cls)), other.__name__


def test_bad_nonce() -> None:
    err = errors.BadNonce("a+b=", "not base64url")
    assert (err.nonce, err.error) == ("a+b=", "not base64url")
    assert "'a+b='" in str(err)
    assert "not base64url" in str(err)
    cause = ValueError("Incorrect padding")
    assert "Incorrect padding" in str(errors.BadNonce("x", cause))


def test_missing_nonce() -> None:
    response = SimpleNamespace(status_code=201, request=SimpleNamespace(method="POST"))
    err = errors.MissingNonce(response)
    assert err.response is response
    assert "201" in str(err)
    assert "POST" in str(err)
    assert "Replay-Nonce" in str(err)
    # A response without a request (our core HTTPResponse) still gives a readable message.
    assert "Replay-Nonce" in str(errors.MissingNonce(SimpleNamespace(status_code=200)))


def test_missing_nonce_shows_the_response_headers() -> None:
    """As in acme 5.x, the message shows what the server sent instead (a dict, capped)."""
    from acme._core.http import Headers, HTTPResponse

    response = SimpleNamespace(status_code=200, request=SimpleNamespace(method="HEAD"), headers={})
    assert str(errors.MissingNonce(response)) == (
        "Server 200 response to HEAD request did not include a Replay-Nonce header; "
        "response headers: {}"
    )
    core = HTTPResponse(200, Headers([("Content-Type", "text/plain")]), b"", "https://ca/nonce")
    assert str(errors.MissingNonce(core)).endswith(
        "response headers: {'Content-Type': 'text/plain'}"
    )
    huge = SimpleNamespace(status_code=200, headers={"X-Junk": "j" * 5000})
    text = str(errors.MissingNonce(huge))
    assert len(text) < 1200
    assert text.endswith("...")


def test_poll_error_timeout() -> None:
    # acme 1.x/5.x: ``exhausted`` holds what was still not final when polling ran out (so a
    # non-empty set is a timeout); ``updated`` maps each resource to its latest state.
    authz = "https://acme.example.com/authz/1"  # stands in for a hashable AuthorizationResource
    final = "https://acme.example.com/authz/2"
    timed_out = errors.PollError({authz}, {})
    assert timed_out.timeout
    assert timed_out.exhausted == {authz}
    assert "timed out" in str(timed_out)
    assert "1 resource(s) not final" in str(timed_out)
    assert "exhausted={'https://acme.example.com/authz/1'}" in repr(timed_out)

    not_timed_out = errors.PollError(set(), {final: final})
    assert not not_timed_out.timeout
    assert not_timed_out.updated == {final: final}
    assert "timed out" not in str(not_timed_out)
    assert "1 resource" in str(not_timed_out)


def test_conflict_error_location() -> None:
    url = "https://acme.example.com/acct/evOfKhNU60wg"
    err = errors.ConflictError(url)
    assert err.location == url
    assert url in str(err)
    assert errors.ConflictError(None).location is None


class _Problem:
    """Stands in for acme.messages.Error: anything with a str()."""

    def __str__(self) -> str:
        return "urn:ietf:params:acme:error:badCSR :: The CSR is unacceptable"


def test_issuance_error() -> None:
    problem = _Problem()
    err = errors.IssuanceError(problem)  # type: ignore[arg-type]  # duck-typed, as in 5.x
    assert err.error is problem  # type: ignore[comparison-overlap]
    assert "badCSR" in str(err)
    assert str(err).startswith("Issuance failed")


def test_ari_error() -> None:
    when = datetime.datetime(2025, 1, 2, 4, 0, tzinfo=datetime.timezone.utc)
    err = errors.ARIError("renewalInfo returned 503", when)
    assert err.message == "renewalInfo returned 503"
    assert err.retry_after == when
    assert "renewalInfo returned 503" in str(err)
    assert "2025-01-02T04:00:00+00:00" in str(err)


def test_network_error() -> None:
    cause = ConnectionRefusedError(111, "Connection refused")

    def connect() -> None:
        try:
            raise cause
        except OSError as error:
            raise errors.NetworkError("https://127.0.0.1:1/dir", "connection refused") from error

    with pytest.raises(errors.NetworkError) as info:
        connect()
    err = info.value
    assert (err.url, err.reason) == ("https://127.0.0.1:1/dir", "connection refused")
    assert err.__cause__ is cause
    assert "https://127.0.0.1:1/dir" in str(err)
    assert "connection refused" in str(err)
    assert isinstance(err, errors.ClientError)


def test_validation_error_lists_failures() -> None:
    def authzr(name: str, problem: str | None) -> Any:
        chall = SimpleNamespace(error=problem)
        body = SimpleNamespace(
            identifier=SimpleNamespace(value=name), challenges=[chall], status="invalid"
        )
        return SimpleNamespace(body=body)

    err = errors.ValidationError([authzr("a.example", "dns NXDOMAIN"), authzr("b.example", None)])
    assert len(err.failed_authzrs) == 2
    assert str(err) == (
        "Authorization for a.example failed\n"
        "  Challenge of unknown type failed: dns NXDOMAIN\n"
        "Authorization for b.example failed (status invalid)"
    )
    assert str(errors.ValidationError([])) == "No authorization failed"


def test_validation_error_names_identifier_and_challenge_type() -> None:
    """acme 5.x's wording: "Authorization for <name> failed", "Challenge <type> failed"."""
    from acme import challenges, messages

    problem = messages.Error.with_code("dns", detail="NXDOMAIN looking up TXT")
    authzr = messages.AuthorizationResource(
        uri="https://ca.test/authz/1",
        body=messages.Authorization(
            identifier=messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="a.test"),
            challenges=(
                messages.ChallengeBody(chall=challenges.DNS01(token=b"t" * 16), error=problem),
                messages.ChallengeBody(chall=challenges.HTTP01(token=b"u" * 16)),
            ),
            status=messages.STATUS_INVALID,
        ),
    )
    assert str(errors.ValidationError([authzr])) == (
        f"Authorization for a.test failed\n  Challenge dns-01 failed: {problem}"
    )


def _pickle_cases() -> list[BaseException]:
    when = datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone.utc)
    return [
        errors.BadNonce("n", "bad"),
        errors.MissingNonce("response"),
        errors.PollError({"a"}, {"a": 1}),
        errors.ConflictError("https://acme.example.com/acct/1"),
        errors.IssuanceError("problem"),  # type: ignore[arg-type]
        errors.ARIError("m", when),
        errors.NetworkError("https://acme.example.com/", "timeout"),
        errors.ValidationError([]),
    ]


@pytest.mark.parametrize("err", _pickle_cases(), ids=lambda err: type(err).__name__)
def test_pickle_keeps_data(err: BaseException) -> None:
    # Exceptions cross process boundaries (concurrent.futures), which pickles them via .args.
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert vars(back) == vars(err)
    assert str(back) == str(err)


def test_server_problems_are_acme_errors() -> None:
    """acme 5.x: ``except acme.errors.Error`` also catches problem documents."""
    from acme import messages

    assert issubclass(messages.Error, errors.Error)
    with pytest.raises(errors.Error):
        raise messages.Error.with_code("rateLimited")


def _bad_inputs() -> list[tuple[str, Any]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from acme import crypto_util, messages

    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return [
        ("unknown problem code", lambda: messages.Error.with_code("noSuchCode")),
        ("unreadable key", lambda: crypto_util.make_csr(b"not a key", ["a.test"])),
        ("bad domain", lambda: crypto_util.make_csr(key_pem, ["a..test"])),
        (
            "EAB key not base64url",
            lambda: messages.ExternalAccountBinding.from_data(
                None,  # type: ignore[arg-type]  # never reached: the EAB key is checked first
                "kid",
                "+/=",
                {},
            ),
        ),
    ]


@pytest.mark.parametrize(("what", "call"), _bad_inputs(), ids=[w for w, _ in _bad_inputs()])
def test_bad_input_is_one_public_error_that_is_also_a_value_error(what: str, call: Any) -> None:
    """Messages, crypto_util and the coercions all raise `InvalidArgument` for bad input; it is
    an acme `Error` and, as acme 5.x callers expect, a ``ValueError``."""
    with pytest.raises(errors.InvalidArgument) as raised:
        call()
    assert isinstance(raised.value, ValueError)
    assert type(raised.value) is errors.InvalidArgument  # no private subclass hides behind it
