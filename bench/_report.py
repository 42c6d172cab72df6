"""The authority benchmark's result table: Rich on the console, Markdown for the docs."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

HEADERS = [
    "Backend",
    "Measure",
    "In-process",
    "HTTP",
    "HTTP / in-process",
    "CPU ms per call (in-process / server)",
    "Target",
]


def _protocol_rows(backend: str, p: dict[str, Any]) -> list[list[str]]:
    summary, clients = p["summary"], p["clients"]
    rows = []
    for kind, label in (("register", "registrations/s"), ("authorize", "authorizations/s")):
        s = summary[kind]
        runs = ", ".join(f"{name.split('=')[1]} thr {v:.0f}" for name, v in s["inprocess"].items())
        rows.append(
            [
                backend,
                label,
                f"{s['ceiling']:.0f} ({runs})",
                f"{s['http']:.0f} ({clients} clients; "
                f"p50 {s['http_p50_ms']:.1f} ms, p95 {s['http_p95_ms']:.1f} ms)"
                + (f" **{s['failures']} calls failed**" if s.get("failures") else ""),
                f"{s['ratio']:.0%}",
                f"{s['cpu_ms_inprocess']:.2f} / {s['cpu_ms_http_server']:.2f} "
                f"({s['cpu_ratio']:.0%})",
                "≥ 50%",
            ]
        )
    rows.append(
        [
            backend,
            "HTTP floor: GET /healthz/s (no work)",
            "—",
            f"{summary['healthz_per_second']:.0f} ({clients} clients)",
            "—",
            f"— / {summary['healthz_cpu_ms']:.2f}",
            "—",
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
                "—",
                "< 100 ms",
            ]
        )
    return rows


def rows(data: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []
    for backend, r in data["results"].items():
        if "skipped" in r:
            out.append([backend, "skipped", r["skipped"], *[""] * (len(HEADERS) - 3)])
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
        f"authorizations per phase, {cfg['threads']} threads, {cfg['rounds']} round(s) "
        f"(medians shown), {cfg['compliance_calls']} compliance calls per scenario.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(data)]
    return "\n".join(lines)
