"""RFC 2136 dynamic updates: publish TXT records on a primary name server, signed with TSIG.

Works with BIND 9 (``allow-update { key ...; }`` or ``update-policy``), Knot, PowerDNS and
others. Updates go over TCP to one server (the zone's primary); each is signed with TSIG
(RFC 8945) when a key is given, and the server's signed answer is verified by dnspython.
"""

from __future__ import annotations

import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.tsigkeyring
import dns.update

from acme.dns._providers import DNSProvider, split_txt
from acme.dns._types import DNSError

__all__ = ["RFC2136Provider"]


class RFC2136Provider(DNSProvider):
    """Adds and deletes TXT records with RFC 2136 UPDATE messages.

    :param server: the primary's IP address; ``port`` its port.
    :param zone: the zone to update; found from the server's SOA answers when None.
    :param key_name: the TSIG key name (None: unsigned updates, for servers that allow
        them by address); ``key_secret`` its base64 secret, ``key_algorithm`` its algorithm
        (``hmac-sha256``, ``hmac-sha512``, ...).
    :param ttl: the TTL of added records (short: they live for one validation).
    :param timeout: seconds each exchange with the server may take.
    """

    def __init__(
        self,
        server: str,
        port: int = 53,
        *,
        zone: str | None = None,
        key_name: str | None = None,
        key_secret: str | None = None,
        key_algorithm: str = "hmac-sha256",
        ttl: int = 60,
        timeout: float = 10.0,
    ) -> None:
        self.server = server
        self.port = port
        self.zone = dns.name.from_text(zone) if zone else None
        self.ttl = ttl
        self.timeout = timeout
        self._keyring = None
        self._keyname = None
        self._algorithm = dns.name.from_text(key_algorithm)
        if key_name is not None:
            if not key_secret:
                raise DNSError("a TSIG key needs its secret")
            try:
                self._keyring = dns.tsigkeyring.from_text({key_name: (key_algorithm, key_secret)})
            except (ValueError, dns.exception.DNSException) as error:
                raise DNSError(f"unusable TSIG key {key_name!r}: {error}") from error
            self._keyname = dns.name.from_text(key_name)
        self._zones: dict[dns.name.Name, dns.name.Name] = {}
        self._lock = threading.Lock()

    def _exchange(self, message: dns.message.Message) -> dns.message.Message:
        try:
            return dns.query.tcp(message, self.server, timeout=self.timeout, port=self.port)
        except (dns.exception.DNSException, OSError) as error:
            where = f"{self.server}:{self.port}"
            raise DNSError(f"RFC 2136 exchange with {where} failed: {error}") from error

    def zone_for(self, name: str) -> dns.name.Name:
        """The zone holding ``name``: ``zone``, or the owner of the SOA the server gives."""
        if self.zone is not None:
            return self.zone
        owner = dns.name.from_text(name)
        with self._lock:
            if owner in self._zones:
                return self._zones[owner]
        query = dns.message.make_query(owner, "SOA")
        query.flags &= ~dns.flags.RD
        response = self._exchange(query)
        for rrset in (*response.answer, *response.authority):
            if rrset.rdtype == dns.rdatatype.SOA and owner.is_subdomain(rrset.name):
                with self._lock:
                    self._zones[owner] = rrset.name
                return rrset.name
        raise DNSError(f"{self.server} is not authoritative for a zone holding {name}")

    def _update(self, name: str, value: str, add: bool) -> None:
        zone = self.zone_for(name)
        owner = dns.name.from_text(name)
        if not owner.is_subdomain(zone):
            raise DNSError(f"{name} is not in zone {zone}")
        update = dns.update.UpdateMessage(
            zone, keyring=self._keyring, keyname=self._keyname, keyalgorithm=self._algorithm
        )
        rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, split_txt(value))
        relative = owner.relativize(zone)
        if add:
            update.add(relative, self.ttl, rdata)
        else:
            update.delete(relative, rdata)
        response = self._exchange(update)
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            action = "add" if add else "delete"
            raise DNSError(
                f"{self.server} refused to {action} TXT {name}: {dns.rcode.to_text(rcode)}"
            )

    def publish(self, name: str, value: str) -> None:
        """Add the TXT value with a TSIG-signed dynamic update (RFC 2136)."""
        self._update(name, value, add=True)

    def cleanup(self, name: str, value: str) -> None:
        """Delete the TXT value with a TSIG-signed dynamic update (RFC 2136)."""
        self._update(name, value, add=False)
