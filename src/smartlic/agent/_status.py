"""The agent's typed status snapshot: everything ``show license ...`` prints, as data.

``LicenseManager.status()`` returns a ``Status``; the device shell renders it in IOS format.
Taking a snapshot does no I/O. All times are aware UTC datetimes from the agent's clock or
from the authority's signed responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smartlic.agent._policy_status import PolicyModeStatus
from smartlic.agent._reservation import ReservationStatus
from smartlic.crypto import Udi
from smartlic.domain.enums import AuthorizationState, RegistrationState

__all__ = [
    "Attempt",
    "AuthorizationStatus",
    "ConversionStatus",
    "LicenseUsage",
    "RegistrationStatus",
    "Status",
    "TransportStatus",
]


@dataclass(frozen=True)
class Attempt:
    """One communication attempt: ``SUCCEEDED on <at>`` or ``FAILED on <at>`` + reason."""

    at: datetime
    succeeded: bool
    failure_reason: str | None = None


@dataclass(frozen=True)
class TransportStatus:
    type: str  # "smart" | "callhome" | "off" (policy mode adds "cslu", "automatic")
    url: str | None
    proxy_address: str | None = None
    proxy_port: int | None = None


@dataclass(frozen=True)
class RegistrationStatus:
    state: RegistrationState
    smart_account: str | None = None
    virtual_account: str | None = None
    export_controlled_allowed: bool = False
    initial_registration: Attempt | None = None
    last_renewal_attempt: Attempt | None = None
    next_renewal_attempt: datetime | None = None
    registration_expires: datetime | None = None
    next_retry: datetime | None = None  # while state is RETRY
    reservation: str | None = None  # SPECIFIC | UNIVERSAL: registered by a reservation code


@dataclass(frozen=True)
class AuthorizationStatus:
    state: AuthorizationState
    state_since: datetime | None = None  # "AUTHORIZED on <time>"
    last_communication_attempt: Attempt | None = None
    next_communication_attempt: datetime | None = None
    communication_deadline: datetime | None = None
    evaluation_remaining: timedelta = timedelta(days=90)
    evaluation_in_use: bool = False
    evaluation_expired_at: datetime | None = None
    grace_expires: datetime | None = None


@dataclass(frozen=True)
class LicenseUsage:
    """One entitlement in use on the device."""

    name: str  # short name, e.g. "metroipaccess"
    display_name: str  # e.g. "Device METRO IP ACCESS"
    tag: str  # full entitlement tag
    description: str
    count: int
    version: str
    status: str  # "EVAL MODE", "AUTHORIZED", "OUT OF COMPLIANCE", "AUTHORIZATION EXPIRED", ...
    export_status: str = "NOT RESTRICTED"
    enforcement: str = "NOT ENFORCED"


@dataclass(frozen=True)
class ConversionStatus:
    """Device-led conversion of traditional licenses (``show license data conversion``)."""

    status: str  # NOT STARTED | IN PROGRESS | SUCCESS | FAILED | STOPPED
    started_at: datetime | None
    finished_at: datetime | None
    converted: tuple[str, ...]  # serials of the converted license files
    failure: str | None = None


@dataclass(frozen=True)
class Status:
    now: datetime
    enabled: bool
    udi: Udi
    hostname: str
    transport: TransportStatus
    registration: RegistrationStatus
    authorization: AuthorizationStatus
    licenses: list[LicenseUsage] = field(default_factory=list)
    agent_version: str = "smartlic 0.1.0"
    state_integrity_error: str | None = None  # set when the on-disk state failed its check
    mode: str = "classic"  # "classic" | "policy"
    policy: PolicyModeStatus | None = None  # set in policy mode (see _policy_status.py)
    # set once a device has traditional licenses or a conversion (``_traditional_verbs``)
    conversion: ConversionStatus | None = None
    reservation: ReservationStatus | None = None  # SLR / PLR (see _reservation.py)
