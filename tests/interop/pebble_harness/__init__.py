"""Run Pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv on loopback for tests.

What one instance is (`start_pebble`, or the `pebble` / `pebble_factory` fixtures):

- Pebble's ACME and management listeners and challtestsrv's management API, DNS server and
  http-01 / https-01 / tls-alpn-01 responders all listen on 127.0.0.1, on ports picked at run
  time (a collision at start-up is retried with fresh ports).
- Pebble serves HTTPS with a leaf for 127.0.0.1, ::1 and localhost from a throwaway CA made here;
  ``ca_bundle`` is that CA's PEM file, for ``requests``' ``verify=``.
- Pebble runs with ``-dnsserver 127.0.0.1:<challtestsrv DNS port>``, so every name resolves
  through challtestsrv: A queries get 127.0.0.1 and AAAA none, unless mocked otherwise (Pebble's
  VA dials an AAAA answer without falling back to IPv4; ``default_ipv6="::1"`` opts in).
- Pebble's VA connects to ``http_port`` (http-01) and ``tls_port`` (tls-alpn-01): free ports
  where nothing listens, for the client's own standalone servers, unless chosen by the caller or
  ``challenge_responder="challtestsrv"`` points them at challtestsrv's responders.
- Logs go to files in the instance's directory; `PebbleInstance.stop` terminates, waits, kills.

challtestsrv 2.4's management endpoints (found by trying them; newer docs name some differently):
add-http01, del-http01, add-tlsalpn01, del-tlsalpn01, set-txt (adds a value), clear-txt, add-a,
clear-a, add-aaaa, clear-aaaa, set-cname, clear-cname, set-servfail, clear-servfail,
set-default-ipv4, set-default-ipv6, {http,dns,tlsalpn01}-request-history, clear-request-history
(also add-caa, add-redirect: not wrapped). DNS names must end with a dot; the client adds it.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "LOOPBACK",
    "SKIP_REASON",
    "STARTUP_TIMEOUT",
    "ChallTestSrvClient",
    "ChallTestSrvError",
    "PebbleInstance",
    "PebbleStartError",
    "dns_query",
    "free_ports",
    "make_tls_files",
    "pebble",
    "pebble_factory",
    "pytest_collection_modifyitems",
    "require_binaries",
    "start_pebble",
]

LOOPBACK = "127.0.0.1"
SKIP_REASON = "pebble not installed (.ci/run installs it)"
STARTUP_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0
_HTTP_TIMEOUT = 5.0
_ATTEMPTS = 3  # fresh ports after an "address already in use" at start-up
# Proxy variables would send the VA's requests for made-up names to a proxy (Go honours them).
_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


class PebbleStartError(RuntimeError):
    """Pebble or challtestsrv did not come up; the message carries their captured output."""


class ChallTestSrvError(RuntimeError):
    """challtestsrv's management API refused a request."""


def free_ports(count: int, *, udp: int = 0) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now; the first ``udp`` also for UDP.

    All are held open until every one is found, then released for the child processes.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(count * 20):
            if len(ports) == count:
                break
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind((LOOPBACK, 0))
            port: int = tcp.getsockname()[1]
            if len(ports) < udp:
                dgram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(dgram)
                try:
                    dgram.bind((LOOPBACK, port))
                except OSError:
                    continue
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    if len(ports) != count:
        raise PebbleStartError(f"found only {len(ports)} of {count} free loopback ports")
    return ports


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    signer: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """A week-long certificate for ``key``, self-signed when ``issuer`` is None."""
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """Write a throwaway CA and a leaf for 127.0.0.1, ::1 and localhost into ``directory``.

    Returns (ca.pem, cert.pem, key.pem). Pebble serves the leaf; clients trust ca.pem.
    The extensions satisfy strict X.509 verification (Python 3.13's VERIFY_X509_STRICT).
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(
        "pebble harness throwaway CA",
        ca_key,
        None,
        ca_key,
        [(x509.BasicConstraints(ca=True, path_length=0), True), (_key_usage(ca=True), True)],
    )
    san = [x509.DNSName("localhost")] + [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "::1")
    ]
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    leaf_cert = _certificate(
        "localhost",
        leaf_key,
        ca_cert.subject,
        ca_key,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(ca=False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.SubjectAlternativeName(san), False),
            (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False),
        ],
    )
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


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


def require_binaries() -> None:
    """Skip the calling test when Debian's ``pebble`` package is not installed."""
    if shutil.which("pebble") is None or shutil.which("pebble-challtestsrv") is None:
        pytest.skip(SKIP_REASON)


