"""Alembic environment of the collector store (own metadata, own version table)."""

from __future__ import annotations

from alembic import context

from smartlic.collector.models import Base
from smartlic.collector.store import VERSION_TABLE
from smartlic.storage.engine import make_engine

config = context.config


def run_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _ours(obj: object, name: str | None, type_: str, reflected: bool, _compare: object) -> bool:
    """Compare only the collector's tables: the store may share a database with the authority."""
    if type_ == "table":
        return name in Base.metadata.tables
    table = getattr(obj, "table", None)
    return table is None or table.name in Base.metadata.tables


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        compare_type=True,
        include_object=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
