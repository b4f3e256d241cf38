"""pebble-challtestsrv: its management API client and a minimal DNS query for tests."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Mapping
from typing import Any, Literal

import requests

from interop.pebble_harness.errors import ChallTestSrvError
from interop.pebble_harness.ports import LOOPBACK

_HTTP_TIMEOUT = 5.0  # one management API call


def _skip_name(message: bytes, offset: int) -> int:
    """Offset just past the (possibly compressed) domain name at ``offset`` (RFC 1035 4.1.4)."""
    while True:
        length = message[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def dns_query(
    server: tuple[str, int], name: str, qtype: int, timeout: float = 2.0
) -> tuple[int, list[bytes]]:
    """One recursive DNS query over UDP (RFC 1035 4.1); returns (RCODE, RDATA of answers of qtype).

    Raises OSError (TimeoutError included) when no matching reply arrives.
    """
    query_id = int.from_bytes(os.urandom(2), "big")
    labels = [label.encode("idna") for label in name.rstrip(".").split(".")]
    question = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question
    packet += struct.pack("!HH", qtype, 1)  # class IN
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect(server)
        sock.send(packet)
        reply = sock.recv(4096)
    reply_id, flags, qdcount, ancount = struct.unpack("!HHHH", reply[:8])
    if reply_id != query_id:
        raise OSError(f"DNS reply id {reply_id} does not match query id {query_id}")
    offset = 12
    for _ in range(qdcount):
        offset = _skip_name(reply, offset) + 4
    answers: list[bytes] = []
    for _ in range(ancount):
        offset = _skip_name(reply, offset)
        rtype, _rclass, _ttl, rdlength = struct.unpack("!HHIH", reply[offset : offset + 10])
        offset += 10
        if rtype == qtype:
            answers.append(reply[offset : offset + rdlength])
        offset += rdlength
    return flags & 0x000F, answers


_HistoryKind = Literal["http", "dns", "tlsalpn01"]


def _fqdn(host: str) -> str:
    return host if host.endswith(".") else host + "."


class ChallTestSrvClient:
    """Client for pebble-challtestsrv's management API (plain HTTP on loopback).

    DNS mocks take host names with or without the trailing dot. Mocks persist for the life of the
    instance: tests sharing the session ``pebble`` must clear what they add.
    """

    def __init__(
        self,
        management_url: str,
        *,
        dns_port: int,
        http01_port: int,
        https01_port: int,
        tlsalpn01_port: int,
    ) -> None:
        self.management_url = management_url
        self.dns_port = dns_port
        self.http01_port = http01_port
        self.https01_port = https01_port
        self.tlsalpn01_port = tlsalpn01_port

    def _post(self, endpoint: str, body: Mapping[str, Any]) -> requests.Response:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                f"{self.management_url}/{endpoint}", json=dict(body), timeout=_HTTP_TIMEOUT
            )
        if response.status_code != 200:
            raise ChallTestSrvError(
                f"challtestsrv /{endpoint} answered HTTP {response.status_code}: "
                f"{response.text.strip()}"
            )
        return response

    # http-01 (served on http01_port and, over TLS, on https01_port)
    def add_http01(self, token: str, content: str) -> None:
        self._post("add-http01", {"token": token, "content": content})

    def clear_http01(self, token: str) -> None:
        self._post("del-http01", {"token": token})

    # dns-01 and other DNS data
    def add_txt(self, host: str, value: str) -> None:
        """Add a TXT answer for ``host``; values accumulate until `clear_txt` (endpoint set-txt)."""
        self._post("set-txt", {"host": _fqdn(host), "value": value})

    def clear_txt(self, host: str) -> None:
        self._post("clear-txt", {"host": _fqdn(host)})

    def add_a(self, host: str, addresses: list[str]) -> None:
        self._post("add-a", {"host": _fqdn(host), "addresses": addresses})

    def clear_a(self, host: str) -> None:
        self._post("clear-a", {"host": _fqdn(host)})

    def add_aaaa(self, host: str, addresses: list[str]) -> None:
        self._post("add-aaaa", {"host": _fqdn(host), "addresses": addresses})

    def clear_aaaa(self, host: str) -> None:
        self._post("clear-aaaa", {"host": _fqdn(host)})

    def set_cname(self, host: str, target: str) -> None:
        self._post("set-cname", {"host": _fqdn(host), "target": _fqdn(target)})

    def clear_cname(self, host: str) -> None:
        self._post("clear-cname", {"host": _fqdn(host)})

    def set_servfail(self, host: str) -> None:
        self._post("set-servfail", {"host": _fqdn(host)})

    def clear_servfail(self, host: str) -> None:
        self._post("clear-servfail", {"host": _fqdn(host)})

    def set_default_ipv4(self, ip: str) -> None:
        """Answer for A queries without a mock; "" makes them unanswered."""
        self._post("set-default-ipv4", {"ip": ip})

    def set_default_ipv6(self, ip: str) -> None:
        """Answer for AAAA queries without a mock; "" makes them unanswered."""
        self._post("set-default-ipv6", {"ip": ip})

    # tls-alpn-01 (RFC 8737): challtestsrv builds the acmeIdentifier certificate from ``content``
    def add_tlsalpn01(self, host: str, content: str) -> None:
        self._post("add-tlsalpn01", {"host": host, "content": content})

    def clear_tlsalpn01(self, host: str) -> None:
        self._post("del-tlsalpn01", {"host": host})

    # what the validation authority asked for
    def request_history(self, kind: _HistoryKind, host: str) -> list[dict[str, Any]]:
        """Requests the responders saw for ``host`` (a name without port or trailing dot)."""
        history: list[dict[str, Any]] = self._post(f"{kind}-request-history", {"host": host}).json()
        return history or []

    def clear_request_history(self, kind: _HistoryKind, host: str) -> None:
        type_name = "tlsalpn" if kind == "tlsalpn01" else kind
        self._post("clear-request-history", {"host": host, "type": type_name})

    # direct DNS look-ups through challtestsrv's DNS server
    def lookup_a(self, name: str) -> list[str]:
        """IPv4 addresses challtestsrv answers for ``name``."""
        _, answers = dns_query((LOOPBACK, self.dns_port), name, 1)
        return [str(ipaddress.IPv4Address(rdata)) for rdata in answers]

    def lookup_txt(self, name: str) -> list[str]:
        """TXT strings challtestsrv answers for ``name`` (each record's strings joined)."""
        _, answers = dns_query((LOOPBACK, self.dns_port), name, 16)
        texts = []
        for rdata in answers:
            parts, offset = [], 0
            while offset < len(rdata):
                parts.append(rdata[offset + 1 : offset + 1 + rdata[offset]])
                offset += 1 + rdata[offset]
            texts.append(b"".join(parts).decode())
        return texts
