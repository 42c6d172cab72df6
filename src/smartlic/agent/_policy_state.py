"""What a device in policy mode remembers across restarts (part of ``AgentState``).

Everything here is persisted by ``_codec`` inside the HMAC-protected ``state.json`` (``_state``),
so it is plain dataclasses of JSON-able fields: the policy travels as its JSON text, a closed
RUM report as the exact signed envelope text (immutable once closed: "RUM reports, once closed,
are immutable", domain-notes 2.8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "AccountRecord",
    "AuthCodeRecord",
    "CommRecord",
    "HistoryItem",
    "LogRecord",
    "MeasurementRecord",
    "PendingPoll",
    "PolicyState",
    "RumRecord",
    "StateSeenStore",
    "TrustRecord",
]

OPEN, CLOSED, ACK = "OPEN", "CLOSED", "ACK"


@dataclass
class MeasurementRecord:
    """One run of equal samples: ``value`` units from ``start`` to ``end`` (epoch seconds)."""

    start: int
    end: int
    value: int
    num_samples: int = 1


@dataclass
class RumRecord:
    """One RUM report: OPEN (collecting), CLOSED (signed, immutable), ACK (acknowledged)."""

    report_id: int
    tag: str
    state: str
    opened_at: datetime
    measurements: list[MeasurementRecord] = field(default_factory=list)
    previous_id: int = 0
    next_id: int = 0
    reason: str = "None"  # "State Change Reason"
    envelope: str | None = None  # the signed <RUMReport> JSON text, set when closed
    closed_at: datetime | None = None
    acked_at: datetime | None = None
    sent_at: datetime | None = None  # last pushed or written to a file


@dataclass
class TrustRecord:
    installed_at: datetime
    key_id: str
    expires_at: datetime | None = None
    smart_account: str = ""
    virtual_account: str = ""


@dataclass
class AccountRecord:
    smart_account: str
    virtual_account: str
    as_of: datetime


@dataclass
class AuthCodeRecord:
    """An installed authorization code (SLAC) and the counts it allows per tag."""

    code_id: str
    installed_at: datetime
    confirmation_code: str
    entitlements: dict[str, int]
    document: str | None = None  # the signed section (compact JSON): counts derive from it


@dataclass
class PendingPoll:
    poll_id: int
    action: str  # "acknowledgements" | "authorizations"
    since: datetime
    # when to ask again: the answer's ``poll_interval`` after the last try (None: at once)
    next_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.next_at is None or now >= self.next_at


@dataclass
class HistoryItem:
    at: datetime
    text: str


@dataclass
class CommRecord:
    attempts: int = 0
    success: int = 0
    fail: int = 0
    last_response: str | None = None
    last_response_at: datetime | None = None
    failure_reason: str | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None


@dataclass
class LogRecord:
    at: datetime
    kind: str
    text: str


@dataclass
class PolicyState:
    """The policy-mode part of the agent's state."""

    policy_json: str | None = None  # None: the built-in Cisco default
    policy_installed_at: datetime | None = None
    first_use: datetime | None = None
    changed_at: datetime | None = None  # last usage change after the first use
    last_ack: datetime | None = None
    last_report_push: datetime | None = None
    last_report_file_write: datetime | None = None
    push_interval_days: int = 30
    last_report_id: int = 0
    last_sample_at: datetime | None = None
    reports: list[RumRecord] = field(default_factory=list)
    purged: int = 0
    trust: TrustRecord | None = None
    authority_ca_pem: str | None = None
    account: AccountRecord | None = None
    authorizations: list[AuthCodeRecord] = field(default_factory=list)
    last_return_code: str | None = None
    pending_polls: list[PendingPoll] = field(default_factory=list)
    history_online: dict[str, list[HistoryItem]] = field(default_factory=dict)
    history_imports: dict[str, list[HistoryItem]] = field(default_factory=dict)
    comm: dict[str, CommRecord] = field(default_factory=dict)
    eventlog: list[LogRecord] = field(default_factory=list)
    overdue_alerted_for: datetime | None = None  # the deadline an overdue alert was raised for
    warned_for: datetime | None = None  # the deadline a 30-days-ahead warning was logged for
    push_failures: int = 0
    pending_auth_request: str | None = None  # {"mode", "tags"} JSON, kept for an offline save
    # The signed documents the derived fields above are rebuilt from at every load
    # (``_held``): the last ACK applied and the policy installed (compact JSON envelopes).
    ack_document: str | None = None
    policy_document: str | None = None
    # The device's ``SeenStore`` (formats.signed): "scope|nonce" of applied authority
    # documents (the newest MAX_SEEN), the newest issued_at per scope, and the ids of codes
    # returned or superseded, which are never installed again.
    seen_documents: list[str] = field(default_factory=list)
    latest_documents: dict[str, datetime] = field(default_factory=dict)
    retired_codes: list[str] = field(default_factory=list)


MAX_SEEN = 2000
MAX_RETIRED = 2000


class StateSeenStore:
    """``formats.signed.SeenStore`` kept in the device state (saved with it, atomically);
    ``current`` returns the state's policy part (the state object is replaced at times)."""

    def __init__(self, current: Callable[[], PolicyState]) -> None:
        self.current = current

    @property
    def ps(self) -> PolicyState:
        return self.current()

    def seen(self, scope: str, nonce: str) -> bool:
        return f"{scope}|{nonce}" in self.ps.seen_documents

    def latest(self, scope: str) -> datetime | None:
        return self.ps.latest_documents.get(scope)

    def remember(self, scope: str, nonce: str | None, issued_at: datetime | None) -> None:
        if nonce is not None:
            self.ps.seen_documents.append(f"{scope}|{nonce}")
            del self.ps.seen_documents[:-MAX_SEEN]
        newest = self.ps.latest_documents.get(scope)
        if issued_at is not None and (newest is None or issued_at > newest):
            self.ps.latest_documents[scope] = issued_at
