"""Real name servers on loopback for the acme.dns tests.

- `AuthoritativeServer`: a small authoritative server written with dnspython, on UDP and TCP,
  serving zones from memory; tests change its records while it runs (a record that
  appears late on one server).
- `Bind`: a real BIND 9 ``named`` started in a temp folder on 127.0.0.1 and a high port,
  with one zone open to RFC 2136 updates signed by a TSIG key, stopped afterwards.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import dns.zone
import pytest


def zone_text(origin: str, nameservers: dict[str, str]) -> str:
    """A zone with an SOA, the given NS names (relative) and their A records."""
    lines = [
        f"$ORIGIN {origin}.",
        "$TTL 60",
        "@ SOA ns1 hostmaster 1 3600 600 86400 60",
    ]
    lines += [f"@ NS {name}" for name in nameservers]
    lines += [f"{name} A {address}" for name, address in nameservers.items()]
    return "\n".join(lines) + "\n"


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDP

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.owner.answer(data, tcp=False)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCP

    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            while True:
                head = self.request.recv(2)
                if len(head) < 2:
                    return
                length = int.from_bytes(head, "big")
                data = b""
                while len(data) < length:
                    chunk = self.request.recv(length - len(data))
                    if not chunk:
                        return
                    data += chunk
                reply = self.server.owner.answer(data, tcp=True)
                if reply is None:
                    return
                self.request.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError:
            return


class _UDP(socketserver.UDPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: AuthoritativeServer) -> None:
        self.owner = owner
        super().__init__(address, _UDPHandler)


class _TCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], owner: AuthoritativeServer) -> None:
        self.owner = owner
        super().__init__(address, _TCPHandler)


class AuthoritativeServer:
    """Answers authoritatively (AA) for its zones over UDP and TCP on ``address:port``.

    NXDOMAIN and NODATA answers carry the zone's SOA, as RFC 2308 asks, so resolvers can
    find the zone. Names outside the zones are REFUSED. ``queries`` counts the questions.
    """

    def __init__(self, address: str, port: int, zones: dict[str, str]) -> None:
        self.address, self.port = address, port
        self.zones = {
            dns.name.from_text(origin): dns.zone.from_text(text, origin, relativize=False)
            for origin, text in zones.items()
        }
        self.lock = threading.Lock()
        self.queries: list[tuple[str, str, bool]] = []
        self._udp = _UDP((address, port), self)
        try:
            self._tcp = _TCP((address, port), self)
        except OSError:
            self._udp.server_close()
            raise
        self._threads = [
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for srv in (self._udp, self._tcp)
        ]
        for thread in self._threads:
            thread.start()

    def set_txt(self, name: str, *values: str) -> None:
        """Replace the TXT records at ``name`` (none left when no value is given)."""
        owner = dns.name.from_text(name)
        with self.lock:
            zone = self._zone_of(owner)
            assert zone is not None, name
            if not values:
                zone.delete_rdataset(owner, dns.rdatatype.TXT)
                return
            rdatas = []
            for value in values:
                data = value.encode()
                strings = [data[i : i + 255] for i in range(0, len(data), 255)]
                rdatas.append(
                    dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings)
                )
            zone.replace_rdataset(owner, dns.rdataset.from_rdata_list(60, rdatas))

    def set_cname(self, name: str, target: str) -> None:
        owner = dns.name.from_text(name)
        with self.lock:
            zone = self._zone_of(owner)
            assert zone is not None
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.CNAME, target)
            zone.replace_rdataset(owner, dns.rdataset.from_rdata_list(60, [rdata]))

    def _zone_of(self, name: dns.name.Name) -> dns.zone.Zone | None:
        best = None
        for origin, zone in self.zones.items():
            if name.is_subdomain(origin) and (best is None or origin.is_subdomain(best[0])):
                best = (origin, zone)
        return None if best is None else best[1]

    def answer(self, data: bytes, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        with self.lock:
            self.queries.append((qname.to_text(), dns.rdatatype.to_text(qtype), tcp))
            zone = self._zone_of(qname)
            if zone is None:
                response.set_rcode(dns.rcode.REFUSED)
                return response.to_wire()
            response.flags |= dns.flags.AA
            self._fill(response, zone, qname, qtype)
        try:
            return response.to_wire(max_size=65535 if tcp else 512)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            return truncated.to_wire()

    @staticmethod
    def _fill(
        response: dns.message.Message, zone: dns.zone.Zone, qname: dns.name.Name, qtype: Any
    ) -> None:
        assert zone.origin is not None
        soa = zone.find_rrset(zone.origin, dns.rdatatype.SOA)
        node = zone.get_node(qname)
        if node is not None:
            found = node.get_rdataset(dns.rdataclass.IN, qtype)
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if found is None and cname is not None:
                found, qtype = cname, dns.rdatatype.CNAME
            if found is not None:
                response.answer.append(dns.rrset.from_rdata_list(qname, found.ttl, list(found)))
                return
        if node is None and not any(name.is_subdomain(qname) for name in zone.nodes):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(soa)

    def close(self) -> None:
        for srv in (self._udp, self._tcp):
            srv.shutdown()
            srv.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def free_port(*addresses: str, attempts: int = 50) -> int:
    """A port free for UDP and TCP on every address (e.g. 127.0.0.1 and 127.0.0.2)."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((addresses[0], 0))
            port = int(probe.getsockname()[1])
        if port < 1024:
            continue
        ok = True
        for address in addresses:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as sock:
                    try:
                        sock.bind((address, port))
                    except OSError:
                        ok = False
        if ok:
            return port
    raise RuntimeError("no free port on " + ", ".join(addresses))


