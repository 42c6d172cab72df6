from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.storage.base import Base


class Event(Base):
    """The activity log: one row per state change, with actor and time."""

    __tablename__ = "events"
    # an account's log, newest first, as a keyset (id) page
    __table_args__ = (Index("ix_events_account_page", "smart_account_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    smart_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE")
    )
    virtual_account: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, actor={self.actor!r})"


class SeenNonce(Base):
    """Nonces of signed device requests inside the replay window."""

    __tablename__ = "seen_nonces"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"SeenNonce({self.key_id[:8]}…, {self.nonce!r})"
