"""Usage data files remember the SHA-256 of what was uploaded, so the same file uploaded again
to the same virtual account is answered with the first upload's ACK instead of a second row.

Files uploaded before this revision have no digest (they are never matched).

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-30 05:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_files") as batch:
        batch.add_column(sa.Column("digest", sa.String(64), nullable=True))
        batch.create_index("ix_usage_files_va_digest", ["virtual_account_id", "digest"])


def downgrade() -> None:
    with op.batch_alter_table("usage_files") as batch:
        batch.drop_index("ix_usage_files_va_digest")
        batch.drop_column("digest")
