from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smartlic.domain.enums import Enforcement, HoldingKind
from smartlic.storage.base import Base, enum_by_value, uuid_pk


class License(Base):
    """The catalogue: what a license is, identified by its entitlement tag."""

    __tablename__ = "licenses"

    id: Mapped[str] = uuid_pk()
    tag: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    version: Mapped[str] = mapped_column(String(32), default="1.0")
    enforcement: Mapped[Enforcement] = mapped_column(enum_by_value(Enforcement))
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"License(name={self.name!r}, tag={self.tag!r})"


class Holding(Base):
    """A purchased quantity of one license in one virtual account."""

    __tablename__ = "holdings"

    id: Mapped[str] = uuid_pk()
    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    kind: Mapped[HoldingKind] = mapped_column(enum_by_value(HoldingKind))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    subscription_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]

    license: Mapped[License] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"Holding(qty={self.quantity}, kind={self.kind.value!r})"


class PoolCounter(Base):
    """Counts maintained on write, so compliance never scans instances: in-use and reserved
    quantities of one license in one virtual account."""

    __tablename__ = "pool_counters"

    virtual_account_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), primary_key=True)
    in_use: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"PoolCounter(in_use={self.in_use}, reserved={self.reserved})"
