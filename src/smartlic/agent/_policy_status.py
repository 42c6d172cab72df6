"""The policy-mode (Smart Licensing Using Policy) part of the status snapshot, as data.

``Status.policy`` holds a ``PolicyModeStatus`` when the agent runs in policy mode (the default
for a new device) and ``None`` in classic mode. The device shell renders these fields in the
formats of the second reference document and domain-notes 2.2-2.6; field names follow the
output lines they feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from smartlic.domain.policy import Policy

__all__ = [
    "AccountInfo",
    "AuthorizationCodeStatus",
    "CommStats",
    "EventLogEntry",
    "MessageHistory",
    "PolicyLicenseUsage",
    "PolicyModeStatus",
    "ReportSummary",
    "RumReportStatus",
    "TrustCodeStatus",
    "UsageReporting",
]


@dataclass(frozen=True)
class AccountInfo:
    """``Account Information:`` (learned from an ACK or trust code)."""

    smart_account: str | None = None
    virtual_account: str | None = None
    as_of: datetime | None = None  # "Smart Account: X As of <date>"


@dataclass(frozen=True)
class UsageReporting:
    """``Usage Reporting:`` block of ``show license status``."""

    last_ack_received: datetime | None = None
    next_ack_deadline: datetime | None = None
    reporting_push_interval_days: int = 30  # 0 renders "0 (no reporting)"
    next_ack_push_check: datetime | None = None
    next_report_push: datetime | None = None
    last_report_push: datetime | None = None
    last_report_file_write: datetime | None = None
    overdue: bool = False  # an alert is raised when the next ACK deadline has passed


@dataclass(frozen=True)
class TrustCodeStatus:
    """``Trust Code Installed:`` — ``None`` in PolicyModeStatus renders ``<none>``."""

    installed_at: datetime
    udi: str  # "PID:x,SN:y"
    key_id: str
    expires_at: datetime | None = None
    source: str = "CSSM"  # "Trust Code Type:"


@dataclass(frozen=True)
class PolicyLicenseUsage:
    """One license in ``show license usage`` / ``summary`` (policy mode)."""

    name: str  # e.g. "network-advantage", "LORAWAN_CPF"
    display_name: str  # the parenthesised text, e.g. "C9300-24 Network Advantage"
    tag: str  # full entitlement tag
    description: str
    count: int
    version: str
    status: str  # "IN USE" | "NOT IN USE" | "NOT AUTHORIZED"
    export_status: str  # "NOT RESTRICTED" | "RESTRICTED - ALLOWED" | "RESTRICTED - NOT AUTHORIZED"
    feature_name: str
    feature_description: str
    enforcement_type: str  # "NOT ENFORCED" | "ENFORCED" | "EXPORT RESTRICTED"
    license_type: str  # "Perpetual" | "Subscription"


@dataclass(frozen=True)
class AuthorizationCodeStatus:
    """One installed SLAC (``show license authorization``)."""

    code_id: str
    installed_at: datetime
    confirmation_code: str
    entitlements: tuple[tuple[str, str, int], ...]  # (tag, display name, count)


@dataclass(frozen=True)
class RumReportStatus:
    """One RUM report (``show license rum id all`` / ``rum id <id> detail``)."""

    report_id: int
    state: str  # "OPEN" | "CLOSED" | "ACK" | "DELETED"
    flag: str  # "N" normal
    feature_name: str
    metric_name: str  # "ENTITLEMENT"
    metric_value: str  # the entitlement tag
    udi: str
    previous_report_id: int
    next_report_id: int
    state_change_reason: str  # e.g. "ACKED", "REPORTING", "None"
    start_time: datetime
    end_time: datetime
    storage_state: str  # "EXIST" | "DELETED" | "PURGED"
    transaction_id: int = 0
    transaction_message: str | None = None


@dataclass(frozen=True)
class ReportSummary:
    """``Usage Report Summary:``."""

    total: int = 0
    purged: int = 0
    acknowledged: int = 0
    waiting_for_ack: int = 0
    available_to_report: int = 0
    collecting_data: int = 0


@dataclass(frozen=True)
class MessageHistory:
    """``show license history message``: one list of (time, text) per message type."""

    online: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    imports: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class CommStats:
    """Per message type communication statistics (``show license tech support``)."""

    attempts: int = 0
    success: int = 0
    fail: int = 0
    last_response: str | None = None  # "OK", "OK_POLL", "NO REPLY", ...
    last_response_at: datetime | None = None
    failure_reason: str | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None


@dataclass(frozen=True)
class EventLogEntry:
    at: datetime
    kind: str  # e.g. "SAEVT_ENDPOINT_USAGE"
    text: str  # e.g. count="1" entitlementTag="regid..."


@dataclass(frozen=True)
class PolicyModeStatus:
    policy: Policy  # with installed_at when it came from an ACK or policy file
    account: AccountInfo
    usage_reporting: UsageReporting
    trust_code: TrustCodeStatus | None
    licenses: list[PolicyLicenseUsage]
    authorizations: list[AuthorizationCodeStatus]
    last_return_code: str | None
    reports: list[RumReportStatus]
    report_summary: ReportSummary
    history: MessageHistory
    comm_stats: dict[str, CommStats]
    eventlog: list[EventLogEntry]
    alerts: list[str] = field(default_factory=list)  # e.g. overdue reporting
    cslu_url: str | None = None
    smart_url: str | None = None
