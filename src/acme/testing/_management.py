"""The test CA's management API: plain HTTP on loopback, shaped like pebble-challtestsrv's.

FOR TESTS AND DEMOS ONLY: there is no authentication, which is why it only ever listens on a
loopback address. It lets a process other than the test (a DNS hook script, lego's ``exec``
provider, a shell with ``curl``) publish the TXT records the CA's dns-01 checks read, and set
what renewalInfo answers. Every endpoint takes a POSTed JSON object and answers 200 with an
empty body (``/renewal-drill``: a count), or 4xx with a one-line ``text/plain`` reason:

- ``/set-txt`` ``{"host": NAME, "value": TEXT}``: add a TXT value at NAME (a final dot is
  optional; ``/add-txt``, challtestsrv's older name, is the same). Values accumulate, so a
  wildcard and its base name can both be published at ``_acme-challenge.NAME``.
- ``/clear-txt`` ``{"host": NAME}``: remove every value at NAME; with ``"value"`` only that one.
- ``/set-renewal-window`` ``{"certificate": PEM or RFC 9773 id, "start": RFC 3339, "end": RFC
  3339}``: what renewalInfo suggests for an issued certificate (RFC 9773 section 4.2).
- ``/renewal-drill`` ``{}`` or ``{"certificate": PEM or RFC 9773 id}``: move the renewal
  window of every unexpired certificate (or of that one) into the past, as a CA does in a
  revocation drill, so ARI clients renew at once (RFC 9773 section 4.2). The body of the
  answer is the number of certificates moved. An unknown certificate is a 404, as with
  ``/set-renewal-window``.
"""

from __future__ import annotations

import datetime
import http.server
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

from acme import errors
from acme.testing._validation import DNSRecordStore, check_loopback

__all__ = ["ManagementAPI", "RenewalDrill", "RequestLog", "WindowSetter"]

logger = logging.getLogger(__name__)
_MAX_BODY = 64 * 1024
_TIMEOUT = 10.0

#: ``log(method, path, status)``: called once per request answered.
RequestLog = Callable[[str, str, int], None]
#: ``set_window(certificate, start, end)``, `ACMEServerCore.set_renewal_window`.
WindowSetter = Callable[[Any, datetime.datetime, datetime.datetime], None]
#: ``drill(*certificates)``, `ACMEServerCore.move_windows_into_past`: how many were moved.
RenewalDrill = Callable[..., int]
#: An endpoint: the POSTed object in, the answer's body text (None: empty) out.
_Endpoint = Callable[[dict[str, Any]], str | None]


