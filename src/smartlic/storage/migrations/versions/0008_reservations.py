"""Classic license reservations (SLR / PLR) and node-locked license files (issue 11).

* ``license_reservations``: one per request code (unique: a code is reserved once), with the
  device's reservation key (to check its return code), the signed authorization code and
  ``returned_at``; ``license_reservation_lines``: the licenses and counts of a specific one,
  held as ``reserved`` in ``pool_counters`` until returned.
* ``license_files``: the node-locked license files the authority signed, from a virtual
  account's holdings (``license_id`` set, its count held as ``reserved``) or standalone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 04:50:16.692551
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartlic.storage.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "license_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("smart_account_id", sa.String(length=36), nullable=False),
        sa.Column("virtual_account_id", sa.String(length=36), nullable=True),
        sa.Column("license_id", sa.String(length=36), nullable=True),
        sa.Column("udi_pid", sa.String(length=64), nullable=False),
        sa.Column("udi_sn", sa.String(length=64), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("eval_days", sa.Integer(), nullable=True),
        sa.Column("issued_at", smartlic.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_files_license_id_licenses")
        ),
        sa.ForeignKeyConstraint(
            ["smart_account_id"],
            ["smart_accounts.id"],
            name=op.f("fk_license_files_smart_account_id_smart_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["virtual_account_id"],
            ["virtual_accounts.id"],
            name=op.f("fk_license_files_virtual_account_id_virtual_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_files")),
        sa.UniqueConstraint("serial", name=op.f("uq_license_files_serial")),
    )
    with op.batch_alter_table("license_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_files_smart_account_id"), ["smart_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_license_files_udi_sn"), ["udi_sn"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_license_files_virtual_account_id"), ["virtual_account_id"], unique=False
        )

    op.create_table(
        "license_reservations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("virtual_account_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("udi_pid", sa.String(length=64), nullable=False),
        sa.Column("udi_sn", sa.String(length=64), nullable=False),
        sa.Column("request_code", sa.String(length=300), nullable=False),
        sa.Column("reservation_type", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("code_id", sa.String(length=36), nullable=False),
        sa.Column("confirmation_code", sa.String(length=16), nullable=False),
        sa.Column("authorization_code", sa.Text(), nullable=False),
        sa.Column("issued_at", smartlic.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("returned_at", smartlic.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["product_instances.id"],
            name=op.f("fk_license_reservations_instance_id_product_instances"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["virtual_account_id"],
            ["virtual_accounts.id"],
            name=op.f("fk_license_reservations_virtual_account_id_virtual_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_reservations")),
        sa.UniqueConstraint("code_id", name=op.f("uq_license_reservations_code_id")),
        sa.UniqueConstraint("request_code", name=op.f("uq_license_reservations_request_code")),
    )
    with op.batch_alter_table("license_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_reservations_instance_id"), ["instance_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_license_reservations_udi_sn"), ["udi_sn"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_license_reservations_virtual_account_id"),
            ["virtual_account_id"],
            unique=False,
        )

    op.create_table(
        "license_reservation_lines",
        sa.Column("reservation_id", sa.String(length=36), nullable=False),
        sa.Column("license_id", sa.String(length=36), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_license_reservation_lines_license_id_licenses"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["license_reservations.id"],
            name=op.f("fk_license_reservation_lines_reservation_id_license_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "reservation_id", "license_id", name=op.f("pk_license_reservation_lines")
        ),
    )


def downgrade() -> None:
    op.drop_table("license_reservation_lines")
    with op.batch_alter_table("license_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_reservations_virtual_account_id"))
        batch_op.drop_index(batch_op.f("ix_license_reservations_udi_sn"))
        batch_op.drop_index(batch_op.f("ix_license_reservations_instance_id"))

    op.drop_table("license_reservations")
    with op.batch_alter_table("license_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_files_virtual_account_id"))
        batch_op.drop_index(batch_op.f("ix_license_files_udi_sn"))
        batch_op.drop_index(batch_op.f("ix_license_files_smart_account_id"))

    op.drop_table("license_files")
