"""The test CA's management API (pebble-challtestsrv shapes), DNS responder and request log.

Every server runs on loopback and is closed by the test; DNS answers are read with dnspython,
an independent implementation of RFC 1035, over real UDP and TCP sockets.
"""

from __future__ import annotations

import datetime
import http.client
import io
import json
import socket
import struct
from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, fields, messages
from acme._wire.renewal_id import certificate_identifier
from acme.testing import ACMETestServer
from acme.testing._dns import DNSResponder, answer_query
from acme.testing._management import ManagementAPI
from acme.testing._validation import DNSRecordStore

TIMEOUT = 5.0


def post(url: str, path: str, body: Any, raw: bytes | None = None) -> tuple[int, str]:
    """POST JSON (or ``raw`` bytes) to the management API; (status, body text)."""
    data = raw if raw is not None else json.dumps(body).encode()
    response = requests.post(url + path, data=data, timeout=TIMEOUT)
    return response.status_code, response.text


def query(server: ACMETestServer, name: str, rdtype: str, **kwargs: Any) -> dns.message.Message:
    assert server.dns_address is not None
    host, port = server.dns_address
    message = dns.message.make_query(name, rdtype, **kwargs)
    return dns.query.udp(message, host, port=port, timeout=TIMEOUT)


def txt_values(response: dns.message.Message) -> list[str]:
    values = []
    for rrset in response.answer:
        for rdata in rrset:
            values.append(b"".join(rdata.strings).decode())
    return values


@pytest.fixture
def server() -> Any:
    with ACMETestServer(management_port=0, dns_port=0, hosts={"v6.test": "::1"}) as started:
        yield started


def test_set_txt_and_clear_txt_use_challtestsrv_shapes(server: ACMETestServer) -> None:
    url = server.management_url
    assert url is not None
    assert url.startswith("http://127.0.0.1:")
    name = "_acme-challenge.example.test"
    # challtestsrv's documented form: a final dot on the host; values accumulate
    assert post(url, "/set-txt", {"host": name + ".", "value": "one"}) == (200, "")
    assert post(url, "/add-txt", {"host": name.upper(), "value": "two"}) == (200, "")
    assert server.dns.txt(name) == ["one", "two"]
    assert post(url, "/clear-txt", {"host": name, "value": "one"}) == (200, "")
    assert server.dns.txt(name) == ["two"]
    assert post(url, "/set-txt", {"host": name, "value": ""}) == (200, "")  # empty is a value
    assert post(url, "/clear-txt", {"host": name + "."}) == (200, "")
    assert server.dns.txt(name) == []


@pytest.mark.parametrize(
    ("path", "body", "raw", "status", "reason"),
    [
        ("/set-txt", {"value": "v"}, None, 400, '"host" must be a non-empty string'),
        ("/set-txt", {"host": "x.test"}, None, 400, '"value" must be a string'),
        ("/set-txt", {"host": ".", "value": "v"}, None, 400, '"host" must name a domain'),
        ("/clear-txt", {"host": 7}, None, 400, '"host" must be a non-empty string'),
        ("/set-txt", None, b"{not json", 400, "the body is not JSON"),
        ("/set-txt", ["host"], None, 400, "the body must be a JSON object"),
        ("/no-such", {}, None, 404, "no endpoint /no-such"),
        ("/set-renewal-window", {"certificate": "a.b"}, None, 400, '"start" must be'),
    ],
)
def test_management_refusals(
    server: ACMETestServer, path: str, body: Any, raw: bytes | None, status: int, reason: str
) -> None:
    assert server.management_url is not None
    got_status, text = post(server.management_url, path, body, raw)
    assert got_status == status
    assert text.startswith(reason)
    assert text.count("\n") == 1


