"""Sorting and filtering of the portal's lists, one way for every table.

A list page reads ``?sort=<column>&order=asc|desc&filter=<text>`` into a :class:`Listing`; the
page's column headers are links that sort by that column (``ui.sort_header``) and a filter box
keeps only rows whose visible text contains the words typed. Lists that fit on one page are
sorted here; paged lists (product instances) pass the sort on to their service, which sorts in
SQL, and take the same query parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

__all__ = ["Listing", "listing"]

Row = TypeVar("Row")
MAX_FILTER = 100


@dataclass(frozen=True)
class Listing:
    """The sort and filter a reader chose for one table."""

    sort: str
    descending: bool
    filter: str

    def query(self, **changes: str) -> str:
        """The query string of this listing with some parameters changed (for links)."""
        params = {"sort": self.sort, "order": "desc" if self.descending else "asc"}
        if self.filter:
            params["filter"] = self.filter
        params.update(changes)
        return urlencode(params)

    def toggle(self, column: str) -> str:
        """The query string that sorts by ``column`` (reversing it when it is the current one)."""
        flip = column == self.sort and not self.descending
        return self.query(sort=column, order="desc" if flip else "asc")

    def arrow(self, column: str) -> str:
        if column != self.sort:
            return ""
        return " ▼" if self.descending else " ▲"

    def aria(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"

    def apply(
        self,
        rows: Iterable[Row],
        keys: Mapping[str, Callable[[Row], Any]],
        text: Callable[[Row], str],
    ) -> list[Row]:
        """``rows`` filtered by the filter's words (all must occur) and sorted by the column."""
        words = self.filter.lower().split()
        kept = [r for r in rows if all(w in text(r).lower() for w in words)]
        key = keys[self.sort]
        return sorted(kept, key=lambda r: _sortable(key(r)), reverse=self.descending)


def listing(
    params: Mapping[str, str], columns: Sequence[str], *, default: str, descending: bool = False
) -> Listing:
    """The :class:`Listing` of a request's query parameters; unknown columns fall back."""
    sort = params.get("sort", default)
    order = params.get("order")
    return Listing(
        sort=sort if sort in columns else default,
        descending=(order == "desc") if order in ("asc", "desc") else descending,
        filter=params.get("filter", "")[:MAX_FILTER],
    )


def _sortable(value: Any) -> tuple[int, Any]:
    """Sort key that puts missing values last and compares text without case."""
    if value is None:
        return (1, "")
    if isinstance(value, str):
        return (0, value.lower())
    return (0, value)
