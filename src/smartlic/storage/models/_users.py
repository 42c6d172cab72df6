"""Portal users and their role grants (domain-notes 5.2 roles, as API keys hold them).

A grant names a role and the scope it applies to: no account for ``admin`` (the whole
authority), a smart account for ``smart-account-*``, a virtual account (and its smart account)
for ``virtual-account-*``. Grants follow renames: they point at ids, not names.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smartlic.domain.enums import Role
from smartlic.storage.base import Base, enum_by_value, uuid_pk


class User(Base):
    """A person who logs in to the portal; only an Argon2id hash of the password is stored."""

    __tablename__ = "users"

    id: Mapped[str] = uuid_pk()
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleGrant.created_at"
    )

    def __repr__(self) -> str:
        return f"User(username={self.username!r}, disabled={self.disabled})"


class RoleGrant(Base):
    """One role of one user, over the whole authority, a smart account or a virtual account."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "role", "smart_account_id", "virtual_account_id", name="uq_role_grants"
        ),
    )

    id: Mapped[str] = uuid_pk()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_by_value(Role))
    smart_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), index=True
    )
    virtual_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(back_populates="grants")

    def __repr__(self) -> str:
        return f"RoleGrant(role={self.role.value!r}, user_id={self.user_id!r})"
