"""The closed vocabulary of smartlic, persisted by ``.value`` (never ``.name``).

Sources: the two reference documents and the state enums of domain-notes.md sections 1.1, 1.2
and 2.2 (YANG ``cisco-smart-license``, MIB ``CISCO-SMART-LIC-MIB``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AuthorizationState",
    "ComplianceStatus",
    "Enforcement",
    "EntitlementStatus",
    "HoldingKind",
    "InstanceStatus",
    "RegistrationState",
    "Role",
]


class Enforcement(StrEnum):
    """How a license is enforced (SLUP document, "Enforcement Types")."""

    UNENFORCED = "unenforced"
    ENFORCED = "enforced"
    EXPORT_CONTROLLED = "export-controlled"


class HoldingKind(StrEnum):
    """How long a purchased quantity lasts ("Licenses" in the first document)."""

    PERPETUAL = "perpetual"
    TERM = "term"  # term / subscription: start and end date
    DEMO = "demo"  # at most 60 days


class ComplianceStatus(StrEnum):
    IN_COMPLIANCE = "In Compliance"
    OUT_OF_COMPLIANCE = "Out of Compliance"


class EntitlementStatus(StrEnum):
    """Per-tag answer of an authorization request (YANG EnforcementModeEnum, the subset the
    authority decides)."""

    AUTHORIZED = "AUTHORIZED"
    OUT_OF_COMPLIANCE = "OUT OF COMPLIANCE"
    INVALID_TAG = "INVALID TAG"
    NOT_AUTHORIZED = "NOT AUTHORIZED"  # export-controlled use not allowed for this instance


class InstanceStatus(StrEnum):
    """Product instance status as the authority's portal shows it."""

    IN_COMPLIANCE = "In Compliance"
    OUT_OF_COMPLIANCE = "Out of Compliance"
    AUTHORIZATION_EXPIRED = "Authorization Expired"


class RegistrationState(StrEnum):
    """Classic registration state of an agent (YANG ``registration-state``)."""

    UNREGISTERED = "UNREGISTERED"
    IN_PROGRESS = "REGISTRATION IN PROGRESS"
    REGISTERED = "REGISTERED"
    RETRY = "RETRY"
    FAILED = "FAILED"


class AuthorizationState(StrEnum):
    """Classic authorization state of an agent (YANG ``authorization-state`` + MIB grace)."""

    NONE = "No Licenses in Use"
    EVAL = "EVAL MODE"
    EVAL_EXPIRED = "EVAL EXPIRED"
    AUTHORIZED = "AUTHORIZED"
    # YANG auth-state-authorized-reservation: "a reservation authorization code is installed"
    AUTHORIZED_RESERVED = "AUTHORIZED - RESERVED"
    OUT_OF_COMPLIANCE = "OUT OF COMPLIANCE"
    AUTHORIZATION_EXPIRED = "AUTHORIZATION EXPIRED"
    GRACE_EXPIRED = "GRACE PERIOD EXPIRED"


class Role(StrEnum):
    """Roles an API key or user holds, scoped to a smart or virtual account (domain-notes 5.2)."""

    ADMIN = "admin"  # the whole authority (all smart accounts)
    SMART_ACCOUNT_ADMIN = "smart-account-admin"
    SMART_ACCOUNT_USER = "smart-account-user"
    VIRTUAL_ACCOUNT_ADMIN = "virtual-account-admin"
    VIRTUAL_ACCOUNT_USER = "virtual-account-user"
