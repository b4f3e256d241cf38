"""Challenge solvers for ``acme issue``: how the CA's validation request gets its answer.

- http-01 (RFC 8555 section 8.3): our `acme.standalone` server, or files in a webroot folder
  that an existing web server publishes at ``/.well-known/acme-challenge/<token>``.
- tls-alpn-01 (RFC 8737): our `acme.standalone` TLS-ALPN server.
- dns-01, dns-account-01 and dns-persist-01: `acme.cli._dns_solvers`.

Each solver is a context manager: leaving it removes every file, record and listener it made,
also when issuance failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from josepy import jwk

from acme import challenges, messages, standalone
from acme.cli._output import CLIError

__all__ = [
    "Answering",
    "Solver",
    "StandaloneHTTP01",
    "StandaloneTLSALPN01",
    "Webroot",
    "typed_challenge",
]

# RFC 8555 section 8.1: a token is base64url without padding; anything else could escape the
# webroot (a hostile server sending "../x"), so it is refused.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}\Z")
_POLL_INTERVAL = 0.05  # seconds; socketserver's default 0.5 s would add that much to each run


C = TypeVar("C", bound=challenges.Challenge)


@dataclasses.dataclass(frozen=True)
class Answering:
    """Who answers: the account's key and URL, and the CA's directory ``meta`` (as JSON)."""

    key: jwk.JWK
    url: str
    directory_meta: Mapping[str, Any]


def typed_challenge(challb: messages.ChallengeBody, kind: type[C]) -> C:
    """``challb.chall`` as ``kind`` (the solver picked it by that type)."""
    chall = challb.chall
    if not isinstance(chall, kind):
        raise CLIError(f"expected a {kind.typ} challenge, got {chall.typ}")
    return chall


class Solver:
    """Base class: answers one challenge type for a set of identifiers."""

    challenge_type: type[challenges.Challenge] = challenges.HTTP01
    label = "http-01"

    def start(self) -> None:
        """Get ready (bind listeners) before any `add`; a second call does nothing."""

    def add(
        self,
        authzr: messages.AuthorizationResource,
        challb: messages.ChallengeBody,
        account: Answering,
    ) -> None:
        """Publish the answer to ``challb``, chosen for ``authzr``."""
        raise CLIError(f"{type(self).__name__} cannot answer {challb.chall.typ} challenges", 1)

    def hint(self) -> str:
        """Advice to add to a validation failure (``"; ..."``), or ``""``."""
        return ""

    def ready(self) -> None:
        """Called once every `add` of an order is done, before any challenge is answered
        (a DNS solver publishes the records together here)."""

    def cleanup(self) -> None:
        """Remove what `add` published and stop listeners; safe to call twice."""

    def __enter__(self) -> Solver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def _listen_error(kind: str, address: str, port: int, error: OSError) -> CLIError:
    where = f"{address or '*'}:{port}"
    hint = ""
    if port < 1024:
        hint = " (ports below 1024 need privileges; or use --webroot)"
    return CLIError(f"cannot listen for {kind} on {where}: {error.strerror or error}{hint}")


class _Listener:
    """One standalone server (or a dual-stack pair) running in background threads."""

    def __init__(self, make_single: Any, make_dual: Any, address: str, port: int) -> None:
        self.dual = None
        self.single = None
        self.thread: threading.Thread | None = None
        if address == "":
            self.dual = make_dual(("", port))
            self.dual.serve_forever()
        else:
            self.single = make_single((address, port), ":" in address)
            # A short poll interval: shutdown() waits for it, and every issuance ends with one.
            self.thread = threading.Thread(
                target=self.single.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL},
                name="acme-cli-solver",
                daemon=True,
            )
            self.thread.start()

    @property
    def port(self) -> int:
        if self.dual is not None:
            return int(self.dual.getsocknames()[0][1])
        assert self.single is not None
        return int(self.single.socket.getsockname()[1])

    def close(self) -> None:
        if self.dual is not None:
            self.dual.shutdown_and_server_close()
            self.dual = None
        if self.single is not None:
            self.single.shutdown()
            self.single.server_close()
            self.single = None
        if self.thread is not None:
            self.thread.join()
            self.thread = None


class _Standalone(Solver):
    """A solver served by one of our standalone servers: listener lifecycle in one place.

    ``address`` "" listens on every IPv6 and IPv4 address; port 0 picks a free port (`port`).
    ``single(addr, ipv6)`` and ``dual(addr)`` build the servers over the state `add` fills.
    """

    def __init__(
        self,
        address: str,
        port: int,
        single: Callable[[Any, bool], Any],
        dual: Callable[[Any], Any],
    ) -> None:
        self.address = address
        self.requested_port = port
        self._servers = (single, dual)
        self._listener: _Listener | None = None

    @property
    def port(self) -> int:
        """The port actually listened on (after `start`)."""
        assert self._listener is not None, "start() first"
        return self._listener.port

    def start(self) -> None:
        if self._listener is not None:
            return
        single, dual = self._servers
        try:
            self._listener = _Listener(single, dual, self.address, self.requested_port)
        except OSError as error:
            raise _listen_error(self.label, self.address, self.requested_port, error) from error

    def cleanup(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None


class StandaloneHTTP01(_Standalone):
    """http-01 answered by `acme.standalone.HTTP01Server` on ``address``:``port``."""

    challenge_type = challenges.HTTP01
    label = "http-01"

    def __init__(self, address: str = "", port: int = 80) -> None:
        self.resources: set[Any] = set()
        super().__init__(
            address,
            port,
            lambda addr, ipv6: standalone.HTTP01Server(addr, self.resources, ipv6=ipv6),
            lambda addr: standalone.HTTP01DualNetworkedServers(addr, self.resources),
        )

    def add(
        self,
        authzr: messages.AuthorizationResource,
        challb: messages.ChallengeBody,
        account: Answering,
    ) -> None:
        response, validation = challb.response_and_validation(account.key)
        self.resources.add(
            standalone.HTTP01RequestHandler.HTTP01Resource(
                chall=challb.chall, response=response, validation=validation
            )
        )

    def cleanup(self) -> None:
        self.resources.clear()
        super().cleanup()


class StandaloneTLSALPN01(_Standalone):
    """tls-alpn-01 answered by `acme.standalone.TLSALPN01Server` (RFC 8737 section 3)."""

    challenge_type = challenges.TLSALPN01
    label = "tls-alpn-01"

    def __init__(self, address: str = "", port: int = 443) -> None:
        self.certs: dict[str, Any] = {}
        super().__init__(
            address,
            port,
            lambda addr, ipv6: standalone.TLSALPN01Server(addr, self.certs, ipv6=ipv6),
            lambda addr: standalone.TLSALPN01DualNetworkedServers(addr, self.certs),
        )

    def add(
        self,
        authzr: messages.AuthorizationResource,
        challb: messages.ChallengeBody,
        account: Answering,
    ) -> None:
        chall = typed_challenge(challb, challenges.TLSALPN01)
        domain = authzr.body.identifier.value
        cert, key = chall.validation(account.key, domain=domain)
        self.certs[domain] = (key, cert)

    def cleanup(self) -> None:
        self.certs.clear()
        super().cleanup()


class Webroot(Solver):
    """http-01 files under ``root/.well-known/acme-challenge/`` for a running web server."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise CLIError(f"webroot {root} is not a folder", 2)
        self.root = root
        self._files: list[Path] = []
        self._made_dirs: list[Path] = []

    def add(
        self,
        authzr: messages.AuthorizationResource,
        challb: messages.ChallengeBody,
        account: Answering,
    ) -> None:
        chall = typed_challenge(challb, challenges.HTTP01)
        token = chall.encode("token")
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise CLIError(f"the CA sent an http-01 token that is not base64url: {token!r:.80}")
        folder = self.root / ".well-known" / "acme-challenge"
        for parent in (self.root / ".well-known", folder):
            if not parent.is_dir():
                parent.mkdir(mode=0o755)
                parent.chmod(0o755)  # whatever the umask: the web server must traverse it
                self._made_dirs.append(parent)
        path = folder / token
        path.write_text(chall.validation(account.key), encoding="ascii")
        path.chmod(0o644)  # the web server's user must be able to read it
        self._files.append(path)

    def cleanup(self) -> None:
        for path in self._files:
            path.unlink(missing_ok=True)
        self._files.clear()
        for folder in reversed(self._made_dirs):
            with contextlib.suppress(OSError):  # not empty: someone else uses it
                folder.rmdir()
        self._made_dirs.clear()
