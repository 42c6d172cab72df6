from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smartlic.domain.enums import Role
from smartlic.storage.base import Base, enum_by_value, uuid_pk


class SmartAccount(Base):
    __tablename__ = "smart_accounts"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(200), unique=True)
    # the stable numeric id the vendor's API shows (``account_id``), assigned at creation
    number: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime]
    # may devices of this account use export-controlled licenses (US trade-control laws)
    export_controlled_allowed: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )

    virtual_accounts: Mapped[list[VirtualAccount]] = relationship(
        back_populates="smart_account", order_by="VirtualAccount.name"
    )

    def __repr__(self) -> str:
        return f"SmartAccount(domain={self.domain!r}, name={self.name!r})"


class VirtualAccount(Base):
    __tablename__ = "virtual_accounts"
    __table_args__ = (UniqueConstraint("smart_account_id", "name"),)

    id: Mapped[str] = uuid_pk()
    smart_account_id: Mapped[str] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # the stable numeric id the vendor's API shows (``virtual_account_id``)
    number: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime]

    smart_account: Mapped[SmartAccount] = relationship(back_populates="virtual_accounts")

    def __repr__(self) -> str:
        return f"VirtualAccount(name={self.name!r}, default={self.is_default})"


class NumberCounter(Base):
    """The last numeric id given out per kind (``smart_accounts``, ``virtual_accounts``): ids
    are taken from here, never from the largest one in use, so a deleted account's id is
    never given again (a tool still sending it must find nothing, not a newer account)."""

    __tablename__ = "number_counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"NumberCounter(name={self.name!r}, last={self.last})"


class ApiKey(Base):
    """A management API key; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(enum_by_value(Role))
    smart_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    # set for the virtual-account roles: the key sees and changes this virtual account only
    virtual_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"ApiKey(name={self.name!r}, role={self.role.value!r})"
