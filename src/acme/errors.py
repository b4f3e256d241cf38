"""ACME errors: one documented tree, with the data in attributes::

    Exception
    ├── Error                       base of everything raised by acme itself
    │   ├── InvalidArgument         a caller passed a bad value (also a ValueError)
    │   ├── DependencyError         an optional dependency is missing (a DNS provider's ...)
    │   ├── ClientError             the client could not complete a request
    │   │   ├── UnexpectedUpdate    the server reported a status change RFC 8555 forbids
    │   │   ├── NonceError
    │   │   │   ├── BadNonce        the server kept answering badNonce; retries ran out
    │   │   │   └── MissingNonce    the newNonce response carried no Replay-Nonce
    │   │   ├── PollError           (acme 5.x name; polls end in TimeoutError here)
    │   │   ├── ConflictError       409 (e.g. alreadyReplaced), or the key's account exists
    │   │   ├── ARIError            renewal information could not be fetched
    │   │   └── NetworkError        transport failure (DNS, connect, TLS, timeout, body cap)
    │   ├── ValidationError         an authorization ended in a status other than valid
    │   ├── TimeoutError            a wait would pass the caller's deadline
    │   ├── IssuanceError           the order became invalid during finalization
    │   └── WildcardUnsupportedError  (acme 5.x name; not raised by this library)
    └── josepy DeserializationError
        └── SchemaValidationError   (acme 5.x name; messages raise DeserializationError)

``acme.messages.Error`` (an RFC 7807 problem document received from the server) is an `Error`
too (as in acme 5.x); it lives with the other message classes. A problem document the server
answers with is raised as that ``messages.Error`` itself, except 409 (`ConflictError`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from josepy import errors as jose_errors

if TYPE_CHECKING:  # pragma: no cover
    from acme import messages

__all__ = [
    "ARIError",
    "BadNonce",
    "ClientError",
    "ConflictError",
    "DependencyError",
    "Error",
    "InvalidArgument",
    "IssuanceError",
    "MissingNonce",
    "NetworkError",
    "NonceError",
    "PollError",
    "SchemaValidationError",
    "TimeoutError",
    "UnexpectedUpdate",
    "ValidationError",
    "WildcardUnsupportedError",
]


# Longest rendering of a response's headers in an error message: enough to debug a server,
# short enough for a log line.
_MAX_HEADERS_TEXT = 1000


class Error(Exception):
    """Generic ACME error."""


class InvalidArgument(Error, ValueError):
    """A caller passed a value of the wrong type or form.

    Raised before anything is sent, naming what was wrong. It is also a ``ValueError``, which
    is what acme 5.x raised for most bad input, so existing ``except ValueError`` still works.
    """


class DependencyError(Error):
    """An optional dependency is missing or unusable."""


class SchemaValidationError(jose_errors.DeserializationError):
    """JSON schema validation error."""


class ClientError(Error):
    """The client could not complete a request."""


class UnexpectedUpdate(ClientError):
    """The server returned a resource update we did not ask for."""


class NonceError(ClientError):
    """Server response nonce error."""


class BadNonce(NonceError):
    """The server refused our nonce every time (RFC 8555 section 6.5): retries ran out.

    Each ``badNonce`` answer is retried with the fresh nonce it carries, up to the network
    object's ``max_nonce_attempts``; then this is raised with ``error``, the last problem.
    """

    def __init__(self, nonce: str, error: Exception | str, *args: Any) -> None:
        super().__init__(nonce, error, *args)
        self.nonce = nonce
        self.error = error

    def __str__(self) -> str:
        return f"Invalid nonce ({self.nonce!r}): {self.error}"


class MissingNonce(NonceError):
    """The server response carried no ``Replay-Nonce`` header.

    :ivar response: the response (a ``requests.Response`` or our core ``HTTPResponse``).
    """

    def __init__(self, response: Any, *args: Any) -> None:
        super().__init__(response, *args)
        self.response = response

    def __str__(self) -> str:
        method = getattr(getattr(self.response, "request", None), "method", None)
        status = getattr(self.response, "status_code", None)
        what = f"{method} request" if method else "request"
        text = f"Server {status} response to {what} did not include a Replay-Nonce header"
        headers = getattr(self.response, "headers", None)
        if isinstance(headers, Mapping):  # what the server did send, as acme 5.x shows it
            shown = repr(dict(headers))
            if len(shown) > _MAX_HEADERS_TEXT:
                shown = shown[: _MAX_HEADERS_TEXT - 3] + "..."
            text += f"; response headers: {shown}"
        return text


class PollError(ClientError):
    """Polling ended before every authorization was final (acme 1.x's meaning of the fields).

    :ivar set exhausted: resources still not final when polling ran out (non-empty: a timeout).
    :ivar dict updated: each polled resource mapped to its latest state.
    """

    def __init__(self, exhausted: set[Any], updated: dict[Any, Any]) -> None:
        self.exhausted = exhausted
        self.updated = updated
        super().__init__(exhausted, updated)

    @property
    def timeout(self) -> bool:
        """True if polling stopped because time (or attempts) ran out."""
        return bool(self.exhausted)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(exhausted={self.exhausted!r}, updated={self.updated!r})"

    def __str__(self) -> str:
        if self.timeout:
            return f"Polling timed out with {len(self.exhausted)} resource(s) not final"
        return f"Polling ended with {len(self.updated)} resource(s) updated, not all valid"


class ValidationError(Error):
    """Some authorizations did not end ``valid``: ``invalid`` (a challenge failed), or
    ``deactivated``, ``expired`` or ``revoked`` (RFC 8555 section 7.1.6).

    :ivar failed_authzrs: those ``messages.AuthorizationResource`` objects, final status kept.
    """

    def __init__(self, failed_authzrs: Sequence[messages.AuthorizationResource]) -> None:
        self.failed_authzrs = list(failed_authzrs)
        super().__init__(self.failed_authzrs)

    def __str__(self) -> str:
        # One line per authorization, then one per failed challenge (acme 5.x's wording).
        lines = []
        for authzr in self.failed_authzrs:
            header = f"Authorization for {authzr.body.identifier.value} failed"
            failed = [chall for chall in authzr.body.challenges if chall.error is not None]
            if not failed:
                header += f" (status {authzr.body.status})"
            lines.append(header)
            for chall in failed:
                typ = getattr(chall, "typ", None) or "of unknown type"
                lines.append(f"  Challenge {typ} failed: {chall.error}")
        return "\n".join(lines) or "No authorization failed"


class TimeoutError(Error):
    """A deadline passed before the operation finished."""


class IssuanceError(Error):
    """The order became invalid during finalization.

    :ivar error: the order's ``messages.Error`` problem document.
    """

    def __init__(self, error: messages.Error) -> None:
        self.error = error
        super().__init__(error)

    def __str__(self) -> str:
        return f"Issuance failed: {self.error}"


class ConflictError(ClientError):
    """HTTP 409 Conflict: for a new account, the key already has one.

    :ivar str location: the existing resource's URL (``Location`` header), if any.
    :ivar error: the problem document the server sent with the 409 (a ``messages.Error``,
        e.g. RFC 9773 ``alreadyReplaced``), or None.
    """

    def __init__(self, location: str | None, error: messages.Error | None = None) -> None:
        self.location = location
        self.error = error
        super().__init__(location)

    def __str__(self) -> str:
        if self.error is not None and self.location is None:
            return f"Conflict: {self.error}"
        text = f"Conflict with existing resource at {self.location}"
        return f"{text}: {self.error}" if self.error is not None else text


class WildcardUnsupportedError(Error):
    """The server does not support wildcard names."""


class ARIError(ClientError):
    """Renewal information (RFC 9773) could not be fetched.

    :ivar str message: what went wrong.
    :ivar retry_after: when to ask again (aware UTC datetime).
    """

    def __init__(self, message: str, retry_after: datetime.datetime) -> None:
        self.message = message
        self.retry_after = retry_after
        super().__init__(message, retry_after)

    def __str__(self) -> str:
        return f"{self.message} (retry after {self.retry_after.isoformat()})"


class NetworkError(ClientError):
    """The request never produced a usable HTTP response.

    Raised for DNS, connection, TLS and timeout failures and for bodies over the size cap; the
    underlying exception is chained as ``__cause__``. The sync client raises a subclass that is
    also a ``requests.exceptions.RequestException``, as acme 5.x callers expect.

    :ivar str url: the URL requested.
    :ivar str reason: a one-line description.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(url, reason)

    def __str__(self) -> str:
        return f"Request to {self.url} failed: {self.reason}"
