"""The public names we owe users (acme 1.x and 5.x, plus our additions), module by module.

Each list is typed in from API.md: the names it gives for the module, whether marked [5]
(unmarked entries are the 5.x baseline), [1] (legacy, may warn on use) or [new]. ``__all__``
must list exactly these, and each must resolve.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from types import ModuleType
from typing import Any

import pytest

EXPECTED: dict[str, list[str]] = {
    "acme.challenges": [
        "Challenge",
        "ChallengeResponse",
        "UnrecognizedChallenge",
        "KeyAuthorizationChallenge",
        "KeyAuthorizationChallengeResponse",
        "HTTP01",
        "HTTP01Response",
        "DNS01",
        "DNS01Response",
        # [new] draft-ietf-acme-dns-account-label, draft-ietf-acme-dns-persist
        "DNSAccount01",
        "DNSAccount01Response",
        "DNSPersist01",
        "DNSPersist01Response",
        "DNSPersist01Record",
        "TLSALPN01",
        "TLSALPN01Response",
        # [1]
        "DNS",
        "DNSResponse",
    ],
    "acme.client": [
        "DEFAULT_NETWORK_TIMEOUT",
        "ClientNetwork",
        "ClientV2",
        # [1]
        "ClientBase",
        "Client",
        "BackwardsCompatibleClientV2",
        "DER_CONTENT_TYPE",
    ],
    # [new] issue 14: DNS providers and propagation checks
    "acme.dns": [
        "DNSChallenges",
        "DNSError",
        "DNSProvider",
        "HookProvider",
        "LexiconProvider",
        "NameServer",
        "Progress",
        "PropagationChecker",
        "PropagationTimeout",
        "RFC2136Provider",
        "TXTCheck",
        "TXTRecord",
        "challenge_record",
        "persist_check",
        "split_txt",
    ],
    "acme.crypto_util": [
        "make_csr",
        "get_names_from_subject_and_extensions",
        "get_identifiers_from_x509",
        "make_self_signed_cert",
        "dump_cryptography_chain",
        "Format",
        # [1]
        "probe_sni",
        "SSLSocket",
        "gen_ss_cert",
        "dump_pyopenssl_chain",
    ],
    "acme.errors": [
        "Error",
        "DependencyError",
        "SchemaValidationError",
        "ClientError",
        "UnexpectedUpdate",
        "NonceError",
        "BadNonce",
        "MissingNonce",
        "PollError",
        "ValidationError",
        "TimeoutError",
        "IssuanceError",
        "ConflictError",
        "WildcardUnsupportedError",
        "ARIError",
        # [new] in our tree
        "NetworkError",
        "InvalidArgument",
    ],
    "acme.fields": [
        "Fixed",
        "RFC3339Field",
        "fixed",
        "rfc3339",
        # [1]
        "Resource",
        "resource",
    ],
    "acme.jws": ["Header", "Signature", "JWS"],
    "acme.messages": [
        "ERROR_PREFIX",
        "ERROR_CODES",
        "ERROR_TYPE_DESCRIPTIONS",
        "is_acme_error",
        "IdentifierType",
        "IDENTIFIER_FQDN",
        "IDENTIFIER_IP",
        "Status",
        "STATUS_UNKNOWN",
        "STATUS_PENDING",
        "STATUS_PROCESSING",
        "STATUS_VALID",
        "STATUS_INVALID",
        "STATUS_REVOKED",
        "STATUS_READY",
        "STATUS_DEACTIVATED",
        "Identifier",
        "Error",
        "Directory",
        "Resource",
        "ResourceWithURI",
        "ResourceBody",
        "Registration",
        "NewRegistration",
        "UpdateRegistration",
        "RegistrationResource",
        "ExternalAccountBinding",
        "ChallengeBody",
        "ChallengeResource",
        "Authorization",
        "NewAuthorization",
        "UpdateAuthorization",
        "AuthorizationResource",
        "Order",
        "NewOrder",
        "OrderResource",
        "CertificateRequest",
        "CertificateResource",
        "Revocation",
        "RenewalInfo",
        # [1]
        "OLD_ERROR_PREFIX",
    ],
    "acme.standalone": [
        "ACMEServerMixin",
        "BaseDualNetworkedServers",
        "HTTPServer",
        "HTTP01Server",
        "HTTP01DualNetworkedServers",
        "HTTP01RequestHandler",
        "TLSServer",
        "TLSALPN01Server",
        # [new] the dual-stack tls-alpn-01 server issue 4 asks for
        "TLSALPN01DualNetworkedServers",
    ],
    "acme.util": ["map_keys"],
}

# Names API.md promises only conditionally: allowed in __all__, not required.
OPTIONAL: dict[str, set[str]] = {
    # [new] "when the draft's label rule is implemented"
    "acme.challenges": {"DNSACCOUNT01"},
}

# Documented names that live on a class rather than on the module, with the value API.md
# gives where it gives one (``...`` when it states none).
ATTRIBUTES: list[tuple[str, str, Any]] = [
    ("acme.client", "DEFAULT_NETWORK_TIMEOUT", 45),
    ("acme.client", "ClientNetwork.JSON_CONTENT_TYPE", ...),
    ("acme.client", "ClientNetwork.JOSE_CONTENT_TYPE", ...),
    ("acme.client", "ClientNetwork.JSON_ERROR_CONTENT_TYPE", ...),
    ("acme.client", "ClientNetwork.REPLAY_NONCE_HEADER", ...),
    ("acme.client", "ClientV2.get_directory", ...),
    ("acme.client", "ClientV2.retry_after", ...),
    ("acme.messages", "ERROR_PREFIX", "urn:ietf:params:acme:error:"),
    ("acme.messages", "OLD_ERROR_PREFIX", "urn:acme:error:"),
    ("acme.messages", "Directory.Meta", ...),
    ("acme.messages", "Error.with_code", ...),
    ("acme.messages", "Registration.from_data", ...),
    ("acme.messages", "ExternalAccountBinding.from_data", ...),
    ("acme.challenges", "Challenge.TYPES", ...),
    ("acme.challenges", "HTTP01.URI_ROOT_PATH", ...),
    ("acme.challenges", "HTTP01Response.PORT", 80),
    ("acme.challenges", "HTTP01Response.WHITESPACE_CUTSET", ...),
    ("acme.challenges", "DNS01.LABEL", "_acme-challenge"),
    ("acme.challenges", "DNSAccount01.LABEL", "_acme-challenge"),
    ("acme.challenges", "DNSPersist01.LABEL", "_validation-persist"),
    ("acme.challenges", "TLSALPN01.is_supported", ...),
    ("acme.challenges", "TLSALPN01Response.PORT", 443),
    ("acme.challenges", "TLSALPN01Response.ACME_TLS_1_PROTOCOL", "acme-tls/1"),
    ("acme.standalone", "HTTP01RequestHandler.HTTP01Resource", ...),
    ("acme.standalone", "HTTP01RequestHandler.partial_init", ...),
]


def _resolve(module: ModuleType, dotted: str) -> Any:
    """getattr along ``dotted``; legacy names may warn on access, which is allowed here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        value: Any = module
        for part in dotted.split("."):
            value = getattr(value, part)
        return value


