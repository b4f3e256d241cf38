"""Certificate and CSR helpers for ACME clients, on ``cryptography``.

`make_csr` builds the CSR an order is finalized with (RFC 8555 section 7.4): DNS names go in
dNSName entries (as A-labels: ACME has no Unicode identifiers, section 7.1.4) and IP addresses
in iPAddress entries (RFC 8738 section 3.1). The identifiers of an existing certificate or CSR
come back out with `get_names_from_subject_and_extensions` / `get_identifiers_from_x509`.

Legacy pyOpenSSL inputs (``PKey``, ``X509``) are accepted wherever acme 1.x took them and are
converted at the boundary; results are always ``cryptography`` objects or bytes. Bad input
raises an error that is both an `acme.errors.Error` and a ``ValueError`` (what 5.x raised).
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID, NameOID

from acme import errors
from acme._wire import coercion, identifiers
from acme._wire import x509 as _x509
from acme._wire.timestamps import utcnow

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = [
    "Format",
    "SSLSocket",  # noqa: F822 - served lazily by __getattr__ (network code)
    "dump_cryptography_chain",
    "dump_pyopenssl_chain",
    "gen_ss_cert",
    "get_identifiers_from_x509",
    "get_names_from_subject_and_extensions",
    "make_csr",
    "make_self_signed_cert",
    "probe_sni",
]

# Default lifetime of a self-signed certificate: one week, as in acme 1.x and 5.x.
_DEFAULT_VALIDITY = datetime.timedelta(days=7)


class _Format(enum.IntEnum):
    """Certificate serialization format (values are pyOpenSSL's ``FILETYPE_*``)."""

    PEM = 1  # OpenSSL.crypto.FILETYPE_PEM
    DER = 2  # OpenSSL.crypto.FILETYPE_ASN1

    def to_cryptography_encoding(self) -> serialization.Encoding:
        """The matching ``cryptography`` encoding."""
        return serialization.Encoding.PEM if self is _Format.PEM else serialization.Encoding.DER


_Format.__name__ = _Format.__qualname__ = "Format"


if TYPE_CHECKING:  # pragma: no cover
    Format = _Format
else:
    # Hidden from type checkers, which would otherwise type every unknown attribute as Any.

    def __getattr__(name: str) -> Any:
        # acme 5.x deprecated ``Format``: warn on access, never on import (API.md).
        if name == "Format":
            warnings.warn(
                "acme.crypto_util.Format is deprecated: pass a "
                "cryptography.hazmat.primitives.serialization.Encoding instead",
                DeprecationWarning,
                stacklevel=2,
            )
            return _Format
        if name == "SSLSocket":  # acme 1.x server socket, now on the standard library
            from acme._net import probes as _probes

            return _probes.SSLSocket
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _as_list(values: Iterable[Any] | None, what: str) -> list[Any]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)):
        raise errors.InvalidArgument(f"{what} must be a list, not a single {type(values).__name__}")
    try:
        return list(values)
    except TypeError:
        raise errors.InvalidArgument(
            f"{what} must be a list, got {type(values).__name__}"
        ) from None


def _general_names(
    domains: Iterable[str] | None, ips: Iterable[Any] | None
) -> list[x509.GeneralName]:
    """SAN entries for ``domains`` then ``ips``, without duplicates, in order.

    A domain that is an IP literal becomes an iPAddress entry (RFC 8738 section 3.1).
    """
    entries: list[x509.GeneralName] = []
    for domain in _as_list(domains, "domains"):
        if not isinstance(domain, str):
            raise errors.InvalidArgument(f"Not a domain name: {domain!r:.100}")
        entries.append(_x509.general_name(domain))
    for ip in _as_list(ips, "ipaddrs"):
        entries.append(x509.IPAddress(identifiers.ip_address(ip)))
    return list(dict.fromkeys(entries))


def make_csr(
    private_key_pem: Any,
    domains: Iterable[str] | None = None,
    must_staple: bool = False,
    ipaddrs: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address | str] | None = None,
) -> bytes:
    """A PEM CSR for ``domains`` and ``ipaddrs``, signed with ``private_key_pem``.

    The subject is empty and every identifier is in the subjectAltName extension, which is
    what RFC 8555 section 7.4 checks against the order. Unicode names are converted to
    A-labels.

    :param private_key_pem: PEM (or DER) private key bytes; a ``cryptography`` private key or
        a pyOpenSSL ``PKey`` are accepted too. RSA, ECDSA (P-256, P-384, P-521), Ed25519.
    :param must_staple: add the TLS Feature extension with status_request (RFC 7633).
    :param ipaddrs: ``ipaddress`` objects or their text form.
    :raises ValueError: (also an `acme.errors.Error`) when there is no identifier at all,
        or a key, name or address is invalid.
    """
    key = coercion.coerce_private_key(private_key_pem)
    names = _general_names(domains, ipaddrs)
    if not names:
        raise errors.InvalidArgument("make_csr needs at least one of domains or ipaddrs")
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    if must_staple:
        # RFC 7633 section 4: id-pe-tlsfeature containing status_request (5).
        builder = builder.add_extension(
            x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
        )
    csr = builder.sign(key, _x509.signature_hash(key))
    return csr.public_bytes(serialization.Encoding.PEM)


