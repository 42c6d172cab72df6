"""Alert marks: how a warning is raised once (``alert_marks``, one row per warning raised).

``mark`` inserts a key once (``ON CONFLICT DO NOTHING``) and tells the one transaction that
inserted it; ``upsert_mark`` stores the time a recurring condition was last warned about (an
instance's last contact, an ACK deadline, a collector's last contact), so the next occurrence,
with a later time, is warned about again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from smartlic.storage.models import AlertMark

__all__ = ["mark", "marks_at", "upsert_mark"]


def _insert(s: Session) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def mark(s: Session, key: str, now: datetime) -> bool:
    """Insert the mark; True only for the transaction that inserted it."""
    stmt = _insert(s)(AlertMark).values(key=key, at=now).on_conflict_do_nothing()
    return s.execute(stmt.returning(AlertMark.key)).first() is not None


def upsert_mark(s: Session, key: str, at: datetime) -> None:
    stmt = _insert(s)(AlertMark).values(key=key, at=at)
    s.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"at": at}))


def marks_at(s: Session, keys: list[str]) -> dict[str, datetime]:
    q = select(AlertMark.key, AlertMark.at).where(AlertMark.key.in_(keys))
    return {str(k): at for k, at in s.execute(q)}
