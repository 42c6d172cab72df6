"""``storage.prepared``: a Core statement run on the driver's cursor gives what
``Connection.execute`` gives (same rows, same type conversions, same changes), inside the
connection's transaction, seen by ``before_cursor_execute``, with SQLAlchemy's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, bindparam, delete, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartlic.domain.enums import Enforcement, InstanceStatus
from smartlic.storage.models import Event, License, ProductInstance, SmartAccount, VirtualAccount
from smartlic.storage.prepared import Prepared

LICENSES = cast(Table, License.__table__)
EVENTS = cast(Table, Event.__table__)
INSTANCES = cast(Table, ProductInstance.__table__)
WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)

BY_TAG = Prepared.listed(
    "tags",
    lambda tags: (
        select(LICENSES.c.id, LICENSES.c.tag, LICENSES.c.enforcement)
        .where(LICENSES.c.tag.in_(tags))
        .order_by(LICENSES.c.tag)
    ),
)
ADD_EVENT = Prepared(
    insert(EVENTS).values({c.name: bindparam(c.name) for c in EVENTS.c if c.name != "id"})
)
EVENTS_SINCE = Prepared(
    select(EVENTS.c.at, EVENTS.c.name, EVENTS.c.properties)
    .where(EVENTS.c.at >= bindparam("since"))
    .order_by(EVENTS.c.id)
)
TOUCH = Prepared(
    update(INSTANCES)
    .where(INSTANCES.c.id == bindparam("iid"))
    .values(status=bindparam("st"), last_contact_at=bindparam("at"))
    .returning(
        INSTANCES.c.status, INSTANCES.c.last_contact_at, INSTANCES.c.export_controlled_allowed
    )
)
DROP = Prepared.listed("tags", lambda tags: delete(LICENSES).where(LICENSES.c.tag.in_(tags)))


def _licenses(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        for i, enforcement in enumerate(
            [Enforcement.ENFORCED, Enforcement.EXPORT_CONTROLLED, Enforcement.ENFORCED]
        ):
            s.add(
                License(
                    id=f"lic-{i}", tag=f"tag.{i}", name=f"L{i}", display_name=f"L{i}",
                    enforcement=enforcement, created_at=WHEN,
                )
            )  # fmt: skip


def _instance(engine: Engine) -> str:
    with Session(engine) as s, s.begin():
        sa = SmartAccount(id="sa-1", name="P", domain="p.example", created_at=WHEN)
        va = VirtualAccount(id="va-1", smart_account=sa, name="DEFAULT", created_at=WHEN)
        s.add(va)
        s.flush()
        s.add(
            ProductInstance(
                id="inst-1", virtual_account_id=va.id, udi_pid="P", udi_sn="S", registered_at=WHEN,
                last_contact_at=WHEN, status=InstanceStatus.IN_COMPLIANCE,
                export_controlled_allowed=True,
            )
        )  # fmt: skip
    return "inst-1"


def test_listed_select_reads_what_execute_reads(engine: Engine) -> None:
    _licenses(engine)
    with engine.connect() as conn:
        for tags in (["tag.0"], ["tag.2", "tag.1", "tag.0"], ["tag.1", "nope"]):
            ran = BY_TAG.run(conn, {"tags": tags}).rows
            core = conn.execute(
                select(LICENSES.c.id, LICENSES.c.tag, LICENSES.c.enforcement)
                .where(LICENSES.c.tag.in_(tags))
                .order_by(LICENSES.c.tag)
            ).all()
            assert [tuple(r) for r in ran] == [tuple(r) for r in core]
            assert all(isinstance(r.enforcement, Enforcement) for r in ran)  # enum by value
        assert BY_TAG.run(conn, {"tags": []}).rows == []  # IN (): nothing, and not run


def test_types_round_trip_as_core_writes_and_reads_them(engine: Engine) -> None:
    props: dict[str, Any] = {"entitlements": {"tag.0": 2}, "nested": [1, None, "x"]}
    row = {
        "at": WHEN, "name": "prepared.test", "actor": "device:x", "smart_account_id": None,
        "virtual_account": "DEFAULT", "subject": "s", "properties": props,
    }  # fmt: skip
    with engine.begin() as conn:
        assert ADD_EVENT.run(conn, row).rowcount == 1
        conn.execute(insert(EVENTS).values({**row, "name": "core.test"}))
        ran = EVENTS_SINCE.run(conn, {"since": WHEN - timedelta(seconds=1)}).rows
    assert [r.name for r in ran] == ["prepared.test", "core.test"]
    assert ran[0].at == ran[1].at == WHEN and ran[0].at.tzinfo is not None  # aware UTC
    assert ran[0].properties == ran[1].properties == props  # JSON both ways
    with engine.connect() as conn:  # the row written by Prepared, read back by Core
        core = conn.execute(select(EVENTS).where(EVENTS.c.name == "prepared.test")).one()
    assert core.at == WHEN and core.properties == props and core.virtual_account == "DEFAULT"


def test_returning_executemany_and_rollback(engine: Engine) -> None:
    iid = _instance(engine)
    later = WHEN + timedelta(days=1)
    with engine.begin() as conn:
        back = TOUCH.run(conn, {"iid": iid, "st": InstanceStatus.OUT_OF_COMPLIANCE, "at": later})
        assert back.one() == (InstanceStatus.OUT_OF_COMPLIANCE, later, True)
        assert (
            TOUCH.run(
                conn, {"iid": "none", "st": InstanceStatus.IN_COMPLIANCE, "at": later}
            ).first()
            is None
        )
    _licenses(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:  # in the connection's transaction
        assert DROP.run(conn, {"tags": ["tag.0", "tag.1"]}).rowcount == 2
        raise RuntimeError
    with engine.connect() as conn:
        assert len(BY_TAG.run(conn, {"tags": ["tag.0", "tag.1", "tag.2"]}).rows) == 3
    many = Prepared(
        update(LICENSES).where(LICENSES.c.tag == bindparam("t")).values(name=bindparam("n"))
    )
    with engine.begin() as conn:
        many.run(conn, [{"t": "tag.0", "n": "zero"}, {"t": "tag.2", "n": "two"}])
    with engine.connect() as conn:
        names = dict(conn.execute(select(LICENSES.c.tag, LICENSES.c.name)).all())
    assert names == {"tag.0": "zero", "tag.1": "L1", "tag.2": "two"}


def test_statements_are_seen_and_errors_are_sqlalchemys(engine: Engine) -> None:
    _licenses(engine)
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.connect() as conn:
            BY_TAG.run(conn, {"tags": ["tag.0", "tag.1"]})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(seen) == 1 and "licenses" in seen[0]
    dup = Prepared(
        insert(LICENSES).values(
            id=bindparam("id"), tag=bindparam("tag"), name="x", enforcement=Enforcement.ENFORCED
        )
    )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        dup.run(conn, {"id": "lic-9", "tag": "tag.0"})  # the tag is unique


def test_several_lists_padded_read_what_execute_reads(engine: Engine) -> None:
    """Two list parameters in one statement; each list padded to a power of two by its last
    item, which changes no ``IN``: 3 tags and 5 ids are compiled as 4 and 8."""
    _licenses(engine)
    both = Prepared.listed(
        ("tags", "ids"),
        lambda tags, ids: (
            select(LICENSES.c.id)
            .where(LICENSES.c.tag.in_(tags) | LICENSES.c.id.in_(ids))
            .order_by(LICENSES.c.id)
        ),
    )
    with engine.connect() as conn:
        ran = both.run(conn, {"tags": ["tag.0", "nope", "x"], "ids": ["lic-2", "a", "b", "c", "d"]})
        assert [r.id for r in ran.rows] == ["lic-0", "lic-2"]
        assert set(both._plans) == {(conn.dialect.name, (4, 8))}
        with pytest.raises(ValueError, match="ids"):  # with several lists, none may be empty
            both.run(conn, {"tags": ["tag.0"], "ids": []})


def test_each_returns_every_set_in_order(engine: Engine) -> None:
    """``each``: one statement per parameter set, in order, with what each returned (one
    round trip on psycopg), inside the connection's transaction."""
    _licenses(engine)
    rename = Prepared(
        update(LICENSES)
        .where(LICENSES.c.tag == bindparam("t"))
        .values(name=bindparam("n"))
        .returning(LICENSES.c.id, LICENSES.c.name, LICENSES.c.enforcement)
    )
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    sets = [{"t": "tag.2", "n": "two"}, {"t": "none", "n": "-"}, {"t": "tag.0", "n": "zero"}]
    with pytest.raises(RuntimeError), engine.begin() as conn:
        ran = rename.each(conn, sets)
        assert [r.rows for r in ran] == [
            [("lic-2", "two", Enforcement.ENFORCED)],
            [],
            [("lic-0", "zero", Enforcement.ENFORCED)],
        ]
        assert isinstance(ran[0].one().enforcement, Enforcement)
        assert len(seen) == (1 if engine.dialect.driver == "psycopg" else 3)
        raise RuntimeError  # rolled back with the connection's transaction
    with engine.connect() as conn:
        assert (
            conn.execute(select(LICENSES.c.name).where(LICENSES.c.id == "lic-2")).scalar() == "L2"
        )


def test_statements_that_need_expansion_are_refused() -> None:
    with pytest.raises(ValueError, match="listed"):
        from sqlalchemy.dialects import sqlite

        stmt = select(LICENSES.c.id).where(LICENSES.c.tag.in_(bindparam("t", expanding=True)))
        Prepared(stmt)._plan(sqlite.dialect(), ())
