"""Core statements run at the driver's cost, for the hottest paths (issue 14: an authorization).

``Connection.execute`` of a statement SQLAlchemy has already compiled and cached still costs
about 25 times the driver's own ``cursor.execute`` (cache key, execution context, parameter
and result set-up, events): more than the SQL itself for the small statements of a device
request. A ``Prepared`` statement is compiled by SQLAlchemy once per dialect (and per length
of its list parameter), then run on the connection's DBAPI cursor with the column types' own
bind and result processors, inside the connection's transaction. A statement with list
parameters (an ``IN``) is built for each length of its lists: a list is padded to a power of
two by repeating its last item, which changes no ``IN``, so few lengths are ever compiled.

Kept from ``Connection.execute``: the SQL SQLAlchemy renders, the types' conversions (UTC
datetimes, enums by value, booleans), the ``before_cursor_execute`` event (statement counters
and logging still see every statement) and errors raised as ``sqlalchemy.exc.DBAPIError``
subclasses. Not supported: statements whose parameters need SQLAlchemy's post-compile
expansion (``bindparam(..., expanding=True)``: use ``Prepared.listed``), ORM statements,
server-side defaults read back, and a statement derived from one already compiled (its
``.returning()`` keeps the columns the first exported: none; build it anew). A ``Session``
runs them on its connection: these are Core statements, which a session never autoflushes
for.

::

    _HELD = Prepared(select(usage.c.license_id, usage.c.count).where(
        usage.c.instance_id == bindparam("iid")))
    rows = _HELD.run(conn, {"iid": instance_id}).rows          # plain tuples (named)
    _BY_TAG = Prepared.listed("tags", lambda tags: select(...).where(lic.c.tag.in_(tags)))
    rows = _BY_TAG.run(conn, {"tags": ["a", "b"]}).rows
    _BOTH = Prepared.listed(("tags", "ids"), lambda tags, ids: union_all(...))  # several lists
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import BindParameter, Connection, Dialect, bindparam
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["Prepared", "Ran"]

_MAX_PLANS = 64  # per statement: dialects x lengths of the list parameters (padded)


class Ran(NamedTuple):
    """What a run returned: its rows (named tuples; empty without RETURNING or a SELECT) and
    the driver's row count."""

    rows: list[Any]
    rowcount: int

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise sa_exc.NoResultFound(f"expected one row, got {len(self.rows)}")
        return self.rows[0]


