from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smartlic.storage.base import Base, uuid_pk


class LicenseReservation(Base):
    """A classic license reservation (SLR ``SPECIFIC`` or PLR ``UNIVERSAL``) made from a device's
    request code; its specific counts are held as ``reserved`` in the pool until the device's
    return code frees them (docs/reservations.md)."""

    __tablename__ = "license_reservations"

    id: Mapped[str] = uuid_pk()
    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("product_instances.id", ondelete="SET NULL"), index=True
    )
    udi_pid: Mapped[str] = mapped_column(String(64))
    udi_sn: Mapped[str] = mapped_column(String(64), index=True)
    # a request code is reserved once (its nonce makes every code unique)
    request_code: Mapped[str] = mapped_column(String(300), unique=True)
    reservation_type: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(64))  # the device's reservation key, base64
    code_id: Mapped[str] = mapped_column(String(36), unique=True)
    confirmation_code: Mapped[str] = mapped_column(String(16))
    authorization_code: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime]
    returned_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200), default="")

    lines: Mapped[list[LicenseReservationLine]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"LicenseReservation({self.reservation_type}, PID:{self.udi_pid},SN:{self.udi_sn})"


class LicenseReservationLine(Base):
    """One license and count of a specific reservation."""

    __tablename__ = "license_reservation_lines"

    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("license_reservations.id", ondelete="CASCADE"), primary_key=True
    )
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"LicenseReservationLine(count={self.count})"


class LicenseFileRow(Base):
    """A node-locked license file the authority signed; with a virtual account and license it
    was issued from that pool's holdings (its count held as ``reserved``), else standalone."""

    __tablename__ = "license_files"

    id: Mapped[str] = uuid_pk()
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    virtual_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    license_id: Mapped[str | None] = mapped_column(ForeignKey("licenses.id"))
    udi_pid: Mapped[str] = mapped_column(String(64))
    udi_sn: Mapped[str] = mapped_column(String(64), index=True)
    feature: Mapped[str] = mapped_column(String(64))
    count: Mapped[int | None] = mapped_column(Integer)
    eval_days: Mapped[int | None] = mapped_column(Integer)
    issued_at: Mapped[datetime]
    document: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"LicenseFileRow({self.serial!r}, {self.feature!r})"
