from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.storage.base import Base, uuid_pk


class Policy(Base):
    """A custom reporting policy for a smart account, or one of its virtual accounts.
    With none, devices run the built-in "Cisco default"."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("smart_account_id", "name"),)

    id: Mapped[str] = uuid_pk()
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    virtual_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # smartlic.domain.policy.Policy.to_json
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"Policy({self.name!r})"


class RumReportRow(Base):
    """One received RUM report; (instance, report id) is unique, which makes ingest idempotent."""

    __tablename__ = "rum_reports"
    __table_args__ = (
        UniqueConstraint("instance_id", "report_id"),
        # one device's usage history, newest first
        Index("ix_rum_reports_instance_end", "instance_id", "end_time"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    instance_id: Mapped[str] = mapped_column(ForeignKey("product_instances.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(BigInteger)
    license_id: Mapped[str | None] = mapped_column(ForeignKey("licenses.id"), index=True)
    entitlement_tag: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int] = mapped_column(BigInteger)
    last_value: Mapped[int] = mapped_column(Integer)
    max_value: Mapped[int] = mapped_column(Integer)
    measurements: Mapped[list[Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]
    usage_file_id: Mapped[str | None] = mapped_column(
        ForeignKey("usage_files.id", ondelete="SET NULL"), index=True
    )

    def __repr__(self) -> str:
        return f"RumReportRow(report_id={self.report_id})"


class UsageFile(Base):
    """A usage data file uploaded for a virtual account, with the ACK made for it."""

    __tablename__ = "usage_files"
    __table_args__ = (Index("ix_usage_files_va_digest", "virtual_account_id", "digest"),)

    id: Mapped[str] = uuid_pk()
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    file_name: Mapped[str] = mapped_column(String(255))
    reported_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(40))
    instances: Mapped[int] = mapped_column(Integer, default=0)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ack_name: Mapped[str] = mapped_column(String(255), default="")
    ack: Mapped[bytes | None] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(200), default="")
    digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the upload

    def __repr__(self) -> str:
        return f"UsageFile({self.file_name!r}, {self.status!r})"


class PollTask(Base):
    """An asynchronous answer (``OK_POLL`` -> ``COMPLETE``) of the vendor's device API."""

    __tablename__ = "poll_tasks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    action: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    ready_at: Mapped[datetime]
    result: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"PollTask({self.id}, {self.action!r})"


class AuthorizationCode(Base):
    """One license of a Smart Licensing Authorization Code (SLAC) issued to one instance; a
    code (``code_id``) covers one or more licenses. Its count is held as ``reserved`` in the
    pool until the code is returned."""

    __tablename__ = "authorization_codes"

    id: Mapped[str] = uuid_pk()
    code_id: Mapped[str] = mapped_column(String(36), index=True)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("product_instances.id", ondelete="CASCADE"), index=True
    )
    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    confirmation_code: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]
    returned_at: Mapped[datetime | None]
    document: Mapped[str] = mapped_column(Text)  # the signed code file, for re-download

    def __repr__(self) -> str:
        return f"AuthorizationCode({self.id!r}, count={self.count})"
