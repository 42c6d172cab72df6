"""CSSM compatibility: OAuth2 API clients and access tokens, numeric account ids, sealed
registration-token text.

* ``api_clients`` (client credentials holding one grant, secret stored as SHA-256) and
  ``access_tokens`` (SHA-256 of short-lived bearer tokens, optionally for a portal user).
* ``smart_accounts.number`` / ``virtual_accounts.number``: the stable numeric ids the vendor's
  API shows; existing rows are numbered in creation order.
* ``registration_tokens.text_sealed``: the token text, AES-GCM sealed with the key directory's
  ``token.key``; tokens made before this revision have none (their text is not retrievable).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 03:25:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smartlic.storage.base import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_ROLE = sa.Enum(
    "admin",
    "smart-account-admin",
    "smart-account-user",
    "virtual-account-admin",
    "virtual-account-user",
    name="role",
    native_enum=False,
    length=40,
)


def _number(table: str) -> None:
    rows = op.get_bind().execute(sa.text(f"SELECT id FROM {table} ORDER BY created_at, id"))
    for n, (row_id,) in enumerate(rows.fetchall(), start=1):
        op.execute(
            sa.text(f"UPDATE {table} SET number = :n WHERE id = :id").bindparams(n=n, id=row_id)
        )


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("role", _ROLE, nullable=False),
        sa.Column("smart_account_id", sa.String(length=36), nullable=True),
        sa.Column("virtual_account_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["smart_account_id"],
            ["smart_accounts.id"],
            name=op.f("fk_api_clients_smart_account_id_smart_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["virtual_account_id"],
            ["virtual_accounts.id"],
            name=op.f("fk_api_clients_virtual_account_id_virtual_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
    )
    for col in ("smart_account_id", "virtual_account_id"):
        op.create_index(op.f(f"ix_api_clients_{col}"), "api_clients", [col], unique=False)
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_access_tokens_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_access_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_tokens_token_hash")),
    )
    for col in ("client_id", "user_id", "expires_at"):
        op.create_index(op.f(f"ix_access_tokens_{col}"), "access_tokens", [col], unique=False)
    for table in ("smart_accounts", "virtual_accounts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
        _number(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_unique_constraint(batch_op.f(f"uq_{table}_number"), ["number"])
    with op.batch_alter_table("registration_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registration_tokens", schema=None) as batch_op:
        batch_op.drop_column("text_sealed")
    for table in ("virtual_accounts", "smart_accounts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"uq_{table}_number"), type_="unique")
            batch_op.drop_column("number")
    op.drop_table("access_tokens")
    op.drop_table("api_clients")
