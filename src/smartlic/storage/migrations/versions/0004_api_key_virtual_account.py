"""API keys scoped to one virtual account.

``api_keys.virtual_account_id`` names the virtual account of a key holding a virtual-account
role (``virtual-account-admin`` / ``-user``); such a key sees and changes that virtual account
only (``smartlic.authority.services.scope``). Keys of the other roles leave it NULL. A key goes
with its virtual account (ON DELETE CASCADE). Virtual-account keys made before this revision
have no virtual account and are granted nothing until replaced.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 02:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("virtual_account_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_api_keys_virtual_account_id"), ["virtual_account_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_virtual_account_id_virtual_accounts"),
            "virtual_accounts",
            ["virtual_account_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_keys_virtual_account_id_virtual_accounts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_api_keys_virtual_account_id"))
        batch_op.drop_column("virtual_account_id")