def _check_name_and_extensions(subject: Any, exts: Any) -> x509.Extensions:
    if not isinstance(subject, x509.Name):
        raise errors.InvalidArgument(
            f"subject must be a cryptography x509.Name, got {subject!r:.100}"
        )
    if isinstance(exts, x509.Extensions):
        return exts
    items = _as_list(exts, "exts")
    if not all(isinstance(ext, x509.Extension) for ext in items):
        raise errors.InvalidArgument("exts must be cryptography x509.Extensions")
    return x509.Extensions(items)


def _common_names(subject: x509.Name) -> list[str]:
    return [str(attr.value) for attr in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _san(exts: x509.Extensions) -> x509.SubjectAlternativeName | None:
    try:
        return exts.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def get_names_from_subject_and_extensions(subject: x509.Name, exts: x509.Extensions) -> list[str]:
    """The DNS names of a certificate or CSR: the first CN if any, then the dNSName SANs.

    Duplicates are dropped and the order is kept. IP addresses are not included (see
    `get_identifiers_from_x509`).
    """
    extensions = _check_name_and_extensions(subject, exts)
    names = _common_names(subject)[:1]
    san = _san(extensions)
    if san is not None:
        names.extend(san.get_values_for_type(x509.DNSName))
    return list(dict.fromkeys(names))


def get_identifiers_from_x509(
    subject: x509.Name, exts: x509.Extensions
) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    """The names a certificate or CSR is for, as acme 5.x returns them: ``(dns_names, ips)``.

    DNS names: the first CN unless it is an IP literal, then the dNSName SANs (lowercase).
    IP addresses (RFC 8738): the CN if it is an IP literal, then the iPAddress SANs, as
    ``ipaddress`` objects. No duplicates; order kept.
    """
    extensions = _check_name_and_extensions(subject, exts)
    dns_names: list[str] = []
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for cn in _common_names(subject)[:1]:
        ip = identifiers.parse_ip(cn)
        if ip is not None:
            ips.append(ip)
        else:
            dns_names.append(cn.lower())
    san = _san(extensions)
    if san is not None:
        dns_names.extend(name.lower() for name in san.get_values_for_type(x509.DNSName))
        ips.extend(
            ip
            for ip in san.get_values_for_type(x509.IPAddress)
            if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address))
        )
    return list(dict.fromkeys(dns_names)), list(dict.fromkeys(ips))


def _not_before(value: Any) -> datetime.datetime:
    """An aware start time: a datetime (naive means UTC, as in 5.x) or 1.x seconds from now."""
    if value is None:
        return utcnow()
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return utcnow() + datetime.timedelta(seconds=value)
    raise errors.InvalidArgument(f"not_before must be a datetime, got {value!r:.100}")


def _validity(value: Any) -> datetime.timedelta:
    """A lifetime: a timedelta (5.x) or a number of seconds (1.x)."""
    if value is None:
        return _DEFAULT_VALIDITY
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = datetime.timedelta(seconds=value)
    if isinstance(value, datetime.timedelta) and value > datetime.timedelta(0):
        return value
    raise errors.InvalidArgument(f"validity must be a positive timedelta, got {value!r:.100}")


def make_self_signed_cert(
    private_key: Any,
    domains: list[str] | None = None,
    not_before: datetime.datetime | None = None,
    validity: datetime.timedelta | None = None,
    force_san: bool = True,
    extensions: list[x509.Extension[x509.ExtensionType]] | None = None,
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None,
) -> x509.Certificate:
    """Deprecated (as in acme 5.1 and later): a self-signed certificate for ``domains`` and
    ``ips``; build one with ``cryptography.x509.CertificateBuilder`` instead.

    The first name is the subject CN (if it fits in 64 characters). A subjectAltName
    extension lists every name; with a single domain it is left out unless ``force_san``.

    :param private_key: ``cryptography`` private key (pyOpenSSL ``PKey`` or PEM accepted).
    :param not_before: start of validity (naive means UTC); now when None.
    :param validity: lifetime; one week when None.
    :param extensions: more ``x509.Extension`` objects; one with the OID of a default
        extension (subjectAltName) replaces it.
    """
    # Warned before the arguments are checked, so a call that fails warns too (as in 5.x).
    warnings.warn(
        "acme.crypto_util.make_self_signed_cert is deprecated and will be removed: build the "
        "certificate with cryptography.x509.CertificateBuilder",
        DeprecationWarning,
        stacklevel=2,
    )
    return _self_signed_cert(private_key, domains, not_before, validity, force_san, extensions, ips)