# -- BIND 9 ---------------------------------------------------------------------------------


def named_binary() -> str:
    """``named``'s path; a missing binary skips the test, except in CI where it fails."""
    found = shutil.which("named") or next(
        (p for p in ("/usr/sbin/named", "/usr/bin/named") if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = "BIND 9 (named) is not installed (Debian package bind9; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class Bind:
    """``named`` serving ``zone`` on 127.0.0.1:``port``, updatable with the TSIG key."""

    KEY_NAME = "acme-test-key."

    def __init__(self, folder: Path, zone: str = "example.test") -> None:
        self.folder = folder
        self.zone = zone
        self.port = free_port("127.0.0.1")
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        (folder / f"{zone}.zone").write_text(zone_text(zone, {"ns1": "127.0.0.1"}))
        config = folder / "named.conf"
        config.write_text(
            f"""
options {{
    directory "{folder}";
    pid-file "{folder}/named.pid";
    session-keyfile "{folder}/session.key";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
key "{self.KEY_NAME}" {{ algorithm hmac-sha256; secret "{self.secret}"; }};
zone "{zone}" {{
    type primary;
    file "{folder}/{zone}.zone";
    allow-update {{ key "{self.KEY_NAME}"; }};
}};
"""
        )
        self.log = (folder / "named.log").open("wb")
        self.process = subprocess.Popen(
            [named_binary(), "-g", "-n", "1", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        query = dns.message.make_query(self.zone, "SOA")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"named exited: {self.output()[-2000:]}")
            try:
                response = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
            except (dns.exception.Timeout, OSError):
                time.sleep(0.1)
                continue
            if response.rcode() == dns.rcode.NOERROR and response.answer:
                return
            time.sleep(0.1)
        raise RuntimeError(f"named did not answer in {timeout}s: {self.output()[-2000:]}")

    def output(self) -> str:
        self.log.flush()
        return (self.folder / "named.log").read_text(errors="replace")

    def txt(self, name: str) -> list[str]:
        """The TXT values named serves at ``name`` right now (strings joined)."""
        response = dns.query.tcp(
            dns.message.make_query(name, "TXT"), "127.0.0.1", port=self.port, timeout=5
        )
        return [
            b"".join(rdata.strings).decode()
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for rdata in rrset
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
