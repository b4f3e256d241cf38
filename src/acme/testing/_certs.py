"""Finalization, certificates, revocation and renewal information of the test server.

RFC 8555 sections 7.4 (finalize, CSR checks), 7.4.2 (download, alternate chains), 7.6
(revocation) and RFC 9773 section 4 (renewalInfo).
"""

from __future__ import annotations

from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from acme._core import states
from acme._core.http import PEM_CHAIN_CONTENT_TYPE
from acme._wire.identifiers import is_ip
from acme._wire.order import REVOCATION_REASONS
from acme.fields import format_rfc3339
from acme.testing import _lifecycle, _orders, _renewal
from acme.testing._jose import b64decode_strict
from acme.testing._model import Account, IssuedCertificate, Order, SignedRequest, move
from acme.testing._problems import Problem, Reply
from acme.testing._state import ServerCore

__all__ = ["certificate", "finalize", "renewal_info", "revoke"]

_MIN_RSA_BITS = 2048
_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
_ALLOWED_REASONS = frozenset(REVOCATION_REASONS.values())  # RFC 8555 section 7.6


def _spki(key: Any) -> bytes:
    return cast(
        bytes,
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def _csr_identifiers(csr: x509.CertificateSigningRequest) -> set[tuple[str, str]]:
    """The identifiers a CSR asks for: SAN DNS names and IPs, plus any common name."""
    found: set[tuple[str, str]] = set()
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    for name in san:
        if isinstance(name, x509.DNSName):
            found.add(("dns", name.value))
        elif isinstance(name, x509.IPAddress):
            found.add(("ip", str(name.value)))
        else:
            raise Problem("badCSR", f"The CSR asks for an unsupported name {name!r:.100}")
    for attribute in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = str(attribute.value)
        kind = "ip" if is_ip(value) else "dns"
        found.add((kind, value))
    return found


def _check_csr(record: Order, account: Account, csr_b64: Any) -> x509.CertificateSigningRequest:
    """RFC 8555 section 7.4: a valid CSR for exactly the order's identifiers."""
    der = b64decode_strict(csr_b64, '"csr"') if csr_b64 is not None else None
    if not der:
        raise Problem("malformed", 'finalize needs a "csr" (base64url DER)')
    try:
        csr = x509.load_der_x509_csr(der)
    except ValueError as error:
        raise Problem("badCSR", f"The CSR does not parse: {error}") from None
    if not csr.is_signature_valid:
        raise Problem("badCSR", "The CSR signature does not verify")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise Problem("badCSR", f"RSA keys must have at least {_MIN_RSA_BITS} bits")
    elif not (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _CURVES):
        raise Problem("badCSR", "The CSR key must be RSA or EC (P-256, P-384, P-521)")
    if _spki(key) == _spki(account.key.key):  # section 11.1: never certify the account key
        raise Problem("badCSR", "The CSR key must differ from the account key")
    wanted = set(record.identifiers)
    asked = _csr_identifiers(csr)
    if asked != wanted:
        missing = ", ".join(f"{typ} {value!r}" for typ, value in sorted(wanted - asked))
        extra = ", ".join(f"{typ} {value!r}" for typ, value in sorted(asked - wanted))
        raise Problem(
            "badCSR",
            "The CSR names differ from the order's identifiers: "
            f"missing [{missing}], extra [{extra}]",
        )
    return csr


def finalize(core: ServerCore, signed: SignedRequest) -> Reply:
    """POST a CSR to an order's finalize URL (RFC 8555 section 7.4)."""
    account = signed.account_required
    record: Order = core.owned(core.orders, signed.params[0], account, "order")
    payload = signed.json_object()
    _lifecycle.refresh_order(core, record)
    if record.status != "ready":
        raise Problem("orderNotReady", f"The order is {record.status}, not ready", 403)
    if record.profile is not None and record.profile not in core.profiles:
        raise Problem("invalidProfile", f"Profile {record.profile!r} is no longer offered")
    csr = _check_csr(record, account, payload.get("csr"))  # badCSR leaves the order ready
    move(states.ORDER, record, "processing")
    record.csr = csr
    record.polls_left = core.processing_polls
    if record.polls_left <= 0:
        _lifecycle.issue(core, record)
    return _lifecycle.order_reply(core, record, location=record.url)


def certificate(core: ServerCore, signed: SignedRequest) -> Reply:
    """Download a chain; ``Link: rel="alternate"`` names the others (section 7.4.2)."""
    record: IssuedCertificate = core.owned(
        core.certificates, signed.params[0], signed.account_required, "certificate"
    )
    signed.require_empty()
    index = int(signed.params[1]) if len(signed.params) > 1 else 0
    if index >= len(record.chains):
        raise Problem("malformed", "No such alternate chain", 404)
    urls = [record.url] + [f"{record.url}/{n}" for n in range(1, len(record.chains))]
    headers = [("Link", f'<{url}>;rel="alternate"') for n, url in enumerate(urls) if n != index]
    return Reply(200, record.chains[index].encode("ascii"), PEM_CHAIN_CONTENT_TYPE, headers)


def revoke(core: ServerCore, signed: SignedRequest) -> Reply:
    """revokeCert, by the issuing account (or one authorized for every name) or by the
    certificate's own key (RFC 8555 section 7.6)."""
    payload = signed.json_object()
    der = b64decode_strict(payload.get("certificate"), '"certificate"')
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as error:
        raise Problem("malformed", f'"certificate" does not parse: {error}') from None
    record = next(
        (
            c
            for c in core.certificates.values()
            if c.certificate.serial_number == cert.serial_number
        ),
        None,
    )
    if record is None or record.certificate != cert:
        raise Problem("malformed", "This server did not issue that certificate", 404)
    reason = payload.get("reason")
    if reason is not None and (
        isinstance(reason, bool) or not isinstance(reason, int) or reason not in _ALLOWED_REASONS
    ):
        raise Problem(
            "badRevocationReason",
            f"Reason {str(reason)[:20]} is not allowed; use one of {sorted(_ALLOWED_REASONS)}",
        )
    if signed.account is None:
        if _spki(cert.public_key()) != _spki(signed.key.key):
            raise Problem("unauthorized", "The JWS key is not the certificate's key", 403)
    elif record.account_id != signed.account.id and not all(
        _orders.find_valid_authz(core, signed.account.id, typ, value)
        for typ, value in record.identifiers
    ):
        raise Problem("unauthorized", "This account may not revoke that certificate", 403)
    if record.revoked:
        raise Problem("alreadyRevoked", "The certificate is already revoked")
    record.revoked = True
    record.revoked_reason = reason
    return Reply(200)


def renewal_info(core: ServerCore, cert_id: str) -> Reply:
    """RFC 9773 section 4: the suggested renewal window, with ``Retry-After``."""
    aki, dot, serial = cert_id.partition(".")
    if not dot:
        raise Problem("malformed", "A renewalInfo path is base64url(AKI) '.' base64url(serial)")
    b64decode_strict(aki, "The AKI part")
    b64decode_strict(serial, "The serial part")
    record = next((c for c in core.certificates.values() if c.ari_id == cert_id), None)
    if record is None:
        raise Problem("malformed", f"No certificate {cert_id[:100]!r} was issued here", 404)
    start, end = _renewal.suggested_window(record, core.renewal_window, core.now())
    window = {"start": format_rfc3339(start), "end": format_rfc3339(end)}
    return Reply.json({"suggestedWindow": window}, retry_after=core.renewal_retry_after)
