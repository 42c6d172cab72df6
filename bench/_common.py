"""What every benchmark shares: machine facts, timing helpers, the JSON result file and the
benchmark's section of docs/benchmarks.md.

Usage::

    facts = machine_facts()
    path = write_results("authority", {"machine": facts, ...})   # bench/results/authority-<ts>.json
    update_docs_section("authority", markdown)                     # between the section's markers
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip()
    except OSError:
        return ""


def _git_commit() -> str:
    """HEAD, marked when src/ has uncommitted changes (the figures are then for those).

    ``SMARTLIC_BENCH_COMMIT`` names the commit instead when the code measured is not the
    working tree, e.g. a ``git archive <commit> src`` snapshot put first on ``PYTHONPATH``.
    """
    if os.environ.get("SMARTLIC_BENCH_COMMIT"):
        return os.environ["SMARTLIC_BENCH_COMMIT"]
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+uncommitted-src" if _git("status", "--porcelain", "--", "src") else "")


def machine_facts() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git_commit(),
        "command": " ".join(["python", *[a for a in sys.argv if a]]),
        "loadavg_before": load_average(),
    }


def load_average() -> float:
    """The 1-minute load average: other work on the machine skews every figure."""
    return round(os.getloadavg()[0], 2)


def warn_if_busy() -> None:
    load, cpus = load_average(), os.cpu_count() or 1
    if load > 0.5 * cpus:
        print(f"warning: load average {load} on {cpus} CPUs; the figures will be pessimistic")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds] or [float("nan")]
    return {
        "n": len(seconds),
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 95),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{utc_stamp()}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def update_docs_section(name: str, markdown: str) -> bool:
    """Replace the generated block of benchmark ``name`` in docs/benchmarks.md.

    Only the text between the block's two markers changes (the prose around it is written by
    hand). Returns False, changing nothing, when the markers are missing.
    """
    start, end = _markers(name)
    text = DOCS.read_text() if DOCS.exists() else ""
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    DOCS.write_text(f"{head}{start}\n{markdown.strip()}\n{end}{tail}")
    return True