class _BadRequest(Exception):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _text(payload: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = payload.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        kind = "a non-empty string" if required else "a string"
        raise _BadRequest(f'"{field}" must be {kind}')
    return value


def _host(payload: dict[str, Any]) -> str:
    host = _text(payload, "host")
    assert host is not None
    if not host.rstrip("."):
        raise _BadRequest('"host" must name a domain')
    return host


def _certificate(payload: dict[str, Any]) -> str | bytes:
    """``"certificate"``: PEM text (as bytes, which the CA parses) or an RFC 9773 id."""
    text = _text(payload, "certificate")
    assert text is not None
    return text.encode("ascii", "replace") if "-----" in text else text


def _time(payload: dict[str, Any], field: str) -> datetime.datetime:
    text = _text(payload, field)
    assert text is not None
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _BadRequest(f'"{field}" is not an RFC 3339 date-time: {text[:60]!r}') from None
    if when.tzinfo is None:
        raise _BadRequest(f'"{field}" needs a time zone offset (RFC 3339 section 5.6)')
    return when.astimezone(datetime.timezone.utc)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = _TIMEOUT

    def do_POST(self) -> None:
        endpoint = self.server.endpoints.get(self.path.partition("?")[0])
        if endpoint is None:
            self._reply(404, f"no endpoint {self.path[:100]}")
            return
        try:
            payload = self._payload()
            answer = endpoint(payload)
        except _BadRequest as error:
            self._reply(error.status, error.reason)
            return
        self._reply(200, answer or "")

    def do_GET(self) -> None:
        known = self.path.partition("?")[0] in self.server.endpoints
        self._reply(405 if known else 404, "POST a JSON object" if known else "no such endpoint")

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _payload(self) -> dict[str, Any]:
        length_text = self.headers.get("Content-Length", "")
        if not length_text.isdigit():
            raise _BadRequest("a Content-Length is required", 411)
        length = int(length_text)
        if length > _MAX_BODY:
            raise _BadRequest("request body too large", 413)
        try:
            payload = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError) as error:
            raise _BadRequest(f"the body is not JSON: {error}") from None
        if not isinstance(payload, dict):
            raise _BadRequest("the body must be a JSON object")
        return payload

    def _reply(self, status: int, reason: str) -> None:
        body = (reason + "\n").encode("utf-8") if reason else b""
        self.send_response(status)
        if self.command == "GET" and status == 405:
            self.send_header("Allow", "POST")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log = self.server.request_log
        if log is not None:
            log(self.command, self.path, int(code) if str(code).isdigit() else 0)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("acme.testing management %s: " + format, self.address_string(), *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        endpoints: dict[str, _Endpoint],
        request_log: RequestLog | None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.endpoints = endpoints
        self.request_log = request_log
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no getfqdn(): no DNS lookups on loopback
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("acme.testing management: %s failed", client_address, exc_info=True)


class ManagementAPI:
    """The management API on ``http://host:port`` (see the module docstring).

    :param records: where ``/set-txt`` and ``/clear-txt`` write (the CA's dns-01 records).
    :param set_window: sets a certificate's renewal window (``/set-renewal-window``).
    :param request_log: told of every request answered.
    :param renewal_drill: moves renewal windows into the past (``/renewal-drill``; not served
        when None).
    """

    def __init__(
        self,
        host: str,
        port: int,
        records: DNSRecordStore,
        set_window: WindowSetter,
        request_log: RequestLog | None = None,
        *,
        renewal_drill: RenewalDrill | None = None,
    ) -> None:
        check_loopback(host)
        self.records = records
        self._set_window = set_window
        self._drill = renewal_drill
        endpoints: dict[str, _Endpoint] = {
            "/set-txt": self._set_txt,
            "/add-txt": self._set_txt,
            "/clear-txt": self._clear_txt,
            "/set-renewal-window": self._set_renewal_window,
        }
        if renewal_drill is not None:
            endpoints["/renewal-drill"] = self._renewal_drill
        self._httpd = _Server((host, port), endpoints, request_log)
        authority = f"[{host}]" if ":" in host else host
        self.url = f"http://{authority}:{self._httpd.server_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"acme-test-management-{self._httpd.server_port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_port

    def _set_txt(self, payload: dict[str, Any]) -> str | None:
        value = _text(payload, "value", required=False)
        if value is None:
            raise _BadRequest('"value" must be a string')
        self.records.add_txt(_host(payload), value)
        return None

    def _clear_txt(self, payload: dict[str, Any]) -> str | None:
        host = _host(payload)
        self.records.remove_txt(host, _text(payload, "value", required=False))
        return None

    def _set_renewal_window(self, payload: dict[str, Any]) -> str | None:
        certificate = _certificate(payload)
        start, end = _time(payload, "start"), _time(payload, "end")
        try:
            self._set_window(certificate, start, end)
        except KeyError as error:
            raise _BadRequest(str(error.args[0]), 404) from None
        except (ValueError, errors.Error) as error:
            raise _BadRequest(f"{error}") from None
        return None

    def _renewal_drill(self, payload: dict[str, Any]) -> str | None:
        assert self._drill is not None
        certificates = [_certificate(payload)] if "certificate" in payload else []
        try:
            return f"{self._drill(*certificates)}"
        except KeyError as error:
            raise _BadRequest(str(error.args[0]), 404) from None
        except (ValueError, errors.Error) as error:
            raise _BadRequest(f"{error}") from None

    def close(self) -> None:
        """Stop listening and join every thread."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
