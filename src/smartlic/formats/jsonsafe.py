"""JSON from untrusted input, with bounded nesting and a bounded number of arrays and objects.

``json.loads`` recurses once per nesting level (100,000 levels raise ``RecursionError``), and
every ``{}`` it builds costs ~64 bytes: 60 MiB of ``{},`` became 3 GB in the authority (issue 8,
finding 2). So the text's shape is checked first, at C speed, without building anything:
strings are blanked out with one regular expression, everything but brackets is deleted, and
innermost ``{}``/``[]`` pairs are removed one level per pass; ``max_depth`` passes must empty
it.

Usage::

    check_shape(body)                                   # raises InvalidInput / PayloadTooLarge
    data = loads(text)                                  # check_shape, then json.loads
    data = loads(text, JsonLimits(max_depth=8))
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from smartlic.errors import InvalidInput, PayloadTooLarge

__all__ = ["DEFAULT_LIMITS", "JsonLimits", "check_shape", "loads"]

# A JSON string: quote, then runs of plain characters or escapes (unrolled: no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"{}[]")


@dataclass(frozen=True)
class JsonLimits:
    """``max_depth``: nesting levels of arrays and objects; ``max_containers``: how many arrays
    and objects one document may hold."""

    max_depth: int = 64
    max_containers: int = 200_000


DEFAULT_LIMITS = JsonLimits()


def check_shape(text: bytes | str, limits: JsonLimits = DEFAULT_LIMITS) -> None:
    """Refuse ``text`` when it nests deeper or holds more containers than ``limits``.

    Malformed text passes when it is shallow: ``json.loads`` then says what is wrong."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"{") + data.count(b"[") <= limits.max_depth:
        return  # too few brackets to be too deep or too many (the common, small case)
    brackets = _STRING.sub(b'""', data).translate(None, _NOT_BRACKETS)
    containers = brackets.count(b"{") + brackets.count(b"[")
    if containers > limits.max_containers:
        raise PayloadTooLarge(
            f"the JSON document holds {containers} arrays and objects, more than the limit of "
            f"{limits.max_containers}",
            code="json-too-large",
        )
    if _deeper_than(brackets, limits.max_depth):
        raise InvalidInput(
            f"the JSON document nests deeper than {limits.max_depth} levels", code="json-too-deep"
        )


def _deeper_than(brackets: bytes, depth: int) -> bool:
    for _ in range(depth):
        inner = brackets.replace(b"{}", b"").replace(b"[]", b"")
        if not inner or inner == brackets:
            # empty: balanced and shallow enough; unchanged: unbalanced, as deep as it is long
            return len(inner) > depth
        brackets = inner
    return bool(brackets)


def loads(text: bytes | str, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """``json.loads`` after ``check_shape``; syntax errors stay ``json.JSONDecodeError``."""
    check_shape(text, limits)
    return json.loads(text)
