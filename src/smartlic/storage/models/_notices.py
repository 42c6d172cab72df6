"""Jobs, reports, notifications, webhooks and usage rollups: what the authority tells its users.

The job table is the scheduler's shared state (one row per periodic task, claimed with a
lease so that several authority processes on one database run each due job once); the
outboxes (``mail_outbox``, ``webhook_deliveries``) are durable queues that survive restarts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.storage.base import Base, uuid_pk

_BIGID = BigInteger().with_variant(Integer, "sqlite")


class Job(Base):
    """One periodic task of the job runner and its state (visible in the API)."""

    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_run_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_status: Mapped[str] = mapped_column(String(20), default="never")
    last_error: Mapped[str | None] = mapped_column(String(1000))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return f"Job({self.name!r}, next={self.next_run_at})"


class AlertMark(Base):
    """A warning already raised (``holding:<id>:30``, ``pool:<va>:<license>``): raised once."""

    __tablename__ = "alert_marks"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"AlertMark({self.key!r})"


class CollectorContact(Base):
    """When a collector (an API-key caller reporting usage for devices, the vendor device API)
    last synchronised with the authority, per smart account it reported for: what the
    ``collector-out-of-sync`` warning is raised from."""

    # not "collectors": a name the collector's own schema could take in a shared database
    __tablename__ = "collector_contacts"
    __table_args__ = (UniqueConstraint("smart_account_id", "caller"),)

    id: Mapped[str] = uuid_pk()
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    caller: Mapped[str] = mapped_column(String(200))  # scope.poll_owner: "apikey-id:<id>"
    name: Mapped[str] = mapped_column(String(200))  # the caller's label, for people
    first_contact_at: Mapped[datetime]
    last_contact_at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"CollectorContact({self.name!r})"


class Report(Base):
    """An archived report: immutable once written (no service updates it)."""

    # not "reports": that is the collector's table, and the two may share one database
    __tablename__ = "license_reports"
    __table_args__ = (
        Index("ix_license_reports_account_generated", "smart_account_id", "generated_at"),
    )

    id: Mapped[str] = uuid_pk()
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE")
    )
    virtual_account: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    generated_at: Mapped[datetime]
    generated_by: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    shortfalls: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"Report({self.kind!r}, {self.generated_at})"


class ReportSchedule(Base):
    """A Periodic Record schedule: daily, weekly or monthly at a time of day (UTC)."""

    __tablename__ = "report_schedules"

    id: Mapped[str] = uuid_pk()
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    virtual_account: Mapped[str | None] = mapped_column(String(200))
    frequency: Mapped[str] = mapped_column(String(10))
    time_of_day: Mapped[str] = mapped_column(String(5))
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"ReportSchedule({self.frequency!r} at {self.time_of_day})"


class NotificationSubscription(Base):
    """A user's "email notification settings" for one smart account and one event."""

    __tablename__ = "notification_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "smart_account_id", "event"),)

    id: Mapped[str] = uuid_pk()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    digest: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"NotificationSubscription({self.event!r}, digest={self.digest})"


class OutboxMail(Base):
    """One mail to send (``pending``), sent, given up (``failed``), or a digest entry waiting
    for the daily digest (``digest``, then ``digested``)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[str | None] = mapped_column(String(36))  # attached as PDF when sent
    state: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    def __repr__(self) -> str:
        return f"OutboxMail({self.id}, {self.state!r})"


class WebhookEndpoint(Base):
    """A smart account's webhook: URL, event filters and the HMAC secret payloads are signed
    with: the authority must sign with it, so it is kept AES-GCM sealed under the key
    directory's ``token.key`` (bound to the endpoint's id) and shown once on creation."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = uuid_pk()
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"WebhookEndpoint({self.url!r})"


class WebhookDelivery(Base):
    """One event to deliver to one endpoint; retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    replay_of: Mapped[int | None] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        return f"WebhookDelivery({self.id}, {self.event_name!r}, {self.state!r})"


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt, with the response code or the error."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))

    def __repr__(self) -> str:
        return f"WebhookAttempt({self.delivery_id}, {self.status_code})"


class UsageRollup(Base):
    """In use against purchased, per day, virtual account and license (usage trends)."""

    __tablename__ = "usage_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), primary_key=True)
    in_use: Mapped[int] = mapped_column(Integer)
    purchased: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"UsageRollup({self.day}, in_use={self.in_use}, purchased={self.purchased})"
