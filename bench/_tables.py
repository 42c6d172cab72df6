"""What every benchmark prints: the machine facts line, a Rich table, a Markdown table."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def facts_line(m: dict[str, Any]) -> str:
    platform = f", {m['platform']}" if m.get("platform") else ""
    return (
        f"{m['date']}, commit {m['commit']}, nproc {m['nproc']} ({m['cpu']}), "
        f"Python {m['python']}{platform}; load average {m['loadavg_before']} before, "
        f"{m.get('loadavg_after', '?')} after"
    )


def console_table(
    title: str, headers: Sequence[str], rows: list[list[str]], machine: dict[str, Any]
) -> None:
    table = Table(title=title, caption=facts_line(machine))
    for h in headers:
        table.add_column(h, overflow="fold")
    for row in rows:
        table.add_row(*row)
    # Piped output (make bench | tee) would otherwise wrap at 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def markdown_table(
    preamble: list[str], headers: Sequence[str], rows: list[list[str]], machine: dict[str, Any]
) -> str:
    lines = [
        f"Command: `{machine['command']}`  ",
        f"Machine: {facts_line(machine)}  ",
        *preamble,
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
