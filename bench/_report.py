"""The authority benchmark's result table: Rich on the console, Markdown for the docs."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

HEADERS = ["Backend", "Measure", "In-process", "HTTP", "HTTP / in-process", "Target"]


def _protocol_rows(backend: str, p: dict[str, Any]) -> list[list[str]]:
    rows = []
    for kind, label in (("register", "registrations/s"), ("authorize", "authorizations/s")):
        runs = ", ".join(
            f"{name.split('=')[1]} thr {v[kind]['per_second']:.0f}"
            for name, v in p["inprocess"].items()
        )
        http = p["http"][kind]
        lat = http["latency"]
        rows.append(
            [
                backend,
                label,
                f"{p[f'{kind}_ceiling_per_second']:.0f} ({runs})",
                f"{http['per_second']:.0f} ({http['threads']} clients; "
                f"p50 {lat['median_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms)",
                f"{p[f'{kind}_ratio']:.0%}",
                "≥ 50%",
            ]
        )
    return rows


def _compliance_rows(backend: str, c: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, what in (("tags_short", "tags short"), ("all_in_compliance", "all in compliance")):
        s = c[key]
        if key == "tags_short":
            what = f"{s['lines_out_of_compliance']} {what}"
        rows.append(
            [
                backend,
                f"compliance, {c['instances']:,} instances x {c['tags']} tags, {what}",
                f"median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms "
                f"({s['statements']} SQL statements, n={s['n']})",
                "—",
                "—",
                "< 100 ms",
            ]
        )
    return rows


def rows(data: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []
    for backend, r in data["results"].items():
        if "skipped" in r:
            out.append([backend, "skipped", r["skipped"], "", "", ""])
            continue
        label = f"{backend} {r['database_version']}"
        out += _protocol_rows(label, r["protocol"]) + _compliance_rows(label, r["compliance"])
    return out


def _facts_line(m: dict[str, Any]) -> str:
    return (
        f"{m['date']}, commit {m['commit']}, nproc {m['nproc']} ({m['cpu']}), "
        f"Python {m['python']}, {m['platform']}; load average {m['loadavg_before']} before, "
        f"{m.get('loadavg_after', '?')} after"
    )


def console_table(data: dict[str, Any]) -> None:
    table = Table(title="smartlic authority benchmark", caption=_facts_line(data["machine"]))
    for h in HEADERS:
        table.add_column(h, overflow="fold")
    for row in rows(data):
        table.add_row(*row)
    # Piped output (make bench | tee) would otherwise wrap at 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def markdown_report(data: dict[str, Any]) -> str:
    m, cfg = data["machine"], data["config"]
    lines = [
        f"Command: `{m['command']}`  ",
        f"Machine: {_facts_line(m)}  ",
        f"Sizes: {cfg['registrations']} registrations and {cfg['authorizations']} "
        f"authorizations per phase, {cfg['threads']} threads, {cfg['compliance_calls']} "
        "compliance calls per scenario.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(data)]
    return "\n".join(lines)
