"""Certificate download and checks, revocation, renewal information and the orders list.

Rules:
- A downloaded chain must hold only CERTIFICATE blocks, and its leaf must carry the CSR's
  public key and every name it asked for (11.4). Served as ``application/pem-certificate-chain``
  (section 9.1) or, as acme 5.x accepts, under another Content-Type if the body is nothing but
  PEM certificate blocks (some CAs and proxies label chains ``application/x-pem-file``...).
- Certificates are fetched with a plain POST-as-GET, no ``Accept`` (PEM is the default
  format, section 7.4.2), as acme 5.x asks for them.
- A certificate that has expired never has its renewal information requested (RFC 9773
  section 4.3): `renewal_info` raises `acme.errors.ClientError` saying to renew now.
- A failed alternate chain is logged and skipped: it never costs the primary chain.
- Renewal information is an unauthenticated GET (RFC 9773 section 4.2); its Retry-After is
  clamped to [1 minute, 1 day], and errors ask for a retry after 6 hours (section 4.3).
"""

from __future__ import annotations

import datetime
import logging
import re
import urllib.parse
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme import errors, messages
from acme._core.context import Context, get, post
from acme._core.http import PEM_CHAIN_CONTENT_TYPE, HTTPResponse, NetFlow
from acme._core.order import identifiers_from_csr, identifiers_of
from acme._core.responses import parse, resource_url
from acme._wire import renewal_id as _ari

__all__ = [
    "ARI_DEFAULT_RETRY",
    "check_chain",
    "download_certificate",
    "is_expired",
    "list_orders",
    "renewal_info",
    "revoke",
]

logger = logging.getLogger(__name__)

ARI_DEFAULT_RETRY = 6 * 3600.0  # RFC 9773 section 4.3.3: six hours after a long-term error
ARI_MIN_RETRY, ARI_MAX_RETRY = 60.0, 86400.0  # RFC 9773 section 4.3.2 "reasonable limits"
_MAX_ORDER_PAGES = 10_000
_PEM_BLOCK = re.compile(rb"-----BEGIN ([^-\r\n]{1,64})-----")
# A body that is PEM certificate blocks and nothing else (RFC 7468 section 2 framing).
_BARE_CHAIN = re.compile(
    rb"\s*(?:-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*)+"
)


def check_chain(response: HTTPResponse, csr_pem: bytes | None) -> str:
    """Return the PEM chain in ``response`` after the RFC 8555 section 11.4 checks."""
    if response.content_type != PEM_CHAIN_CONTENT_TYPE:
        if not _BARE_CHAIN.fullmatch(response.content):
            raise errors.ClientError(
                f"Certificate at {response.url} has Content-Type {response.content_type!r}, "
                f"expected {PEM_CHAIN_CONTENT_TYPE}, and is not a bare PEM chain"
            )
        logger.debug(
            "Accepting the PEM chain at %s served as %r", response.url, response.content_type
        )
    labels = set(_PEM_BLOCK.findall(response.content))
    if labels != {b"CERTIFICATE"}:
        found = ", ".join(sorted(label.decode("ascii", "replace") for label in labels)) or "none"
        raise errors.ClientError(
            f"Certificate chain at {response.url} must hold only CERTIFICATE blocks; found {found}"
        )
    try:
        chain = x509.load_pem_x509_certificates(response.content)
    except ValueError as error:
        raise errors.ClientError(
            f"Unreadable certificate chain at {response.url}: {error}"
        ) from error
    if csr_pem is not None:
        _check_leaf_matches_csr(chain[0], csr_pem, response.url)
    return response.text


def _check_leaf_matches_csr(leaf: x509.Certificate, csr_pem: bytes, url: str) -> None:
    csr = x509.load_pem_x509_csr(csr_pem)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*spki) != csr.public_key().public_bytes(*spki):
        raise errors.ClientError(f"Certificate at {url} does not carry the CSR's public key")
    wanted = {(i.typ.name, i.value) for i in identifiers_from_csr(csr_pem)}
    got = {(i.typ.name, i.value) for i in identifiers_of(leaf.subject, leaf.extensions)}
    if not wanted <= got:
        missing = ", ".join(sorted(value for _, value in wanted - got))
        raise errors.ClientError(f"Certificate at {url} lacks requested names: {missing}")


