"""Numeric account ids are never reused: ``number_counters`` keeps the last id given out.

``smart_accounts.number`` / ``virtual_accounts.number`` (0007) were assigned as the largest in
use plus one, so deleting the newest virtual account gave its id to the next one created, and
a tool still sending the old id in ``X-CSW-VIRTUAL-ACCOUNT-ID`` landed in the new account.
Ids now come from one counter row per kind (``smart_accounts``, ``virtual_accounts``), taken
with an upsert that locks the row until commit (services/accounts.py ``next_number``).

The counters start at the largest id in use: an id deleted before this revision and larger
than every remaining one can still be given once more (nothing recorded it).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_number_counters")),
    )
    for table in ("smart_accounts", "virtual_accounts"):
        op.execute(
            sa.text(
                "INSERT INTO number_counters (name, last) "
                f"SELECT '{table}', COALESCE(MAX(number), 0) FROM {table}"
            )
        )


def downgrade() -> None:
    op.drop_table("number_counters")
