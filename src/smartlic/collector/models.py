"""The collector's own store (SQLAlchemy 2): what devices handed over, what went upstream, what
came back, and what reached the devices. Its own ``MetaData`` and Alembic history
(``collector/migrations``, version table ``collector_alembic_version``), independent of the
authority schema.

::

    devices ──< reports          RUM envelopes exactly as received (never altered)
            ──< requests         authorization requests / returns, with the authority's answer
            ──< deliveries       authority-signed files (ACKs) waiting for / handed to the device
            ──< device_tasks     poll ids handed to devices (OK_POLL until the result is here)
            ──< alerts           the status texts of the CSLU alert table
    upstream_tasks               poll ids the authority handed to us
    preferences                  key -> JSON value (connectivity, accounts, Validate Device)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from smartlic.crypto import Udi
from smartlic.storage.base import NAMING_CONVENTION, UTCDateTime

__all__ = [
    "Alert",
    "Base",
    "Delivery",
    "Device",
    "DeviceTask",
    "Preference",
    "Report",
    "Request",
    "UpstreamTask",
]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("udi_pid", "udi_sn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    udi_pid: Mapped[str] = mapped_column(String(64))
    udi_sn: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    software_tag: Mapped[str] = mapped_column(String(255), default="")
    mode: Mapped[str] = mapped_column(String(10), default="push")  # push | pull
    address: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(100))
    password: Mapped[str | None] = mapped_column(String(255))
    known: Mapped[bool] = mapped_column(default=False)  # added by a person (Validate Device)
    virtual_account: Mapped[str | None] = mapped_column(String(100))  # /cslu/v1/pi/<va>-1
    trust_key_id: Mapped[str | None] = mapped_column(String(64))
    trust_public_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_contact_at: Mapped[datetime | None]

    @classmethod
    def of(cls, udi: Udi, created_at: datetime, **columns: Any) -> Device:
        """A new device row for ``udi`` (the one place a ``Udi`` becomes the two columns)."""
        return cls(udi_pid=udi.pid, udi_sn=udi.sn, created_at=created_at, **columns)

    @property
    def udi(self) -> Udi:
        """The device's UDI (the one place the two columns become a ``Udi``, whose wire forms
        are ``formats.device_v1.udi_json`` and ``formats.rum.sudi_json``)."""
        return Udi(self.udi_pid, self.udi_sn)

    @property
    def name(self) -> str:
        return f"UDI_PID:{self.udi_pid}; UDI_SN:{self.udi_sn}"

    def __repr__(self) -> str:
        return f"Device({self.udi_pid}:{self.udi_sn}, {self.mode})"


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("device_id", "report_id"),
        Index("ix_reports_pending", "acked_at", "uploaded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(BigInteger)
    envelope: Mapped[str] = mapped_column(Text)  # the JSON object as received
    received_at: Mapped[datetime]
    uploaded_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    rejected: Mapped[str | None] = mapped_column(String(500))

    def __repr__(self) -> str:
        return f"Report({self.device_id}, {self.report_id}, acked={self.acked_at is not None})"


class Request(Base):
    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # request | return
    body: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    forwarded_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]

    def __repr__(self) -> str:
        return f"Request({self.id}, {self.kind}, done={self.result is not None})"


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # idempotent imports
    item: Mapped[dict[str, Any]]  # {sudi, software_tag_identifier, smart_license}
    report_ids: Mapped[dict[str, Any]]  # {"ids": [...]}
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"Delivery({self.device_id}, delivered={self.delivered_at is not None})"


class DeviceTask(Base):
    __tablename__ = "device_tasks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    action: Mapped[str] = mapped_column(String(30))
    items: Mapped[dict[str, Any]]  # {"reports": [row ids]} | {"requests": [row ids]}
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"DeviceTask({self.id}, {self.action})"


class UpstreamTask(Base):
    __tablename__ = "upstream_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(30))
    items: Mapped[dict[str, Any]]  # {"rows": [report or request row ids]}
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"UpstreamTask({self.poll_id}, {self.action})"


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(String(500))

    def __repr__(self) -> str:
        return f"Alert({self.device_id}, {self.text!r})"


class Preference(Base):
    __tablename__ = "preferences"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[dict[str, Any]]

    def __repr__(self) -> str:
        return f"Preference({self.key}={self.value!r})"