def download_certificate(
    ctx: Context, orderr: messages.OrderResource, fetch_alternative_chains: bool = False
) -> NetFlow[messages.OrderResource]:
    """Fetch the order's certificate chain (section 7.4.2) and, if asked, its alternates."""
    url = orderr.body.certificate
    if not url:
        raise errors.ClientError("The order is valid but names no certificate URL")
    response = yield from post(ctx, url, None)
    fullchain = check_chain(response, orderr.csr_pem)
    alternatives: list[str] = []
    if fetch_alternative_chains:
        for link in response.links.get("alternate", []):
            alt_url = urllib.parse.urljoin(response.url, link)
            try:
                alt = yield from post(ctx, alt_url, None)
                alternatives.append(check_chain(alt, orderr.csr_pem))
            except errors.Error as error:  # messages.Error (a problem) is one too
                logger.warning("Skipping alternate chain %s: %s", alt_url, error)
    return orderr.update(fullchain_pem=fullchain, alternative_fullchains_pem=alternatives)


def revoke(ctx: Context, cert: x509.Certificate, rsn: int) -> NetFlow[None]:
    """Revoke ``cert`` (section 7.6), signed by the account, or by the certificate's key
    (``jwk`` in the header) when the network object has no account. Success is 200 OK."""
    payload = messages.Revocation(certificate=cert, reason=rsn)
    response = yield from post(ctx, resource_url(ctx.directory, "revokeCert"), payload)
    if response.status_code != 200:
        raise errors.ClientError(
            f"Revocation answered {response.status_code}; success must be 200 OK"
        )


def is_expired(ctx: Context, cert: x509.Certificate) -> bool:
    """Whether ``cert`` is past its notAfter (RFC 5280 section 4.1.2.5: inclusive)."""
    return cert.not_valid_after_utc < ctx.now()


def renewal_info(
    ctx: Context, cert: x509.Certificate
) -> NetFlow[tuple[messages.RenewalInfo, float]]:
    """Fetch RFC 9773 renewal information; return it with seconds until the next check.

    :raises acme.errors.ARIError: carrying when to ask again, on any failure.
    :raises acme.errors.ClientError: for an expired certificate, without asking the server
        (RFC 9773 section 4.3): it is due for renewal now.
    """
    if is_expired(ctx, cert):
        raise errors.ClientError(
            f"The certificate expired at {cert.not_valid_after_utc.isoformat()}: renew it now; "
            "renewal information must not be requested for it (RFC 9773 section 4.3)"
        )
    try:
        base = resource_url(ctx.directory, "renewalInfo")
    except errors.ClientError as error:
        raise _ari_error(ctx, str(error)) from None
    url = _ari.renewal_info_url(base, cert)
    try:
        response = yield from get(ctx, url)
        info = parse(messages.RenewalInfo, response)
    except Exception as error:  # any failure, a network object's own errors too (4.3.3)
        message = f"Failed to fetch renewal information from {url}: {error}"
        raise _ari_error(ctx, message) from error
    retry = ctx.retry_after(response)
    if retry is None:
        retry = ARI_DEFAULT_RETRY
    return info, min(ARI_MAX_RETRY, max(ARI_MIN_RETRY, retry))


def _ari_error(ctx: Context, message: str) -> errors.ARIError:
    when = ctx.now() + datetime.timedelta(seconds=ARI_DEFAULT_RETRY)
    return errors.ARIError(message, when)


def list_orders(ctx: Context, url: str) -> NetFlow[list[str]]:
    """Every order URL of the account's orders list, across ``Link: rel="next"`` pages
    (section 7.1.2.1); a page seen twice ends the walk instead of looping."""
    seen: set[str] = set()
    orders: list[str] = []
    next_url: str | None = url
    while next_url is not None and next_url not in seen and len(seen) < _MAX_ORDER_PAGES:
        seen.add(next_url)
        response = yield from post(ctx, next_url, None)
        orders.extend(_order_urls(response))
        links = response.links.get("next")
        next_url = urllib.parse.urljoin(response.url, links[0]) if links else None
    return orders


def _order_urls(response: HTTPResponse) -> list[str]:
    try:
        jobj: Any = response.json()
    except ValueError as error:
        raise errors.ClientError(f"Orders list at {response.url} is not JSON: {error}") from None
    urls = jobj.get("orders") if isinstance(jobj, dict) else None
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise errors.ClientError(f"Orders list at {response.url} has no list of order URLs")
    return urls
