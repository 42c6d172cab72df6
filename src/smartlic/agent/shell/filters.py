"""IOS output modifiers: ``| include``, ``| exclude``, ``| begin``, ``| section``, ``| count``
(``Number of lines which match regexp = N``).

Regular expressions are searched anywhere in the line, as IOS does. ``section`` keeps every
section whose header (a line that is not indented) matches, with the indented lines under it.
"""

from __future__ import annotations

import re

from smartlic.agent.shell.registry import Modifier

__all__ = ["apply_modifier"]


def _section(pattern: re.Pattern[str], lines: list[str]) -> list[str]:
    out: list[str] = []
    keep = False
    for line in lines:
        indented = line[:1].isspace()
        if not indented:
            keep = bool(line.strip()) and pattern.search(line) is not None
        if keep:
            out.append(line)
    return out


def _begin(pattern: re.Pattern[str], lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if pattern.search(line):
            return lines[index:]
    return []


def apply_modifier(modifier: Modifier, lines: list[str]) -> list[str]:
    """Filter ``lines``; raises ``re.error`` for a bad expression."""
    pattern = re.compile(modifier.regex)
    if modifier.kind == "include":
        return [line for line in lines if pattern.search(line)]
    if modifier.kind == "exclude":
        return [line for line in lines if not pattern.search(line)]
    if modifier.kind == "begin":
        return _begin(pattern, lines)
    if modifier.kind == "section":
        return _section(pattern, lines)
    if modifier.kind == "count":
        matched = sum(1 for line in lines if pattern.search(line))
        return [f"Number of lines which match regexp = {matched}"]
    raise ValueError(f"unknown output modifier: {modifier.kind}")
