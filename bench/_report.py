"""The authority benchmark's result table: Rich on the console, Markdown for the docs."""

from __future__ import annotations

from typing import Any

import _tables

HEADERS = [
    "Backend",
    "Measure",
    "Floor",
    "In-process",
    "HTTP",
    "In-process (1 thr) / floor",
    "HTTP / floor",
    "HTTP / in-process",
    "CPU ms per call (floor / in-process / server)",
    "Target (of floor)",
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
                f"{s['floor']:.0f} (1 thr)",
                f"{s['ceiling']:.0f} ({runs})",
                f"{s['http']:.0f} ({clients} clients; "
                f"p50 {s['http_p50_ms']:.1f} ms, p95 {s['http_p95_ms']:.1f} ms)"
                + (f" **{s['failures']} calls failed**" if s.get("failures") else ""),
                # both on one thread: the floor runs on one connection
                f"{s['inprocess']['threads=1'] / s['floor']:.0%}",
                f"{s['http_floor']:.0%}",
                f"{s['ratio']:.0%}",
                f"{s['floor_cpu_ms']:.2f} / {s['cpu_ms_inprocess']:.2f} / "
                f"{s['cpu_ms_http_server']:.2f} (floor / in-process "
                f"{s['floor_cpu_ms'] / s['cpu_ms_inprocess']:.0%}, floor / server "
                f"{s['floor_cpu_ms'] / s['cpu_ms_http_server']:.0%})",
                "in-process ≥ 50%, HTTP ≥ 40%",
            ]
        )
    rows.append(
        [
            backend,
            "HTTP stack alone: GET /healthz/s (no work)",
            "—",
            "—",
            f"{summary['healthz_per_second']:.0f} ({clients} clients)",
            "—",
            "—",
            "—",
            f"— / — / {summary['healthz_cpu_ms']:.2f}",
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
                f"median {s['floor_median_ms']:.1f} ms" if "floor_median_ms" in s else "—",
                f"median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms "
                f"({s['statements']} SQL statements, n={s['n']})",
                "—",
                f"{s['floor_median_ms'] / s['median_ms']:.0%}" if "floor_median_ms" in s else "—",
                "—",
                "—",
                "—",
                "< 100 ms (absolute)",
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


def console_table(data: dict[str, Any]) -> None:
    _tables.console_table("smartlic authority benchmark", HEADERS, rows(data), data["machine"])


def markdown_report(data: dict[str, Any]) -> str:
    cfg = data["config"]
    sizes = (
        f"Sizes: {cfg['registrations']} registrations and {cfg['authorizations']} "
        f"authorizations per phase, {cfg['threads']} threads, {cfg['rounds']} round(s) "
        f"(medians shown), {cfg['compliance_calls']} compliance calls per scenario."
    )
    return _tables.markdown_table([sizes], HEADERS, rows(data), data["machine"])
