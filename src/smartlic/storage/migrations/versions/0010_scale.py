"""Scale (issue 14): keyset-page indexes; on PostgreSQL, usage and events partitioned by time and
trigram indexes for device search.

Both databases:

* ``product_instances (virtual_account_id, registered_at, id)`` and ``(registered_at, id)``:
  the keyset pages of the device list (they replace ``ix_product_instances_virtual_account_id``);
* ``events (smart_account_id, id)``: an account's log newest first (replaces
  ``ix_events_smart_account_id``);
* ``rum_reports (instance_id, end_time)``: one device's usage history newest first (replaces
  ``ix_rum_reports_instance_id``).

PostgreSQL only (SQLite stays plain):

* ``events`` is partitioned by ``RANGE (at)`` and ``rum_reports`` by ``RANGE (received_at)``,
  one partition per quarter of 2025-2027 and a ``DEFAULT`` partition for any other time (a lab
  clock in 2000 or 9999 still stores). PostgreSQL wants the partition key in every unique
  constraint: the primary keys become ``(id, at)`` / ``(id, received_at)`` (ids still come from
  one sequence, so they stay unique) and ``rum_reports``' idempotency key becomes
  ``(instance_id, report_id, received_at)``; the ingest keeps a report exactly-once by locking
  the instance row before it looks for the reports it has seen (services/_ingest.py). Alembic's
  comparison skips the partitions and that one constraint on PostgreSQL
  (``storage/partitions.py``).
* ``pg_trgm`` GIN indexes on ``lower(hostname)``, ``lower(udi_sn)``, ``lower(udi_pid)``: the
  device search is a substring match (``LIKE '%x%'``), which no B-tree serves.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The final shape of the partitioned tables (the same names as the models give them).
PARTITIONED: list[dict[str, Any]] = [
    {
        "table": "events",
        "key": "at",
        "fks": [
            (
                "fk_events_smart_account_id_smart_accounts",
                "smart_account_id",
                "smart_accounts (id)",
                "CASCADE",
            )
        ],
        "indexes": [
            ("ix_events_at", "at"),
            ("ix_events_name", "name"),
            ("ix_events_account_page", "smart_account_id, id"),
        ],
        "uniques": [],
    },
    {
        "table": "rum_reports",
        "key": "received_at",
        "fks": [
            (
                "fk_rum_reports_instance_id_product_instances",
                "instance_id",
                "product_instances (id)",
                "CASCADE",
            ),
            ("fk_rum_reports_license_id_licenses", "license_id", "licenses (id)", ""),
            (
                "fk_rum_reports_usage_file_id_usage_files",
                "usage_file_id",
                "usage_files (id)",
                "SET NULL",
            ),
        ],
        "indexes": [
            ("ix_rum_reports_instance_end", "instance_id, end_time"),
            ("ix_rum_reports_license_id", "license_id"),
            ("ix_rum_reports_usage_file_id", "usage_file_id"),
        ],
        "uniques": [("uq_rum_reports_instance_id_report_id", "instance_id, report_id")],
    },
]
# device search: substring matches (named ixpg_*: storage/partitions.py hides them from alembic)
TRGM_INDEXES = [
    ("ixpg_product_instances_hostname_trgm", "hostname"),
    ("ixpg_product_instances_udi_sn_trgm", "udi_sn"),
    ("ixpg_product_instances_udi_pid_trgm", "udi_pid"),
]


def partition_bounds() -> list[tuple[str, str, str]]:
    """(suffix, from, to) of each quarter of 2025-2027, UTC."""
    out = []
    for year in (2025, 2026, 2027):
        for q in range(4):
            low = f"{year}-{3 * q + 1:02d}-01 00:00:00+00"
            high = f"{year + (q == 3)}-{(3 * q + 3) % 12 + 1:02d}-01 00:00:00+00"
            out.append((f"{year}q{q + 1}", low, high))
    return out


# (table, old single-column index, its column, new index, its columns)
_INDEXES = [
    (
        "product_instances",
        "ix_product_instances_virtual_account_id",
        "virtual_account_id",
        [
            ("ix_product_instances_va_page", ["virtual_account_id", "registered_at", "id"]),
            ("ix_product_instances_page", ["registered_at", "id"]),
        ],
    ),
    (
        "events",
        "ix_events_smart_account_id",
        "smart_account_id",
        [("ix_events_account_page", ["smart_account_id", "id"])],
    ),
    (
        "rum_reports",
        "ix_rum_reports_instance_id",
        "instance_id",
        [("ix_rum_reports_instance_end", ["instance_id", "end_time"])],
    ),
]


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for table, old, _col, new in _INDEXES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(old)
            for name, cols in new:
                batch.create_index(name, cols)
    if _is_pg():
        for spec in PARTITIONED:
            _partition(spec)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, column in TRGM_INDEXES:
            op.execute(
                f"CREATE INDEX {name} ON product_instances USING gin (lower({column}) gin_trgm_ops)"
            )


def downgrade() -> None:
    if _is_pg():
        for name, _column in TRGM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        for spec in PARTITIONED:
            _unpartition(spec)
    for table, old, col, new in _INDEXES:
        with op.batch_alter_table(table) as batch:
            for name, _cols in new:
                batch.drop_index(name)
            batch.create_index(old, [col])


def _partition(spec: dict[str, Any]) -> None:
    """Replace the plain table by one partitioned by time, keeping rows, names and sequence."""
    t, key = spec["table"], spec["key"]
    op.execute(f"CREATE TABLE {t}_new (LIKE {t} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})")
    for suffix, low, high in partition_bounds():
        op.execute(
            f"CREATE TABLE {t}_p{suffix} PARTITION OF {t}_new "
            f"FOR VALUES FROM ('{low}') TO ('{high}')"
        )
    op.execute(f"CREATE TABLE {t}_pdefault PARTITION OF {t}_new DEFAULT")
    op.execute(f"INSERT INTO {t}_new SELECT * FROM {t}")
    op.execute(f"ALTER SEQUENCE {t}_id_seq OWNED BY NONE")
    op.execute(f"DROP TABLE {t}")
    op.execute(f"ALTER TABLE {t}_new RENAME TO {t}")
    op.execute(f"ALTER SEQUENCE {t}_id_seq OWNED BY {t}.id")
    _constraints(spec, ["id", str(key)], unique_extra=[str(key)])


def _unpartition(spec: dict[str, Any]) -> None:
    t = spec["table"]
    op.execute(f"CREATE TABLE {t}_plain (LIKE {t} INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {t}_plain SELECT * FROM {t}")
    op.execute(f"ALTER SEQUENCE {t}_id_seq OWNED BY NONE")
    op.execute(f"DROP TABLE {t}")  # and its partitions
    op.execute(f"ALTER TABLE {t}_plain RENAME TO {t}")
    op.execute(f"ALTER SEQUENCE {t}_id_seq OWNED BY {t}.id")
    _constraints(spec, ["id"], unique_extra=[])


def _constraints(spec: dict[str, Any], pk: list[str], unique_extra: list[str]) -> None:
    t = spec["table"]
    op.execute(f"ALTER TABLE {t} ADD CONSTRAINT pk_{t} PRIMARY KEY ({', '.join(pk)})")
    for name, cols, target, on_delete in spec["fks"]:
        op.execute(
            f"ALTER TABLE {t} ADD CONSTRAINT {name} FOREIGN KEY ({cols}) "
            f"REFERENCES {target}{' ON DELETE ' + on_delete if on_delete else ''}"
        )
    for name, cols in spec["indexes"]:
        op.execute(f"CREATE INDEX {name} ON {t} ({cols})")
    for name, cols in spec["uniques"]:
        all_cols = ", ".join([cols, *unique_extra])
        op.execute(f"ALTER TABLE {t} ADD CONSTRAINT {name} UNIQUE ({all_cols})")