class _Plan:
    """One statement compiled for one dialect: its SQL, parameter order and converters."""

    def __init__(self, stmt: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, stmt.compile(dialect=dialect))
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a Prepared statement cannot expand parameters (use listed)")
        if compiled.escaped_bind_names:
            raise ValueError("a Prepared statement's parameter names must need no escaping")
        self.sql = compiled.string
        self.dialect = dialect
        names = compiled.positiontup
        self.positional: list[str] | None = list(names) if names is not None else None
        self.binds: dict[str, BindParameter[Any]] = dict(compiled.binds)
        self.fixed = {  # literal values the statement carries (a constant in a WHERE)
            name: b.value for name, b in self.binds.items() if not b.required and b.callable is None
        }
        procs = {
            name: b.type.dialect_impl(dialect).bind_processor(dialect)
            for name, b in self.binds.items()
        }
        # (name, processor or None) in the order the driver takes them
        self.order = [(n, procs[n]) for n in (self.positional or self.binds)]
        columns = list(getattr(stmt, "exported_columns", ()))
        result = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.convert = [(i, p) for i, p in enumerate(result) if p is not None]
        self.row: Any = (
            namedtuple("row", [c.key for c in columns], rename=True) if columns else None
        )

    def parameters(self, values: Mapping[str, Any]) -> Any:
        full = {**self.fixed, **values} if self.fixed else values
        if self.positional is not None:
            return tuple([full[n] if p is None else p(full[n]) for n, p in self.order])
        return {n: full[n] if p is None else p(full[n]) for n, p in self.order}

    def rows(self, raw: list[Any]) -> list[Any]:
        make = self.row
        assert make is not None
        if not self.convert:
            return [make._make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for i, p in self.convert:
                values[i] = p(values[i])
            out.append(make._make(values))
        return out


class Prepared:
    """A Core statement compiled once per dialect, run at the driver's cost (module doc)."""

    def __init__(
        self,
        stmt: ClauseElement | None = None,
        *,
        listed: tuple[tuple[str, ...], Callable[..., ClauseElement]] | None = None,
    ) -> None:
        if (stmt is None) == (listed is None):
            raise ValueError("give a statement, or a list parameter's name and builder")
        self._stmt = stmt
        self._listed = listed
        self._plans: dict[tuple[str, tuple[int, ...]], _Plan] = {}
        self._lock = threading.Lock()

    @classmethod
    def listed(cls, names: str | tuple[str, ...], build: Callable[..., ClauseElement]) -> Prepared:
        """A statement with list parameters ``names`` (each an ``IN``): ``build`` makes it from
        one list of bound parameters per name, as many as its list has items once padded (see
        the module doc); compiled once per padded length. With one list parameter an empty
        list reads or changes nothing, and is not run; with several, an empty one is refused."""
        return cls(listed=((names,) if isinstance(names, str) else names, build))

    def run(
        self, db: Session | Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> Ran:
        """Run with ``params`` (a list of them: one ``executemany``, no rows back) in ``db``'s
        transaction."""
        conn = db.connection() if isinstance(db, Session) else db
        many = not isinstance(params, dict)
        lengths: list[int] = []
        if self._listed is not None:
            if many:
                raise ValueError("a listed statement runs one parameter set at a time")
            names = self._listed[0]
            expanded = dict(cast(Mapping[str, Any], params))
            for name in names:
                items = list(expanded[name])
                if not items:
                    if len(names) == 1:  # IN () matches nothing: nothing to read or change
                        return Ran([], 0)
                    raise ValueError(f"the list parameter {name!r} is empty")
                size = 1 << (len(items) - 1).bit_length()  # padded: few lengths to compile
                items += [items[-1]] * (size - len(items))
                expanded.update({f"{name}_{i}": v for i, v in enumerate(items)})
                lengths.append(size)
            params = expanded
        plan = self._plan(conn.dialect, tuple(lengths))
        sent: Any
        if many:
            sent = [plan.parameters(p) for p in cast(Sequence[Mapping[str, Any]], params)]
        else:
            sent = plan.parameters(cast(Mapping[str, Any], params))
        out, rowcount = self._send(conn, plan, sent, "many" if many else "one")
        return Ran(out[0] if out else [], rowcount)

    def each(self, db: Session | Connection, params: Sequence[Mapping[str, Any]]) -> list[Ran]:
        """Run once per parameter set, in order, in ``db``'s transaction, and return what each
        run returned (its ``RETURNING`` rows): on psycopg in one round trip (``executemany``
        with ``returning``), elsewhere one ``execute`` per set. Not for listed statements."""
        if self._listed is not None:
            raise ValueError("a listed statement runs one parameter set at a time")
        conn = db.connection() if isinstance(db, Session) else db
        plan = self._plan(conn.dialect, ())
        sent = [plan.parameters(p) for p in params]
        if plan.dialect.driver == "psycopg" and len(sent) > 1:
            return [Ran(rows, len(rows)) for rows in self._send(conn, plan, sent, "each")[0]]
        ran = []
        for one in sent:
            out, rowcount = self._send(conn, plan, one, "one")
            ran.append(Ran(out[0] if out else [], rowcount))
        return ran

    @staticmethod
    def _send(conn: Connection, plan: _Plan, sent: Any, mode: str) -> tuple[list[list[Any]], int]:
        """Execute on a DBAPI cursor of ``conn``: ``one`` parameter set, ``many`` (an
        ``executemany``, no rows back) or ``each`` (psycopg's ``executemany`` keeping each
        set's result); the rows returned, one list per result, and the driver's row count."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            before = conn.dispatch.before_cursor_execute
            if before:
                before(conn, cursor, plan.sql, sent, None, mode != "one")
            try:
                out: list[list[Any]] = []
                if mode == "one":
                    cursor.execute(plan.sql, sent)
                    if plan.row is not None:
                        out.append(plan.rows(cast(list[Any], cursor.fetchall())))
                elif mode == "many":
                    cursor.executemany(plan.sql, sent)
                else:
                    cursor.executemany(plan.sql, sent, returning=True)  # type: ignore[call-arg]
                    out.append(plan.rows(cast(list[Any], cursor.fetchall())))
                    while cursor.nextset():
                        out.append(plan.rows(cast(list[Any], cursor.fetchall())))
            except plan.dialect.loaded_dbapi.Error as exc:
                raise sa_exc.DBAPIError.instance(
                    plan.sql, sent, exc, plan.dialect.loaded_dbapi.Error, dialect=plan.dialect
                ) from exc
            return out, cursor.rowcount
        finally:
            cursor.close()

    def _plan(self, dialect: Dialect, lengths: tuple[int, ...]) -> _Plan:
        key = (dialect.name, lengths)
        plan = self._plans.get(key)
        if plan is None:
            if self._listed is not None:
                names, build = self._listed
                stmt = build(
                    *(
                        [bindparam(f"{name}_{i}") for i in range(n)]
                        for name, n in zip(names, lengths, strict=True)
                    )
                )
            else:
                stmt = cast(ClauseElement, self._stmt)
            plan = _Plan(stmt, dialect)
            with self._lock:
                if len(self._plans) >= _MAX_PLANS:
                    self._plans.clear()
                self._plans[key] = plan
        return plan