class _Process:
    """One child process whose stdout/stderr go to files (so no pipe can fill up)."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], workdir: Path) -> None:
        self.name = name
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        # The child keeps its own copies of the descriptors; ours close right after the fork.
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(env), cwd=workdir
            )

    def exited(self) -> bool:
        return self.popen.poll() is not None

    def logs(self) -> str:
        """The captured stderr and stdout (last 4000 characters of each)."""
        parts = []
        for label, path in (("stderr", self.stderr_path), ("stdout", self.stdout_path)):
            text = path.read_text(errors="replace")[-4000:]
            parts.append(f"--- {self.name} {label} ---\n{text}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Terminate, wait, kill if it does not go; always reaps the child."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(_STOP_TIMEOUT)
        else:
            self.popen.wait()


def _wait_until(
    check: Callable[[], bool], procs: list[_Process], what: str, timeout: float
) -> None:
    """Poll ``check`` until true; fail with the logs if a process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            if proc.exited():
                raise PebbleStartError(
                    f"{proc.name} exited with status {proc.popen.returncode} while waiting for "
                    f"{what}\n{proc.logs()}"
                )
        if check():
            return
        if time.monotonic() > deadline:
            logs = "\n".join(p.logs() for p in procs)
            raise PebbleStartError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")
        time.sleep(0.05)


def _get(url: str, verify: str | bool, timeout: float = _HTTP_TIMEOUT) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # loopback only: never a proxy or a .netrc
        return session.get(url, verify=verify, timeout=timeout)


def _answers_https(url: str, ca_bundle: str) -> bool:
    try:
        return _get(url, ca_bundle, timeout=1.0).status_code == 200
    except requests.exceptions.SSLError as exc:  # a bad certificate will not fix itself
        raise PebbleStartError(f"TLS to {url} failed: {exc}") from exc
    except requests.exceptions.RequestException:
        return False


def _answers_http(url: str) -> bool:
    try:
        _get(url, False, timeout=1.0)  # any status: the listener is up
    except requests.exceptions.RequestException:
        return False
    return True


def _answers_dns(port: int) -> bool:
    try:
        dns_query((LOOPBACK, port), "ready.pebble-harness.test", 1, timeout=0.5)
    except OSError:
        return False
    return True


class PebbleInstance:
    """A running Pebble plus its challtestsrv; see the module docstring for what listens where.

    Attributes: ``directory_url``, ``acme_url``, ``management_url``, ``ca_bundle`` (str path),
    ``http_port``, ``tls_port``, ``env`` (the PEBBLE_* variables it was started with),
    ``config`` (the "pebble" object of its JSON config), ``strict``, ``eab_keys``,
    ``challtestsrv`` (`ChallTestSrvClient`), ``dns_server`` ((host, port) of challtestsrv's DNS),
    ``workdir``, ``pebble_process`` / ``challtestsrv_process`` (`subprocess.Popen`).
    """

    def __init__(
        self,
        *,
        workdir: Path,
        ca_bundle: Path,
        acme_port: int,
        management_port: int,
        config: dict[str, Any],
        env: dict[str, str],
        strict: bool,
        challtestsrv: ChallTestSrvClient,
        pebble_proc: _Process,
        challtestsrv_proc: _Process,
    ) -> None:
        self.workdir = workdir
        self.ca_bundle = str(ca_bundle)
        self.acme_url = f"https://{LOOPBACK}:{acme_port}"
        self.directory_url = f"{self.acme_url}/dir"
        self.management_url = f"https://{LOOPBACK}:{management_port}"
        self.config = config
        self.http_port: int = config["httpPort"]
        self.tls_port: int = config["tlsPort"]
        self.eab_keys: dict[str, str] = dict(config.get("externalAccountMACKeys", {}))
        self.env = env
        self.strict = strict
        self.challtestsrv = challtestsrv
        self.dns_server = (LOOPBACK, challtestsrv.dns_port)
        self._procs = [pebble_proc, challtestsrv_proc]
        self.pebble_process = pebble_proc.popen
        self.challtestsrv_process = challtestsrv_proc.popen

    def __repr__(self) -> str:
        return f"<PebbleInstance {self.directory_url} in {self.workdir}>"

    def __enter__(self) -> PebbleInstance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def directory(self) -> dict[str, Any]:
        """GET the ACME directory (RFC 8555 section 7.1.1) as JSON."""
        response = _get(self.directory_url, self.ca_bundle)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def fetch_management(self, path: str) -> requests.Response:
        """GET ``path`` (e.g. "/roots/0") from Pebble's management interface; no status check."""
        return _get(self.management_url + path, self.ca_bundle)

    def _fetch_pem(self, kind: str, index: int) -> str:
        response = self.fetch_management(f"/{kind}/{index}")
        if response.status_code != 200:
            raise LookupError(
                f"Pebble has no /{kind}/{index} (HTTP {response.status_code}): "
                f"{response.text.strip()}"
            )
        return response.text

    def fetch_root(self, index: int = 0) -> str:
        """PEM of root ``index``: 0 is the default chain's, 1..N are PEBBLE_ALTERNATE_ROOTS'."""
        return self._fetch_pem("roots", index)

    def fetch_intermediate(self, index: int = 0) -> str:
        """PEM of the intermediate under root ``index``."""
        return self._fetch_pem("intermediates", index)

    def cert_status(self, serial: int | str) -> dict[str, Any]:
        """Pebble's JSON status ("Status", "Reason", "Certificate", ...) of a certificate it issued.

        ``serial`` is an int or its hex form without "0x".
        """
        hex_serial = format(serial, "x") if isinstance(serial, int) else serial
        response = self.fetch_management(f"/cert-status-by-serial/{hex_serial}")
        if response.status_code != 200:
            raise LookupError(f"Pebble knows no certificate with serial {hex_serial}")
        result: dict[str, Any] = response.json()
        return result

    def running(self) -> bool:
        """True while both processes are alive."""
        return not any(proc.exited() for proc in self._procs)

    def logs(self) -> str:
        """Both processes' captured output, for failure messages."""
        return "\n".join(proc.logs() for proc in self._procs)

    def stop(self) -> None:
        """Stop Pebble, then challtestsrv; safe to call twice."""
        for proc in self._procs:
            proc.stop()


