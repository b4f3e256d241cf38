"""Propagation checks: ask each authoritative name server directly until it has the record.

Why: a CA validates right after the client answers a challenge, often from a vantage point
that reaches some other authoritative server of the zone than the one the DNS provider
updated first. Sleeping a fixed time (what certbot does) is either too long or too short.

Theory of operation:
1. Follow CNAMEs from the record name through the recursive ``resolver`` (dns-01 delegation).
2. Find the zone (``dns.resolver.zone_for_name``: the SOA walk), its NS names, and their
   addresses (A; AAAA too with ``ipv6=True``).
3. Query every (record, server) pair directly over UDP (TCP when truncated), recursion
   off, in parallel threads, each query bounded by ``query_timeout`` and the deadline; a
   pair is done when the server answers authoritatively with an acceptable TXT value.
4. Until every pair is done, wait (backing off from ``interval`` to ``max_interval``) and
   query the pending pairs again; past the deadline raise `PropagationTimeout` naming them.

Addresses and ports are injectable (``resolver``, ``port``, ``nameservers``) so tests run
against name servers on loopback high ports. ``servers`` replaces steps 1 and 2 altogether:
the record names are asked of exactly those servers (a hidden primary, a split-horizon view,
or the one server a provider updates).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from acme.dns._types import (
    Address,
    DNSError,
    Expectation,
    NameServer,
    Progress,
    PropagationTimeout,
)

__all__ = ["PropagationChecker", "txt_values"]

_MAX_CNAME_HOPS = 8
_MIN_QUERY_TIME = 0.1  # seconds: the least time worth a query


def txt_values(response: dns.message.Message, name: dns.name.Name) -> list[str]:
    """The TXT values at ``name`` in an answer; the strings of one record are joined
    (RFC 1035 section 3.3.14; draft-ietf-acme-dns-persist section 9.1)."""
    values = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT and rrset.name == name:
            for rdata in rrset:
                values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
    return values


class PropagationChecker:
    """Waits until every authoritative server of each record's zone serves the record.

    :param resolver: recursive resolvers ``(address, port)`` used to find zones and name
        servers; the system's (``/etc/resolv.conf``) when None.
    :param port: the port authoritative servers are queried on (53; tests use others).
    :param nameservers: NS name (no final dot) to addresses, overriding their lookup.
    :param ipv6: also query the name servers' IPv6 addresses.
    :param query_timeout: seconds one query may take.
    :param interval: first pause between rounds, growing by half up to ``max_interval``.
    :param servers: ask these ``(address, port)`` servers and skip discovery (no CNAME is
        followed then: the names asked are the records' own).
    """

    def __init__(
        self,
        *,
        resolver: Sequence[Address] | None = None,
        port: int = 53,
        nameservers: Mapping[str, Sequence[Address]] | None = None,
        ipv6: bool = False,
        query_timeout: float = 2.0,
        interval: float = 0.5,
        max_interval: float = 10.0,
        max_workers: int = 16,
        servers: Sequence[Address] | None = None,
    ) -> None:
        self._fixed_servers = [NameServer(host, (host, port)) for host, port in servers or ()]
        self._resolver_addresses = list(resolver) if resolver is not None else None
        self.port = port
        self.nameservers = {
            name.rstrip(".").lower(): list(addrs) for name, addrs in (nameservers or {}).items()
        }
        self.ipv6 = ipv6
        self.query_timeout = query_timeout
        self.interval = interval
        self.max_interval = max_interval
        self.max_workers = max_workers
        self._stop = threading.Event()

    def close(self) -> None:
        """Make a running `wait` stop at its next pause (it raises `PropagationTimeout`)."""
        self._stop.set()

    # -- discovery -----------------------------------------------------------------------

    def _resolver(self, deadline: float) -> dns.resolver.Resolver:
        if self._resolver_addresses is None:
            res = dns.resolver.Resolver()
        else:
            res = dns.resolver.Resolver(configure=False)
            res.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in self._resolver_addresses
            ]
        res.cache = None  # fresh answers only: we are watching records change
        res.timeout = self.query_timeout
        res.lifetime = _remaining(deadline)
        return res

    def _target(self, name: str, deadline: float) -> dns.name.Name:
        """``name`` after its CNAME chain (a delegated ``_acme-challenge``)."""
        current = dns.name.from_text(name)
        for _ in range(_MAX_CNAME_HOPS):
            try:
                answer = self._resolver(deadline).resolve(
                    current, "CNAME", lifetime=_remaining(deadline)
                )
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                return current
            except dns.exception.DNSException as error:
                raise DNSError(f"cannot look up CNAME {current}: {error}") from error
            current = answer[0].target
        raise DNSError(f"{name}: more than {_MAX_CNAME_HOPS} CNAMEs")

    def authoritative_servers(self, name: str, timeout: float = 30.0) -> list[NameServer]:
        """The servers to ask about ``name``: its zone's NS names and their addresses."""
        deadline = time.monotonic() + timeout
        return self._servers(dns.name.from_text(name), deadline)

    def _servers(self, target: dns.name.Name, deadline: float) -> list[NameServer]:
        try:
            zone = dns.resolver.zone_for_name(
                target, resolver=self._resolver(deadline), lifetime=_remaining(deadline)
            )
            ns_answer = self._resolver(deadline).resolve(zone, "NS", lifetime=_remaining(deadline))
        except dns.exception.DNSException as error:
            raise DNSError(f"cannot find the name servers of {target}: {error}") from error
        servers = []
        for ns_name in sorted({rdata.target for rdata in ns_answer}):
            text = ns_name.to_text(omit_final_dot=True)
            for address in self._addresses(ns_name, deadline):
                servers.append(NameServer(text, address))
        if not servers:
            raise DNSError(f"no address for any name server of zone {zone}")
        return servers

    def _addresses(self, ns_name: dns.name.Name, deadline: float) -> list[Address]:
        override = self.nameservers.get(ns_name.to_text(omit_final_dot=True).lower())
        if override is not None:
            return override
        found: list[Address] = []
        for rdtype in ("A", "AAAA") if self.ipv6 else ("A",):
            try:
                answer = self._resolver(deadline).resolve(
                    ns_name, rdtype, lifetime=_remaining(deadline)
                )
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as error:
                raise DNSError(f"cannot look up {rdtype} {ns_name}: {error}") from error
            found.extend((rdata.address, self.port) for rdata in answer)
        return found

    # -- querying ------------------------------------------------------------------------

    def query(self, server: NameServer, name: dns.name.Name, deadline: float) -> list[str]:
        """The TXT values ``server`` serves at ``name`` (authoritative answers only)."""
        request = dns.message.make_query(name, "TXT")
        request.flags &= ~dns.flags.RD  # ask the server itself, not its cache
        host, port = server.address
        timeout = min(self.query_timeout, _remaining(deadline))
        try:
            response, _ = dns.query.udp_with_fallback(request, host, timeout=timeout, port=port)
        except (dns.exception.DNSException, OSError) as error:
            raise DNSError(f"no answer ({type(error).__name__}: {error})") from error
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DNSError(f"answered {dns.rcode.to_text(rcode)}")
        if not response.flags & dns.flags.AA:
            raise DNSError("not authoritative for the zone")
        return txt_values(response, name)

    def wait(
        self,
        records: Iterable[Expectation],
        timeout: float,
        progress: Callable[[Progress], None] | None = None,
    ) -> None:
        """Return once every authoritative server serves every record; raise
        `PropagationTimeout` after ``timeout`` seconds, `DNSError` if discovery fails."""
        began = time.monotonic()
        deadline = began + timeout
        pending: dict[tuple[Expectation, NameServer], tuple[dns.name.Name, str]] = {}
        for record in dict.fromkeys(records):
            if self._fixed_servers:
                target, servers = dns.name.from_text(record.name), self._fixed_servers
            else:
                target = self._target(record.name, deadline)
                servers = self._servers(target, deadline)
            for server in servers:
                pending[(record, server)] = (target, "not asked yet")
        delay = self.interval
        workers = max(1, min(self.max_workers, len(pending)))
        with concurrent.futures.ThreadPoolExecutor(workers, "acme-dns-check") as pool:
            while pending:
                asked = {
                    pool.submit(self.query, server, target, deadline): (record, server)
                    for (record, server), (target, _) in pending.items()
                }
                for future in concurrent.futures.as_completed(asked):
                    record, server = asked[future]
                    target = pending[(record, server)][0]
                    seen, detail = _outcome(future, record)
                    if seen:
                        del pending[(record, server)]
                    else:
                        pending[(record, server)] = (target, detail)
                    if progress is not None:
                        elapsed = time.monotonic() - began
                        progress(Progress(record, server, seen, detail, len(pending), elapsed))
                if not pending:
                    return
                if self._stop.wait(min(delay, _remaining(deadline))):
                    break
                # A query with almost no time left would only report its own timeout.
                if _remaining(deadline) < min(_MIN_QUERY_TIME, self.query_timeout):
                    break
                delay = min(delay * 1.5, self.max_interval)
        if pending:
            waiting = [(str(rec), str(srv), last) for (rec, srv), (_, last) in pending.items()]
            raise PropagationTimeout(waiting, timeout)


def _outcome(future: concurrent.futures.Future[list[str]], record: Expectation) -> tuple[bool, str]:
    try:
        values = future.result()
    except DNSError as error:
        return False, str(error)
    if record.accepts(values):
        return True, "present"
    shown = ", ".join(repr(value[:60]) for value in values[:5]) or "no TXT record"
    return False, f"serves {shown}"


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
