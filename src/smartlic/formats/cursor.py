"""Page cursors: where a keyset page of a list ends, as an opaque URL-safe token.

An offset page makes the database walk past every skipped row (page 10,000 of a million
instances reads 500,000 rows first); a keyset page starts from the last row it returned, found
through an index, at the same cost on every page. The token carries that row's sort key — for
product instances ``(registered_at, id)``, for events ``id`` — as base64url JSON, so a client
passes back exactly what it got in ``next`` and never builds one by hand.

A token that does not decode to the expected shape (tampered, truncated, from another list) is
refused with ``InvalidInput`` (422), like any bad page parameter.

Usage::

    token = encode_cursor(["2026-03-01T08:09:10+00:00", "8b1e..."])
    at, ident = decode_cursor(token, ("time", "text"))
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Literal

from smartlic.errors import InvalidInput
from smartlic.formats.bounds import EARLIEST, INT64_MAX, LATEST

__all__ = ["MAX_CURSOR", "decode_cursor", "encode_cursor"]

MAX_CURSOR = 200  # characters: a time and a UUID fit with room to spare
Part = Literal["time", "text", "id"]


def encode_cursor(key: list[Any]) -> str:
    """The token of a sort key (datetimes as ISO 8601)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, shape: tuple[Part, ...]) -> list[Any]:
    """The sort key of ``token``, each part checked against ``shape``."""
    try:
        if len(token) > MAX_CURSOR:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(shape):
            raise ValueError("wrong shape")
        return [_part(v, kind) for v, kind in zip(values, shape, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, InvalidInput) as exc:
        raise InvalidInput("cursor is not a 'next' value of this list", pointer="/cursor") from exc


def _part(value: Any, kind: Part) -> Any:
    if kind == "id":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= INT64_MAX:
            raise ValueError("bad id")
        return value
    if not isinstance(value, str) or not 0 < len(value) <= 64 or "\x00" in value:
        raise ValueError("bad text")
    if kind == "text":
        return value
    when = datetime.fromisoformat(value)
    if when.tzinfo is None or not EARLIEST <= when <= LATEST:
        raise ValueError("bad time")
    return when
