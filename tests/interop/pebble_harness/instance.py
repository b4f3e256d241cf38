"""Starting, checking and stopping one Pebble + challtestsrv pair."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest
import requests

from interop.pebble_harness.challtestsrv import ChallTestSrvClient, dns_query
from interop.pebble_harness.errors import PebbleStartError
from interop.pebble_harness.ports import LOOPBACK, free_ports
from interop.pebble_harness.tls_files import make_tls_files

SKIP_REASON = "pebble not installed (.ci/run installs it)"
STARTUP_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0
_HTTP_TIMEOUT = 5.0
_ATTEMPTS = 3  # fresh ports after an "address already in use" at start-up
# Proxy variables would send the VA's requests for made-up names to a proxy (Go honours them).
_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


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
