"""Pure domain rules: stdlib and dataclasses only (no web, database or HTTP code)."""

from smartlic.domain.enums import (
    AuthorizationState,
    ComplianceStatus,
    Enforcement,
    EntitlementStatus,
    HoldingKind,
    InstanceStatus,
    RegistrationState,
    Role,
)

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
