"""Bounds on the values that come from outside: ids, times, text and page positions.

Every wire format checks its fields with these before anything is stored or computed, so that a
value the databases or ``datetime`` cannot hold is refused with ``InvalidInput`` (422) where it
enters, not answered with a 500 later, nor stored to break every read after it (issue 8,
finding 10: a report id of 2**63, an ``end_time`` of 2**62, a ``timestamp`` of 10**400, a lone
surrogate in a UDI, an offset of 2**63).

* ids fit a signed 64-bit integer (PostgreSQL ``bigint``, SQLite ``INTEGER``);
* times are between 2000-01-01 and 9999-12-31 UTC (``datetime`` holds no later year);
* text is valid Unicode that encodes to UTF-8 (no lone surrogates, no NUL: PostgreSQL refuses
  both) and has a maximum length;
* page offsets are bounded by ``MAX_OFFSET``.

Usage::

    report_id = check_id(ident.get("report_id"), "/payload/report_id", "report_id")
    end = check_time(m.get("end_time"), f"{ptr}/end_time", "end_time")
    pid = check_text(data.get("pid"), "/udi/pid", "udi.pid", max_len=64)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from smartlic.errors import InvalidInput

__all__ = [
    "EARLIEST",
    "INT64_MAX",
    "LATEST",
    "MAX_OFFSET",
    "check_id",
    "check_page",
    "check_text",
    "check_time",
    "clean_text",
    "decimal",
]

INT64_MAX = 2**63 - 1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
_EPOCH_S = (int(EARLIEST.timestamp()), int(LATEST.timestamp()))
# No listing holds a billion rows; any larger offset is a probe, not a page.
MAX_OFFSET = 1_000_000_000


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decimal(text: str, *, max_digits: int = 20) -> int | None:
    """The number ``text`` writes in ASCII decimal digits (one to ``max_digits`` of them), or
    None. Never ``str.isdigit`` then ``int``: ``isdigit`` also takes superscripts, which ``int``
    refuses (an exception where the answer is "not a number"), other scripts' digits, which
    ``int`` reads as numbers, and any length, where ``int`` refuses more than 4300 digits."""
    if not (0 < len(text) <= min(max_digits, 4300) and text.isascii() and text.isdigit()):
        return None
    return int(text)


def check_id(value: Any, pointer: str, name: str = "id", *, minimum: int = 1) -> int:
    """An integer id from ``minimum`` to 2**63-1."""
    if not _is_int(value) or not minimum <= value <= INT64_MAX:
        raise InvalidInput(f"{name} must be an integer {minimum}-{INT64_MAX}", pointer=pointer)
    result: int = value
    return result


def check_time(
    value: Any, pointer: str, name: str = "time", *, unit: Literal["s", "ms"] = "s"
) -> int:
    """Epoch seconds (or milliseconds) between ``EARLIEST`` and ``LATEST``."""
    scale = 1000 if unit == "ms" else 1
    low, high = _EPOCH_S[0] * scale, _EPOCH_S[1] * scale
    if not _is_int(value) or not low <= value <= high:
        what = "milliseconds" if unit == "ms" else "seconds"
        raise InvalidInput(
            f"{name} must be epoch {what} between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}",
            pointer=pointer,
        )
    result: int = value
    return result


def clean_text(text: str) -> bool:
    """True when ``text`` encodes to UTF-8 (no lone surrogates) and holds no NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: Any, pointer: str, name: str, *, max_len: int, min_len: int = 1) -> str:
    """A string of ``min_len``-``max_len`` characters of valid Unicode (``clean_text``)."""
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise InvalidInput(
            f"{name} must be a string of {min_len}-{max_len} characters", pointer=pointer
        )
    if not clean_text(value):
        raise InvalidInput(
            f"{name} must be valid Unicode text (no lone surrogates, no NUL)", pointer=pointer
        )
    return value


def check_page(limit: int, offset: int, max_limit: int) -> None:
    """A page of 1-``max_limit`` rows from an offset of 0-``MAX_OFFSET``."""
    if not 1 <= limit <= max_limit:
        raise InvalidInput(f"limit must be 1-{max_limit}", pointer="/limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be 0-{MAX_OFFSET}", pointer="/offset")
