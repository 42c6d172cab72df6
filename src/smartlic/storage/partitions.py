"""What Alembic's model comparison leaves alone on PostgreSQL (migration 0010_scale).

``events`` and ``rum_reports`` are partitioned by time there: the partitions (``events_p2026q1``,
``rum_reports_pdefault`` ...) are tables no model declares, and ``rum_reports``' idempotency key
carries the partition key (``received_at``) as PostgreSQL requires, so it differs from the
model's ``(instance_id, report_id)``. The trigram indexes of the device search (``ixpg_*``) use an
operator class SQLite has not. SQLite keeps the plain tables and is compared in full.
"""

from __future__ import annotations

import re
from typing import Any

PARTITION = re.compile(r"^(events|rum_reports)_p(\d{4}q\d|default)$")
PG_ONLY_INDEX = "ixpg_"
PG_UNIQUE = "uq_rum_reports_instance_id_report_id"


def include_object(dialect: str) -> Any:
    """An Alembic ``include_object`` hook for a connection of ``dialect``."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if dialect != "postgresql" or name is None:
            return True
        if type_ == "table":
            return not PARTITION.match(name)
        if type_ == "index":
            return not name.startswith(PG_ONLY_INDEX)
        if type_ == "unique_constraint":
            return name != PG_UNIQUE
        return True

    return include
