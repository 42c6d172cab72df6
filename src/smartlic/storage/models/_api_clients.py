"""OAuth2 API clients (the vendor's client credentials) and the access tokens they obtain.

A client holds one grant like an API key (``scope.check_grant_shape``); only SHA-256 hashes of
its secret and of its access tokens are stored. An access token issued by the password grant
also names the portal user it acts for: it then carries that user's grants.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.domain.enums import Role
from smartlic.storage.base import Base, enum_by_value, uuid_pk


class ApiClient(Base):
    __tablename__ = "api_clients"

    id: Mapped[str] = uuid_pk()
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(enum_by_value(Role))
    smart_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    virtual_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"ApiClient(client_id={self.client_id!r}, role={self.role.value!r})"


class AccessToken(Base):
    """A bearer token valid until ``expires_at`` unless revoked (itself or its client)."""

    __tablename__ = "access_tokens"

    id: Mapped[str] = uuid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"AccessToken(client={self.client_id!r}, expires_at={self.expires_at!r})"
