"""A small authoritative DNS responder on loopback that serves the test CA's records.

FOR TESTS AND DEMOS ONLY. It answers from the same `DNSRecordStore` the CA's dns-01 checks
read, so a client that checks its own records before answering a challenge (lego, our
propagation check) sees exactly what the CA will see. It knows every name (NOERROR, never
NXDOMAIN), like the validator that resolves every name to a loopback address:

- ``TXT``: the store's values at that name (none: an empty answer);
- ``A`` / ``AAAA``: the loopback address the validator uses for that name, if of that family;
- anything else: an empty answer.

Wire format from RFC 1035 section 4 (header 4.1.1, question 4.1.2, resource records 4.1.3,
name compression 4.1.4, TXT data 3.3.14), over UDP (4.2.1: 512 bytes, or the EDNS(0) size the
query announces, RFC 6891 section 6.2.5; a longer answer is cut and flagged TC) and TCP
(4.2.2: two-byte length prefix).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

from acme.testing._validation import DNSRecordStore, check_loopback

__all__ = ["DNSResponder", "answer_query"]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("!HHHHHH")
_QUESTION_TAIL = struct.Struct("!HH")
_RR_TAIL = struct.Struct("!HHIH")
_TYPE_A, _TYPE_TXT, _TYPE_AAAA, _TYPE_OPT = 1, 16, 28, 41
_CLASS_IN, _CLASS_ANY = 1, 255
_RCODE_FORMERR, _RCODE_NOTIMP, _RCODE_REFUSED = 1, 4, 5
_FLAG_QR, _FLAG_AA, _FLAG_TC, _FLAG_RD = 0x8000, 0x0400, 0x0200, 0x0100
_UDP_DEFAULT, _UDP_MAX = 512, 4096  # RFC 1035 4.2.1; our cap on an EDNS(0) size
_OUR_EDNS_SIZE = 1232
_TTL = 0  # answers change as tests publish records: nobody may cache them
_IDLE_TIMEOUT = 5.0

#: ``resolve(name) -> address`` for A/AAAA answers (a ValueError means none).
Resolver = Callable[[str], str]


class _FormatError(Exception):
    """The query cannot be parsed (answered FORMERR when the header was readable)."""


@dataclasses.dataclass
class _Query:
    ident: int
    flags: int
    question: bytes  # the question section as sent (name case kept, RFC 1035 7.3)
    name: str  # lower case, no final dot
    qtype: int
    qclass: int
    edns_size: int | None  # the UDP size an OPT record announced, None without one


def _read_name(message: bytes, offset: int) -> tuple[str, int]:
    """An uncompressed domain name at ``offset`` (queries do not compress their one name)."""
    labels: list[str] = []
    total = 0
    while True:
        if offset >= len(message):
            raise _FormatError("name runs past the end")
        length = message[offset]
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        if length & 0xC0:  # a compression pointer or reserved label type
            raise _FormatError("compressed or extended label in a query name")
        label = message[offset : offset + length]
        if len(label) != length:
            raise _FormatError("label runs past the end")
        total += length + 1
        if total > 255:  # RFC 1035 section 2.3.4
            raise _FormatError("name longer than 255 octets")
        labels.append(label.decode("ascii", "replace"))
        offset += length


def _parse(message: bytes) -> _Query:
    if len(message) < _HEADER.size:
        raise ValueError("shorter than a DNS header")
    ident, flags, qdcount, _an, _ns, arcount = _HEADER.unpack_from(message)
    if flags & _FLAG_QR:
        raise ValueError("a response, not a query")
    query = _Query(ident, flags, b"", "", 0, 0, None)
    if qdcount != 1:
        raise _FormatError(f"{qdcount} questions")
    name, end = _read_name(message, _HEADER.size)
    if end + _QUESTION_TAIL.size > len(message):
        raise _FormatError("question runs past the end")
    query.qtype, query.qclass = _QUESTION_TAIL.unpack_from(message, end)
    end += _QUESTION_TAIL.size
    query.question = message[_HEADER.size : end]
    query.name = name.lower()
    offset = end  # answer and authority sections of a query are empty; read OPT from additional
    for _ in range(arcount):
        if offset >= len(message) or message[offset] != 0:
            break  # only the root-named OPT record interests us
        if offset + 1 + _RR_TAIL.size > len(message):
            break
        rtype, rclass, _ttl, rdlength = _RR_TAIL.unpack_from(message, offset + 1)
        if rtype == _TYPE_OPT:
            query.edns_size = max(_UDP_DEFAULT, min(rclass, _UDP_MAX))  # RFC 6891 6.2.5
            break
        offset += 1 + _RR_TAIL.size + rdlength
    return query


def _txt_rdata(value: str) -> bytes:
    """RFC 1035 section 3.3.14: one or more <character-string>s of at most 255 octets."""
    data = value.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return b"".join(bytes([len(chunk)]) + chunk for chunk in chunks)


def _record(rtype: int, rdata: bytes) -> bytes:
    # The owner is the question name, always at offset 12: a pointer (section 4.1.4).
    return b"\xc0\x0c" + _RR_TAIL.pack(rtype, _CLASS_IN, _TTL, len(rdata)) + rdata


def _answers(query: _Query, store: DNSRecordStore, resolve: Resolver) -> list[bytes]:
    records: list[bytes] = []
    if query.qtype == _TYPE_TXT:
        records = [_record(_TYPE_TXT, _txt_rdata(value)) for value in store.txt(query.name)]
    elif query.qtype in (_TYPE_A, _TYPE_AAAA):
        try:
            address = ipaddress.ip_address(resolve(query.name))
        except ValueError:
            return []
        wanted = 4 if query.qtype == _TYPE_A else 6
        if address.version == wanted:
            records = [_record(query.qtype, address.packed)]
    return records


def _opt_record() -> bytes:
    """Our OPT pseudo-record (RFC 6891 section 6.1.2): root owner, our UDP size, version 0."""
    return b"\x00" + _RR_TAIL.pack(_TYPE_OPT, _OUR_EDNS_SIZE, 0, 0)


def answer_query(
    message: bytes, store: DNSRecordStore, resolve: Resolver, *, udp: bool = True
) -> bytes | None:
    """The response to one DNS query message, or None when it deserves no answer at all."""
    try:
        query = _parse(message)
    except ValueError:
        return None  # not a query: stay silent rather than answer garbage
    except _FormatError:
        ident, flags = struct.unpack_from("!HH", message)
        reply = flags & 0x7900 | _FLAG_QR | _RCODE_FORMERR  # keep opcode and RD
        return _HEADER.pack(ident, reply, 0, 0, 0, 0)
    flags = _FLAG_QR | _FLAG_AA | (query.flags & (0x7800 | _FLAG_RD))  # opcode and RD echoed
    opcode = (query.flags >> 11) & 0xF
    records: list[bytes] = []
    if opcode != 0:
        flags = flags & ~_FLAG_AA | _RCODE_NOTIMP
    elif query.qclass not in (_CLASS_IN, _CLASS_ANY):
        flags = flags & ~_FLAG_AA | _RCODE_REFUSED
    else:
        records = _answers(query, store, resolve)
    additional = [_opt_record()] if query.edns_size is not None else []
    limit = (query.edns_size or _UDP_DEFAULT) if udp else 65535
    size = _HEADER.size + len(query.question) + sum(map(len, records + additional))
    if size > limit:  # RFC 1035 4.2.1 / RFC 2181 9: cut the answers, flag TC, client uses TCP
        records, flags = [], flags | _FLAG_TC
    header = _HEADER.pack(query.ident, flags, 1, len(records), 0, len(additional))
    return header + query.question + b"".join(records) + b"".join(additional)


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDPServer

    def handle(self) -> None:
        data, sock = self.request
        response = answer_query(data, self.server.store, self.server.resolve, udp=True)
        if response is not None:
            with contextlib.suppress(OSError):
                sock.sendto(response, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(_IDLE_TIMEOUT)
        with self.server.track(conn), contextlib.suppress(OSError):
            while True:  # RFC 1035 4.2.2 / RFC 7766 6.2.1: several queries per connection
                prefix = _recv_exactly(conn, 2)
                if prefix is None:
                    return
                message = _recv_exactly(conn, struct.unpack("!H", prefix)[0])
                if message is None:
                    return
                response = answer_query(message, self.server.store, self.server.resolve, udp=False)
                if response is None:
                    return
                conn.sendall(struct.pack("!H", len(response)) + response)


def _recv_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class _Family:
    """Shared setup of both listeners: address family, no reverse lookups, the store."""

    store: DNSRecordStore
    resolve: Resolver


class _UDPServer(_Family, socketserver.UDPServer):
    max_packet_size = 65535

    def __init__(self, address: tuple[str, int], store: DNSRecordStore, resolve: Resolver):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.store, self.resolve = store, resolve
        super().__init__(address, _UDPHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("acme.testing DNS: query from %s failed", client_address, exc_info=True)


class _TCPServer(_Family, socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], store: DNSRecordStore, resolve: Resolver):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.store, self.resolve = store, resolve
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _TCPHandler)

    @contextlib.contextmanager
    def track(self, conn: socket.socket) -> Iterator[None]:
        with self.connections_lock:
            self.connections.add(conn)
        try:
            yield
        finally:
            with self.connections_lock:
                self.connections.discard(conn)

    def cut_connections(self) -> None:
        """Unblock handler threads waiting on idle connections (for a prompt close)."""
        with self.connections_lock:
            live = list(self.connections)
        for conn in live:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("acme.testing DNS: TCP query from %s failed", client_address, exc_info=True)


class DNSResponder:
    """The DNS responder on ``host``:``port`` (UDP and TCP); ``port`` 0 picks a free one.

    :param store: the TXT records to serve.
    :param resolve: the address for A/AAAA answers for a name (ValueError: none).
    """

    def __init__(
        self, host: str, port: int, store: DNSRecordStore, resolve: Resolver, *, tries: int = 20
    ) -> None:
        check_loopback(host)
        for attempt in range(tries if port == 0 else 1):
            udp = _UDPServer((host, port), store, resolve)
            try:
                tcp = _TCPServer((host, udp.server_address[1]), store, resolve)
            except OSError:  # the free UDP port is taken for TCP: try another
                udp.server_close()
                if attempt == tries - 1 or port != 0:
                    raise
                continue
            break
        self.host = host
        self.port = int(udp.server_address[1])
        self._udp, self._tcp = udp, tcp
        self._threads = [
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"acme-test-dns-{kind}-{self.port}",
                daemon=True,
            )
            for server, kind in ((udp, "udp"), (tcp, "tcp"))
        ]
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def close(self) -> None:
        """Stop both listeners and join their threads."""
        for server in (self._udp, self._tcp):
            server.shutdown()
        self._tcp.cut_connections()
        for server in (self._udp, self._tcp):
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