def test_management_needs_post_and_a_length(server: ACMETestServer) -> None:
    assert server.management_url is not None
    response = requests.get(server.management_url + "/set-txt", timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert requests.get(server.management_url + "/x", timeout=TIMEOUT).status_code == 404
    conn = http.client.HTTPConnection("127.0.0.1", int(server.management_url.rsplit(":", 1)[1]))
    try:
        conn.putrequest("POST", "/set-txt")
        conn.endheaders()  # no Content-Length, no body
        assert conn.getresponse().status == 411
    finally:
        conn.close()


def test_dns_responder_serves_the_records_over_udp_and_tcp(server: ACMETestServer) -> None:
    name = "_acme-challenge.Example.test."
    long_value = "x" * 300  # more than one <character-string> (RFC 1035 section 3.3.14)
    server.add_txt(name, "first")
    server.add_txt(name, long_value)

    response = query(server, name, "TXT")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert response.question[0].name.to_text() == name  # the question is echoed as asked
    assert txt_values(response) == ["first", long_value]
    assert [[len(part) for part in rd.strings] for rd in response.answer[0]] == [[5], [255, 45]]
    assert response.answer[0].ttl == 0

    assert server.dns_address is not None
    host, port = server.dns_address
    tcp = dns.query.tcp(dns.message.make_query(name, "TXT"), host, port=port, timeout=TIMEOUT)
    assert txt_values(tcp) == ["first", long_value]

    server.remove_txt(name)
    empty = query(server, name, "TXT")
    assert empty.rcode() == dns.rcode.NOERROR  # every name exists; it just has no TXT now
    assert empty.answer == []


def test_dns_responder_a_and_aaaa_follow_the_validator(server: ACMETestServer) -> None:
    a = query(server, "anything.test.", "A")
    assert [rd.address for rrset in a.answer for rd in rrset] == ["127.0.0.1"]
    assert query(server, "anything.test.", "AAAA").answer == []
    aaaa = query(server, "v6.test.", "AAAA")
    assert [rd.address for rrset in aaaa.answer for rd in rrset] == ["::1"]
    assert query(server, "anything.test.", "MX").answer == []


def test_a_big_udp_answer_is_truncated_and_complete_over_tcp(server: ACMETestServer) -> None:
    name = "_acme-challenge.big.test."
    values = [f"{n:02d}" + "v" * 60 for n in range(12)]  # > 512 octets in all
    for value in values:
        server.add_txt(name, value)
    plain = query(server, name, "TXT")  # no EDNS: 512 octets (RFC 1035 section 4.2.1)
    assert plain.flags & dns.flags.TC
    assert plain.answer == []
    edns = query(server, name, "TXT", use_edns=0, payload=1232)  # RFC 6891 section 6.2.5
    assert not edns.flags & dns.flags.TC
    assert edns.edns == 0
    assert sorted(txt_values(edns)) == values
    assert server.dns_address is not None
    host, port = server.dns_address
    tcp = dns.query.tcp(dns.message.make_query(name, "TXT"), host, port=port, timeout=TIMEOUT)
    assert sorted(txt_values(tcp)) == values


def test_dns_responder_refuses_what_it_does_not_serve() -> None:
    store = DNSRecordStore()

    def resolve(name: str) -> str:
        return "127.0.0.1"

    notify = dns.message.make_query("a.test.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    reply = dns.message.from_wire(answer_query(notify.to_wire(), store, resolve) or b"")
    assert reply.rcode() == dns.rcode.NOTIMP
    chaos = dns.message.make_query("version.bind.", "TXT", rdclass="CH")
    reply = dns.message.from_wire(answer_query(chaos.to_wire(), store, resolve) or b"")
    assert reply.rcode() == dns.rcode.REFUSED
    two = struct.pack("!HHHHHH", 7, 0x0100, 2, 0, 0, 0) + b"\x01a\x00\x00\x01\x00\x01" * 2
    formerr = answer_query(two, store, resolve)
    assert formerr == struct.pack("!HHHHHH", 7, 0x8101, 0, 0, 0, 0)  # QR, RD kept, FORMERR
    response = dns.message.make_response(dns.message.make_query("a.test.", "A")).to_wire()
    assert answer_query(response, store, resolve) is None  # never answer an answer
    assert answer_query(b"\x00\x01", store, resolve) is None


def _dns01(authz: messages.AuthorizationResource) -> messages.ChallengeBody:
    return next(c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01))


def test_the_ca_validates_dns01_from_records_the_api_published(server: ACMETestServer) -> None:
    """A wildcard order whose records another process publishes over HTTP; then its ARI
    window set through the API."""
    url = server.management_url
    assert url is not None
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    cert_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with client.ClientNetwork(key, verify_ssl=server.ca_bundle_path) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
        acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        order = acme.new_order(crypto_util.make_csr(cert_key, ["*.wild.test", "wild.test"]))
        assert len(order.authorizations) == 2
        for authz in order.authorizations:
            chall = _dns01(authz).chall
            assert isinstance(chall, challenges.DNS01)
            name = chall.validation_domain_name(authz.body.identifier.value) + "."
            status, _ = post(url, "/set-txt", {"host": name, "value": chall.validation(key)})
            assert status == 200
        assert len(server.dns.txt("_acme-challenge.wild.test")) == 2  # both kept
        for authz in order.authorizations:
            acme.answer_challenge(_dns01(authz), _dns01(authz).response(key))
        deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
        done = acme.poll_and_finalize(order, deadline)
        assert done.fullchain_pem is not None
        leaf = x509.load_pem_x509_certificates(done.fullchain_pem.encode())[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sorted(san.get_values_for_type(x509.DNSName)) == ["*.wild.test", "wild.test"]

        window = {"start": "2030-01-02T03:04:05Z", "end": "2030-01-03T00:00:00+00:00"}
        pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
        assert post(url, "/set-renewal-window", {"certificate": pem, **window}) == (200, "")
        info, _ = acme.renewal_info(leaf)
        assert info.suggested_window.start == datetime.datetime(
            2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc
        )
        assert info.suggested_window.end == datetime.datetime(
            2030, 1, 3, tzinfo=datetime.timezone.utc
        )
    backwards = {"certificate": pem, "start": window["end"], "end": window["start"]}
    status, text = post(url, "/set-renewal-window", backwards)
    assert (status, text.strip()) == (
        400,
        "A renewal window must end after it starts (RFC 9773 4.2)",
    )
    unknown = {"certificate": "AAAA.AAAA", **window}
    assert post(url, "/set-renewal-window", unknown)[0] == 404
    naive = {"certificate": pem, "start": "2030-01-02T03:04:05", "end": window["end"]}
    assert "time zone" in post(url, "/set-renewal-window", naive)[1]
    assert server.core.internal_errors == []


def test_request_log_has_one_line_per_request() -> None:
    log = io.StringIO()
    with ACMETestServer(management_port=0, request_log=log) as server:
        assert requests.get(server.directory_url, verify=server.ca_bundle_path, timeout=5).ok
        requests.head(server.directory_url.replace("directory", "new-nonce"),
                      verify=server.ca_bundle_path, timeout=5)  # fmt: skip
        requests.post(server.directory_url.replace("directory", "new-order"), data=b"{}",
                      verify=server.ca_bundle_path, timeout=5)  # fmt: skip
        assert server.management_url is not None
        post(server.management_url, "/clear-txt", {"host": "a.test"})
        post(server.management_url, "/nope", {})
    assert log.getvalue().splitlines() == [
        "GET /directory 200",
        "HEAD /new-nonce 200",
        "POST /new-order 415",
        "POST /clear-txt 200",
        "POST /nope 404",
    ]


def test_companions_listen_on_loopback_only_and_stop_on_close() -> None:
    store = DNSRecordStore()
    with pytest.raises(ValueError, match="loopback"):
        DNSResponder("0.0.0.0", 0, store, lambda name: "127.0.0.1")
    with pytest.raises(ValueError, match="loopback"):
        ManagementAPI("192.0.2.1", 0, store, lambda *args: None)
    server = ACMETestServer(management_port=0, dns_port=0)
    assert server.dns_address is not None
    dns_port = server.dns_address[1]
    assert server.management_url is not None
    management_port = int(server.management_url.rsplit(":", 1)[1])
    server.close()
    for port in (dns_port, management_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
    plain = ACMETestServer()
    try:
        assert plain.management_url is None
        assert plain.dns_address is None
    finally:
        plain.close()


def test_ipv6_companions() -> None:
    with ACMETestServer(host="::1", management_port=0, dns_port=0) as server:
        assert server.management_url is not None
        assert server.management_url.startswith("http://[::1]:")
        assert post(server.management_url, "/set-txt", {"host": "a.test", "value": "v"})[0] == 200
        response = query(server, "a.test.", "TXT")
        assert txt_values(response) == ["v"]


def _issue_pems(server: ACMETestServer, *names: str) -> list[str]:
    """One certificate per name from an always-valid ``server``; the leaves as PEM."""
    key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    leaves = []
    with client.ClientNetwork(key, verify_ssl=server.ca_bundle_path) as net:
        acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
        acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        for name in names:
            cert_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            order = acme.new_order(crypto_util.make_csr(cert_key, [name]))
            for authz in order.authorizations:
                http01 = next(
                    c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)
                )
                acme.answer_challenge(http01, http01.response(key))
            deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
            done = acme.poll_and_finalize(order, deadline)
            assert done.fullchain_pem is not None
            leaf = x509.load_pem_x509_certificates(done.fullchain_pem.encode())[0]
            leaves.append(leaf.public_bytes(serialization.Encoding.PEM).decode())
    return leaves


def _window(server: ACMETestServer, pem: str) -> tuple[datetime.datetime, datetime.datetime]:
    """renewalInfo's window for ``pem``, fetched over HTTPS (no client-side expiry rule)."""
    ari_id = certificate_identifier(pem.encode())
    url = server.directory_url.replace("/directory", f"/renewal-info/{ari_id}")
    answer = requests.get(url, verify=server.ca_bundle_path, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    window = answer.json()["suggestedWindow"]
    decode = fields.RFC3339Field.default_decoder
    return decode(window["start"]), decode(window["end"])


def test_renewal_drill_moves_windows_into_the_past() -> None:
    now = [datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)]
    day = datetime.timedelta(days=1)
    with ACMETestServer(always_valid=True, management_port=0, clock=lambda: now[0]) as server:
        url = server.management_url
        assert url is not None
        first, second = _issue_pems(server, "a.test", "b.test")
        default = _window(server, second)
        assert default[0] > now[0]  # 2/3 of 90 days ahead

        assert post(url, "/renewal-drill", {"certificate": first}) == (200, "1\n")  # by PEM
        assert _window(server, first) == (now[0] - 2 * day, now[0] - day)
        assert _window(server, second) == default  # only the one named
        second_id = certificate_identifier(second.encode())
        assert post(url, "/renewal-drill", {"certificate": second_id}) == (200, "1\n")  # by id
        assert _window(server, second) == (now[0] - 2 * day, now[0] - day)

        drilled = now[0]
        now[0] += 91 * day  # both have expired: a drill for all leaves them alone
        (third,) = _issue_pems(server, "c.test")
        assert post(url, "/renewal-drill", {}) == (200, "1\n")
        assert _window(server, third) == (now[0] - 2 * day, now[0] - day)
        assert _window(server, first) == (drilled - 2 * day, drilled - day)

        unknown = post(url, "/renewal-drill", {"certificate": "AAAA.AAAA"})
        assert unknown == (404, "No certificate 'AAAA.AAAA' was issued by this server\n")
        bad = post(url, "/renewal-drill", {"certificate": 7})
        assert bad == (400, '"certificate" must be a non-empty string\n')
        garbled = post(url, "/renewal-drill", {"certificate": "-----BEGIN CERTIFICATE-----\nx"})
        assert garbled[0] == 400
        got = requests.get(url + "/renewal-drill", timeout=TIMEOUT)
        assert (got.status_code, got.headers["Allow"]) == (405, "POST")
        assert server.core.internal_errors == []
