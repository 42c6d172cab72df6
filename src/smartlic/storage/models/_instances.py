from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
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

from smartlic.domain.enums import InstanceStatus
from smartlic.storage.base import Base, enum_by_value, uuid_pk


class RegistrationToken(Base):
    """A product instance registration token; only the SHA-256 of its text is stored."""

    __tablename__ = "registration_tokens"

    id: Mapped[str] = uuid_pk()
    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the text, AES-GCM sealed with the key directory's token.key (lookups stay by hash)
    text_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    export_controlled_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"RegistrationToken(id={self.id!r}, uses={self.uses}/{self.max_uses})"


class ProductInstance(Base):
    __tablename__ = "product_instances"
    __table_args__ = (
        UniqueConstraint("udi_pid", "udi_sn"),
        # keyset pages (registered_at, id): of one virtual account, and of a smart account
        Index("ix_product_instances_va_page", "virtual_account_id", "registered_at", "id"),
        Index("ix_product_instances_page", "registered_at", "id"),
    )

    id: Mapped[str] = uuid_pk()
    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE")
    )
    udi_pid: Mapped[str] = mapped_column(String(64))
    udi_sn: Mapped[str] = mapped_column(String(64), index=True)
    hostname: Mapped[str] = mapped_column(String(255), default="", index=True)
    software_tag: Mapped[str] = mapped_column(String(255), default="")
    registered_at: Mapped[datetime]
    last_contact_at: Mapped[datetime | None]
    status: Mapped[InstanceStatus] = mapped_column(enum_by_value(InstanceStatus))
    # classic identity certificate (None for a device that only reports, in policy mode)
    cert_fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)
    cert_pem: Mapped[str | None] = mapped_column(Text)
    cert_expires_at: Mapped[datetime | None]
    # policy mode: the trust code (the device's report-signing key)
    trust_key_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    trust_public_key: Mapped[str | None] = mapped_column(String(100))
    trust_installed_at: Mapped[datetime | None]
    last_report_at: Mapped[datetime | None]
    export_controlled_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    token_id: Mapped[str | None] = mapped_column(
        ForeignKey("registration_tokens.id", ondelete="SET NULL"), index=True
    )

    def __repr__(self) -> str:
        return f"ProductInstance(PID:{self.udi_pid},SN:{self.udi_sn})"


class InstanceUsage(Base):
    """What one instance uses of one license, and the answer it got."""

    __tablename__ = "instance_usage"
    __table_args__ = (Index("ix_instance_usage_license_instance", "license_id", "instance_id"),)

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("product_instances.id", ondelete="CASCADE"), primary_key=True
    )
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(40))
    # policy mode: end time (epoch s) of the newest report applied, so an older report
    # arriving late never overwrites newer usage
    reported_until: Mapped[int | None] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        return f"InstanceUsage(count={self.count}, status={self.status!r})"
