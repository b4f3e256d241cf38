"""ACME protocol messages: the JSON objects of RFC 8555 section 7, RFC 9773 and the profiles draft.

Every class is a josepy ``JSONObjectWithFields`` (except `Directory`, a read-only mapping):
``Order.from_json(jobj)`` decodes, ``order.to_json()`` / ``order.json_dumps()`` encode, and
``order.update(status=...)`` derives a changed copy (objects are immutable and hashable).
``from_json`` accepts any decoded JSON and raises only ``josepy.errors.DeserializationError``,
naming the class and field at fault.

The implementation lives in the private package ``acme._wire``; this module is its public
face.
"""

from __future__ import annotations

from acme._wire.account import (
    ExternalAccountBinding,
    NewRegistration,
    Registration,
    RegistrationResource,
    UpdateRegistration,
)
from acme._wire.authz import (
    Authorization,
    AuthorizationResource,
    ChallengeBody,
    ChallengeResource,
    NewAuthorization,
    UpdateAuthorization,
)
from acme._wire.base import Resource, ResourceBody, ResourceWithURI
from acme._wire.constants import (
    IDENTIFIER_FQDN,
    IDENTIFIER_IP,
    STATUS_DEACTIVATED,
    STATUS_INVALID,
    STATUS_PENDING,
    STATUS_PROCESSING,
    STATUS_READY,
    STATUS_REVOKED,
    STATUS_UNKNOWN,
    STATUS_VALID,
    Identifier,
    IdentifierType,
    Status,
)
from acme._wire.directory import Directory
from acme._wire.order import (
    CertificateRequest,
    CertificateResource,
    NewOrder,
    Order,
    OrderResource,
    RenewalInfo,
    Revocation,
)
from acme._wire.problem import (
    ERROR_CODES,
    ERROR_PREFIX,
    ERROR_TYPE_DESCRIPTIONS,
    OLD_ERROR_PREFIX,
    Error,
    is_acme_error,
)

__all__ = [
    "ERROR_CODES",
    "ERROR_PREFIX",
    "ERROR_TYPE_DESCRIPTIONS",
    "IDENTIFIER_FQDN",
    "IDENTIFIER_IP",
    "OLD_ERROR_PREFIX",
    "STATUS_DEACTIVATED",
    "STATUS_INVALID",
    "STATUS_PENDING",
    "STATUS_PROCESSING",
    "STATUS_READY",
    "STATUS_REVOKED",
    "STATUS_UNKNOWN",
    "STATUS_VALID",
    "Authorization",
    "AuthorizationResource",
    "CertificateRequest",
    "CertificateResource",
    "ChallengeBody",
    "ChallengeResource",
    "Directory",
    "Error",
    "ExternalAccountBinding",
    "Identifier",
    "IdentifierType",
    "NewAuthorization",
    "NewOrder",
    "NewRegistration",
    "Order",
    "OrderResource",
    "Registration",
    "RegistrationResource",
    "RenewalInfo",
    "Resource",
    "ResourceBody",
    "ResourceWithURI",
    "Revocation",
    "Status",
    "UpdateAuthorization",
    "UpdateRegistration",
    "is_acme_error",
]

# Public classes report this module as their home (reprs, tracebacks, pickles, docs).
for _cls in (
    Authorization,
    AuthorizationResource,
    CertificateRequest,
    CertificateResource,
    ChallengeBody,
    ChallengeResource,
    Directory,
    Error,
    ExternalAccountBinding,
    Identifier,
    IdentifierType,
    NewAuthorization,
    NewOrder,
    NewRegistration,
    Order,
    OrderResource,
    Registration,
    RegistrationResource,
    RenewalInfo,
    Resource,
    ResourceBody,
    ResourceWithURI,
    Revocation,
    Status,
    UpdateAuthorization,
    UpdateRegistration,
):
    _cls.__module__ = __name__
Directory.Meta.__module__ = __name__
RenewalInfo.SuggestedWindow.__module__ = __name__
is_acme_error.__module__ = __name__
del _cls
