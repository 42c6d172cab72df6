"""Notices, part two: webhook secrets sealed at rest; collectors' last contact.

* ``webhook_endpoints.secret`` (readable) becomes ``secret_sealed``: AES-256-GCM under the key
  directory's ``token.key``, bound to the endpoint's id (``smartlic.crypto.seal``, as
  registration-token texts are). Existing rows are sealed here, so this revision needs the
  sealing key when any webhook exists: ``smartlic authority init`` and ``smartlic admin db
  upgrade`` pass it (``storage.upgrade(url, sealing_key=...)``); without it the upgrade stops
  before changing anything.
* ``collector_contacts``: when each collector last reported for a smart account.

Revision ID: 0009
Revises: 0011 (written on 0007; chained after main's head at rebase)
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smartlic.crypto import open_sealed, seal
from smartlic.storage.base import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEEDS_KEY = (
    "webhook_endpoints holds {n} secret(s) to seal: run the upgrade with the authority's key "
    "directory (smartlic admin db upgrade, SMARTLIC_AUTHORITY_KEY_DIR)"
)


def _sealing_key(rows: int) -> bytes:
    key = op.get_context().config.attributes.get("sealing_key") or b""  # type: ignore[union-attr]
    if rows and not key:
        raise RuntimeError(_NEEDS_KEY.format(n=rows))
    return bytes(key)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, secret FROM webhook_endpoints")).fetchall()
    key = _sealing_key(len(rows))
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_sealed", sa.LargeBinary(), nullable=True))
    for row_id, secret in rows:
        conn.execute(
            sa.text("UPDATE webhook_endpoints SET secret_sealed = :s WHERE id = :id"),
            {"s": seal(key, secret, row_id), "id": row_id},
        )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("secret_sealed", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("secret")
    op.create_table(
        "collector_contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("smart_account_id", sa.String(length=36), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("first_contact_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_contact_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["smart_account_id"],
            ["smart_accounts.id"],
            name=op.f("fk_collector_contacts_smart_account_id_smart_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collector_contacts")),
        sa.UniqueConstraint(
            "smart_account_id", "caller", name=op.f("uq_collector_contacts_smart_account_id_caller")
        ),
    )
    for col in ("smart_account_id", "last_contact_at"):
        op.create_index(
            op.f(f"ix_collector_contacts_{col}"), "collector_contacts", [col], unique=False
        )


def downgrade() -> None:
    op.drop_table("collector_contacts")
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, secret_sealed FROM webhook_endpoints")).fetchall()
    key = _sealing_key(len(rows))
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.String(length=100), nullable=True))
    for row_id, sealed in rows:
        conn.execute(
            sa.text("UPDATE webhook_endpoints SET secret = :s WHERE id = :id"),
            {"s": open_sealed(key, bytes(sealed), row_id) or "", "id": row_id},
        )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("secret", existing_type=sa.String(length=100), nullable=False)
        batch_op.drop_column("secret_sealed")