def _knob(env: dict[str, str], name: str, value: int | None, minimum: int = 0) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    env[name] = str(value)


def _child_env(pebble_env: Mapping[str, str]) -> dict[str, str]:
    """Our environment without inherited PEBBLE_* or proxy variables, plus ``pebble_env``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PEBBLE_") and key.lower() not in _PROXY_VARS
    }
    env.update(pebble_env)
    return env


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything `start_pebble` decided before any port is picked."""

    workdir: Path
    env: dict[str, str]
    config: dict[str, Any]  # without the listen addresses and the VA ports
    http_port: int | None
    tls_port: int | None
    use_challtestsrv: bool
    strict: bool
    default_ipv6: str
    timeout: float


def start_pebble(
    workdir: Path,
    *,
    http_port: int | None = None,
    tls_port: int | None = None,
    challenge_responder: Literal["client", "challtestsrv"] = "client",
    va_nosleep: bool = True,
    va_always_valid: bool = False,
    nonce_reject: int | None = None,
    alternate_roots: int | None = None,
    chain_length: int | None = None,
    authz_reuse: int | None = None,
    va_sleeptime: int | None = None,
    eab_required: bool = False,
    eab_keys: Mapping[str, str] | None = None,
    strict: bool = False,
    default_ipv6: str = "",
    extra_env: Mapping[str, str] | None = None,
    extra_config: Mapping[str, Any] | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> PebbleInstance:
    """Start challtestsrv and Pebble in ``workdir``; return once both answer.

    ``http_port`` / ``tls_port``: where Pebble's VA connects for http-01 / tls-alpn-01 (default:
    a free port). ``challenge_responder="challtestsrv"`` sets both to challtestsrv's responders
    (then use ``challtestsrv.add_http01`` etc.). The PEBBLE_* knobs are left unset when None, so
    Pebble's own defaults apply (5 % nonces rejected, 50 % authz reuse); ``extra_env`` adds more.
    ``eab_keys`` maps an EAB kid to its base64url HMAC key. ``default_ipv6`` is challtestsrv's
    AAAA answer: none by default, because Pebble's VA dials an AAAA address without falling back
    to IPv4, and the responders listen on 127.0.0.1 only. Raises `PebbleStartError`, with the
    captured logs, when either process exits early or does not answer within the timeout.
    """
    if challenge_responder not in ("client", "challtestsrv"):
        raise ValueError(
            f"challenge_responder must be client or challtestsrv: {challenge_responder!r}"
        )
    if challenge_responder == "challtestsrv" and (http_port is not None or tls_port is not None):
        raise ValueError("http_port/tls_port cannot be set with challenge_responder='challtestsrv'")
    for name, port in (("http_port", http_port), ("tls_port", tls_port)):
        if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
            raise ValueError(f"{name} must be a TCP port number, got {port!r}")
    env = {"PEBBLE_VA_NOSLEEP": "1"} if va_nosleep else {}
    if va_always_valid:
        env["PEBBLE_VA_ALWAYS_VALID"] = "1"
    _knob(env, "PEBBLE_WFE_NONCEREJECT", nonce_reject)
    _knob(env, "PEBBLE_ALTERNATE_ROOTS", alternate_roots)
    _knob(env, "PEBBLE_CHAIN_LENGTH", chain_length, minimum=1)
    _knob(env, "PEBBLE_AUTHZREUSE", authz_reuse)
    _knob(env, "PEBBLE_VA_SLEEPTIME", va_sleeptime, minimum=1)
    env.update(extra_env or {})

    workdir.mkdir(parents=True, exist_ok=True)
    _, cert_path, key_path = make_tls_files(workdir)
    config: dict[str, Any] = {
        "certificate": str(cert_path),
        "privateKey": str(key_path),
        "ocspResponderURL": "",
        "externalAccountBindingRequired": eab_required,
    }
    if eab_keys:
        config["externalAccountMACKeys"] = dict(eab_keys)
    config.update(extra_config or {})
    plan = _Plan(
        workdir, env, config, http_port, tls_port, challenge_responder == "challtestsrv", strict,
        default_ipv6, startup_timeout,
    )  # fmt: skip
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _start_once(plan)
        except PebbleStartError as exc:
            if attempt == _ATTEMPTS or "address already in use" not in str(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _start_once(plan: _Plan) -> PebbleInstance:
    dns, mgmt, http01, https01, tlsalpn01, acme, pebble_mgmt, va_http, va_tls = free_ports(9, udp=1)
    if plan.use_challtestsrv:
        va_http, va_tls = http01, tlsalpn01
    config = {
        "listenAddress": f"{LOOPBACK}:{acme}",
        "managementListenAddress": f"{LOOPBACK}:{pebble_mgmt}",
        "httpPort": va_http if plan.http_port is None else plan.http_port,
        "tlsPort": va_tls if plan.tls_port is None else plan.tls_port,
        **plan.config,
    }
    config_path = plan.workdir / "pebble-config.json"
    config_path.write_text(json.dumps({"pebble": config}, indent=2))
    cts_argv = [
        "pebble-challtestsrv",
        f"-management={LOOPBACK}:{mgmt}",
        f"-dns01={LOOPBACK}:{dns}",
        f"-http01={LOOPBACK}:{http01}",
        f"-https01={LOOPBACK}:{https01}",
        f"-tlsalpn01={LOOPBACK}:{tlsalpn01}",
        f"-defaultIPv4={LOOPBACK}",
        f"-defaultIPv6={plan.default_ipv6}",
    ]
    pebble_argv = [
        "pebble",
        f"-config={config_path}",
        f"-dnsserver={LOOPBACK}:{dns}",
        f"-strict={'true' if plan.strict else 'false'}",
    ]
    client = ChallTestSrvClient(
        f"http://{LOOPBACK}:{mgmt}",
        dns_port=dns,
        http01_port=http01,
        https01_port=https01,
        tlsalpn01_port=tlsalpn01,
    )
    child_env = _child_env(plan.env)
    procs: list[_Process] = []
    try:
        procs.append(_Process("challtestsrv", cts_argv, child_env, plan.workdir))
        _wait_until(
            lambda: _answers_http(client.management_url) and _answers_dns(dns),
            procs,
            "challtestsrv",
            plan.timeout,
        )
        procs.insert(0, _Process("pebble", pebble_argv, child_env, plan.workdir))
        instance = PebbleInstance(
            workdir=plan.workdir,
            ca_bundle=plan.workdir / "ca.pem",
            acme_port=acme,
            management_port=pebble_mgmt,
            config=config,
            env=plan.env,
            strict=plan.strict,
            challtestsrv=client,
            pebble_proc=procs[0],
            challtestsrv_proc=procs[1],
        )
        _wait_until(
            lambda: (
                _answers_https(instance.directory_url, instance.ca_bundle)
                and _answers_https(instance.management_url + "/roots/0", instance.ca_bundle)
            ),
            procs,
            "Pebble's directory and management interface",
            plan.timeout,
        )
        return instance
    except BaseException:
        for proc in procs:
            proc.stop()
        raise


# --- pytest wiring (conftest.py re-exports these) ---

_FIXTURE_NAMES = frozenset({"pebble", "pebble_factory"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a Pebble fixture ``pebble``, so ``-m "not pebble"`` works."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _FIXTURE_NAMES and item.get_closest_marker("pebble") is None:
            item.add_marker(pytest.mark.pebble)


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleInstance]:
    """The session's default Pebble (`start_pebble` defaults); clear challtestsrv mocks you add."""
    require_binaries()
    with start_pebble(tmp_path_factory.mktemp("pebble")) as instance:
        yield instance


@pytest.fixture
def pebble_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., PebbleInstance]]:
    """``pebble_factory(**start_pebble_options)`` starts a custom instance, stopped at teardown."""
    require_binaries()
    started: list[PebbleInstance] = []

    def make(**options: Any) -> PebbleInstance:
        instance = start_pebble(tmp_path_factory.mktemp("pebble"), **options)
        started.append(instance)
        return instance

    yield make
    for instance in reversed(started):
        instance.stop()
