"""Portal log-ins: server-side sessions and the log-in attempts that drive throttling.

Both live in the database, not in process memory, so several authority processes on one
database share them: a logout or a password change ends a session everywhere at once, and a
guesser cannot get a fresh allowance by landing on another worker (docs/security.md, Portal).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.storage.base import Base


class PortalSession(Base):
    """One logged-in browser. The cookie holds a random session id; only its SHA-256 is
    stored, so a copy of the table opens no session."""

    __tablename__ = "portal_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(64), default="")

    def __repr__(self) -> str:
        return f"PortalSession({self.id_hash[:8]}…, expires_at={self.expires_at:%Y-%m-%d %H:%M})"


class LoginAttempt(Base):
    """A failed log-in (counted against the user and the address), or the last successful
    one of a user from an address (which makes that address familiar to the user)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)

    def __repr__(self) -> str:
        outcome = "ok" if self.succeeded else "failed"
        return f"LoginAttempt({self.username!r} from {self.address}, {outcome})"