def _self_signed_cert(
    private_key: Any,
    domains: list[str] | None,
    not_before: datetime.datetime | None,
    validity: datetime.timedelta | None,
    force_san: bool,
    extensions: list[x509.Extension[x509.ExtensionType]] | None,
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None,
) -> x509.Certificate:
    """`make_self_signed_cert` without its deprecation warning (also behind `gen_ss_cert`)."""
    key = coercion.coerce_private_key(private_key)
    names = _general_names(domains, ips)
    if not names:
        raise errors.InvalidArgument("make_self_signed_cert needs at least one of domains or ips")
    extra = _as_list(extensions, "extensions")
    if not all(isinstance(ext, x509.Extension) for ext in extra):
        raise errors.InvalidArgument("extensions must be cryptography x509.Extension objects")
    first = str(names[0].value)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)] if len(first) <= 64 else [])
    start = _not_before(not_before)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _validity(validity))
    )
    extra_oids = {ext.oid for ext in extra}
    needs_san = force_san or len(names) > 1 or not len(name)
    needs_san = needs_san or any(isinstance(entry, x509.IPAddress) for entry in names)
    if needs_san and ExtensionOID.SUBJECT_ALTERNATIVE_NAME not in extra_oids:
        # RFC 5280 section 4.2.1.6: with an empty subject the SAN must be critical.
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=not len(name))
    for ext in extra:
        try:
            builder = builder.add_extension(ext.value, critical=ext.critical)
        except ValueError as error:
            raise errors.InvalidArgument(
                f"Cannot add extension {ext.oid.dotted_string}: {error}"
            ) from None
    return builder.sign(key, _x509.signature_hash(key))


def _encoding(value: Any) -> serialization.Encoding:
    if value in (serialization.Encoding.PEM, serialization.Encoding.DER):
        return value  # type: ignore[no-any-return]
    if isinstance(value, int) and not isinstance(value, bool):
        try:  # a Format or pyOpenSSL's FILETYPE_PEM / FILETYPE_ASN1
            return _Format(value).to_cryptography_encoding()
        except ValueError:
            pass
    raise errors.InvalidArgument(f"encoding must be PEM or DER, got {value!r:.100}")


def dump_cryptography_chain(
    chain: list[x509.Certificate],
    encoding: serialization.Encoding = serialization.Encoding.PEM,
) -> bytes:
    """The certificates of ``chain``, serialized one after another (PEM or DER)."""
    target = _encoding(encoding)
    certs = [coercion.coerce_certificate(cert) for cert in _as_list(chain, "chain")]
    return b"".join(cert.public_bytes(target) for cert in certs)


def gen_ss_cert(
    key: Any,
    domains: list[str] | None = None,
    not_before: int | datetime.datetime | None = None,
    validity: int | datetime.timedelta = 7 * 24 * 60 * 60,
    force_san: bool = True,
    extensions: list[x509.Extension[x509.ExtensionType]] | None = None,
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None,
) -> x509.Certificate:
    """Deprecated (acme 1.x): build the certificate with ``cryptography.x509``.

    ``not_before`` may be seconds from now and ``validity`` seconds, as in 1.x; ``key`` may be
    a pyOpenSSL ``PKey``. Returns a ``cryptography`` certificate.
    """
    warnings.warn(
        "acme.crypto_util.gen_ss_cert is deprecated: build the certificate with "
        "cryptography.x509.CertificateBuilder",
        DeprecationWarning,
        stacklevel=2,
    )
    return _self_signed_cert(
        key, domains, _not_before(not_before), _validity(validity), force_san, extensions, ips
    )


def dump_pyopenssl_chain(chain: list[Any], filetype: int = 1) -> bytes:
    """Deprecated (acme 1.x): use `dump_cryptography_chain`.

    ``chain`` may hold pyOpenSSL ``X509`` or ``cryptography`` certificates; ``filetype`` is
    pyOpenSSL's ``FILETYPE_PEM`` (1, default) or ``FILETYPE_ASN1`` (2).
    """
    warnings.warn(
        "acme.crypto_util.dump_pyopenssl_chain is deprecated: use dump_cryptography_chain",
        DeprecationWarning,
        stacklevel=2,
    )
    return dump_cryptography_chain(chain, _encoding(filetype))


def probe_sni(
    name: bytes | str,
    host: bytes | str,
    port: int = 443,
    timeout: float = 300,
    method: Any = None,
    source_address: tuple[str, int] = ("", 0),
    alpn_protocols: Any = None,
) -> x509.Certificate:
    """Deprecated (acme 1.x): the certificate ``host:port`` presents for SNI ``name``.

    Not verified (it is a probe); ``timeout`` bounds the whole probe; raises `acme.errors.Error`.
    """
    warnings.warn("acme.crypto_util.probe_sni is deprecated", DeprecationWarning, stacklevel=2)
    from acme._net import probes as _probes  # network code: loaded only when used

    return _probes.probe_sni(name, host, port, timeout, method, source_address, alpn_protocols)
