"""Keyset pages (formats/cursor.py): the WHERE that starts a page after its cursor, and the
cursor of the page that follows.

A list sorts on a unique key (``(registered_at, id)`` or ``id``) that an index serves; a page
is ``WHERE key > cursor ORDER BY key LIMIT n + 1`` (``<`` newest first), the extra row only
telling whether a next page exists. Offsets keep working beside it (``offset`` pages count the
total; keyset pages do not, that count being the scan they avoid).

Usage::

    q = after(q, cols, cursor, ("time", "text"))
    rows = s.execute(q.order_by(*cols).limit(limit + 1)).all()
    rows, token = split(rows, limit, lambda row: [row[0].registered_at, row[0].id])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import literal, tuple_

from smartlic.errors import InvalidInput
from smartlic.formats.cursor import Part, decode_cursor, encode_cursor

R = TypeVar("R")


def check_cursor(cursor: str | None, offset: int) -> None:
    if cursor is not None and offset:
        raise InvalidInput("give either a cursor or an offset, not both", pointer="/offset")


def after(
    q: Any,  # a Select; its row types stay the caller's
    cols: Sequence[Any],
    cursor: str | None,
    shape: tuple[Part, ...],
    *,
    descending: bool = False,
) -> Any:
    """``q`` limited to the rows after ``cursor`` (none: from the start)."""
    if not cursor:
        return q
    key = decode_cursor(cursor, shape)
    if len(cols) == 1:
        return q.where(cols[0] < key[0] if descending else cols[0] > key[0])
    # typed binds: SQLite compares the stored text form of a datetime
    theirs = tuple_(*(literal(v, c.type) for v, c in zip(key, cols, strict=True)))
    ours = tuple_(*cols)
    return q.where(ours < theirs if descending else ours > theirs)


def split(
    rows: Sequence[R], limit: int, key: Callable[[R], list[Any]]
) -> tuple[list[R], str | None]:
    """The page (first ``limit`` rows) and the cursor of the next one (None: last page)."""
    page = list(rows[:limit])
    if len(rows) <= limit or not page:
        return page, None
    return page, encode_cursor(key(page[-1]))