def _missing(module: ModuleType, names: list[str]) -> list[str]:
    missing = []
    for name in names:
        try:
            _resolve(module, name)
        except AttributeError:
            missing.append(name)
    return missing


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_exported_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    expected = EXPECTED[module_name]
    assert len(expected) == len(set(expected))  # the table itself has no duplicates

    assert _missing(module, expected) == []
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    assert _missing(module, exported) == [], "__all__ names that do not resolve"

    optional = OPTIONAL.get(module_name, set())
    assert sorted(set(exported) - optional) == sorted(expected)


@pytest.mark.parametrize(
    ("module_name", "dotted", "value"), ATTRIBUTES, ids=[f"{m}:{d}" for m, d, _ in ATTRIBUTES]
)
def test_documented_attributes(module_name: str, dotted: str, value: Any) -> None:
    module = importlib.import_module(module_name)
    assert _missing(module, [dotted]) == []
    if value is not ...:
        assert _resolve(module, dotted) == value


def test_unknown_name_is_an_attribute_error() -> None:
    # Control for the checks above: a name nobody defined does not resolve, even through a
    # module-level __getattr__ that serves the legacy names.
    for module_name in ("acme.errors", "acme.fields", "acme.jws", "acme.util"):
        module = importlib.import_module(module_name)
        assert _missing(module, ["NoSuchName"]) == ["NoSuchName"]


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_import_emits_no_warning(module_name: str) -> None:
    # API.md: legacy names warn on use, never on import. A fresh interpreter sees the import
    # itself (this process may have imported the module already).
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", f"import {module_name}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
