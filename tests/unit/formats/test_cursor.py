"""Page cursors: what a page hands out comes back as the same key; anything else is 422."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from smartlic.errors import InvalidInput
from smartlic.formats.cursor import MAX_CURSOR, decode_cursor, encode_cursor

WHEN = datetime(2026, 3, 1, 8, 9, 10, 123456, tzinfo=UTC)


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_key_round_trips() -> None:
    token = encode_cursor([WHEN, "8b1e0c2a-0000-4000-8000-000000000001"])
    assert len(token) <= MAX_CURSOR and "=" not in token
    assert decode_cursor(token, ("time", "text")) == [WHEN, "8b1e0c2a-0000-4000-8000-000000000001"]
    assert decode_cursor(encode_cursor([42]), ("id",)) == [42]


@pytest.mark.parametrize(
    ("token", "shape"),
    [
        ("", ("id",)),
        ("%%%", ("id",)),
        ("x" * (MAX_CURSOR + 1), ("id",)),
        (_token({"id": 1}), ("id",)),  # not a list
        (_token([1, 2]), ("id",)),  # the wrong length
        (_token(["1"]), ("id",)),  # text for an id
        (_token([True]), ("id",)),
        (_token([0]), ("id",)),
        (_token([2**63]), ("id",)),
        (_token([1.5]), ("id",)),
        (_token([1]), ("text",)),
        (_token(["a\x00b"]), ("text",)),
        (_token(["y" * 65]), ("text",)),
        (_token(["2026-03-01T08:09:10"]), ("time",)),  # no zone
        (_token(["1999-12-31T23:59:59+00:00"]), ("time",)),  # before EARLIEST
        (_token(["not a time"]), ("time",)),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), ("id",)),  # not UTF-8
    ],
)
def test_anything_but_a_handed_out_key_is_refused(token: str, shape: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(token, shape)
    assert caught.value.pointer == "/cursor"
