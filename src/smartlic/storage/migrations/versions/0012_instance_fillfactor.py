"""PostgreSQL: product instance rows are stored with room to be updated in place
(``fillfactor = 85``).

Every registration, authorization and usage report updates its instance's row
(``last_contact_at``, ``last_report_at``: columns no index holds). PostgreSQL can then write the
new version on the same page without touching any of the table's twelve indexes (a "HOT"
update) - if the page has room. Pages filled to the brim (the default) leave none: on a
million-instance database none of the benchmark's updates was HOT (``pg_stat_user_tables``:
0 of 64), each inserting into every index, the three trigram GIN indexes included, where the
empty database's were all HOT; the update cost 0.28 ms of database time against 0.07 ms
(docs/benchmarks.md, "Scale"). With 15% of each page kept free, new rows and their updates
stay on their page.

Only pages written from now on keep the room; existing ones get it when the table is rewritten
(``VACUUM FULL product_instances``, which locks the table, or ``pg_repack``). SQLite has no such
setting.

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-30 08:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 85


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE product_instances SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE product_instances RESET (fillfactor)")
