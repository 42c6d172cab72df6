"""Agent benchmark: the license check and the request+release pair, in-process.

Measures, in one run and on one machine:

* ``is_authorized(tag)`` and ``check(tag)`` checks/s, against a plain dict lookup
  (``table.get(tag, False)``) measured in the same run: the ratio is what travels between
  machines, the absolute figures only mean something on this one;
* ``request(tag)`` + ``release(handle)`` pairs/s (no I/O: ``OffTransport``, a temporary state
  directory), in classic and in policy mode.

Each figure is the best of ``--repeat`` rounds (the least disturbed one, as ``timeit`` advises).
Performance is never asserted in tests; this script is where it is measured.

Usage::

    .venv/bin/python bench/agent.py            # about 20 seconds
    .venv/bin/python bench/agent.py --quick    # smoke run
    .venv/bin/python bench/agent.py --write-docs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_facts, update_docs_section, warn_if_busy, write_results

from smartlic.agent import LicenseManager, OffTransport
from smartlic.clock import SystemClock
from smartlic.crypto import Udi
from smartlic.domain.products import DEFAULT_PROFILE

TAG = DEFAULT_PROFILE.license("atm").tag


def _rate(fn: Any, number: int, repeat: int) -> float:
    """Calls per second of ``fn``: best of ``repeat`` rounds of ``number`` calls."""
    best = min(timeit.repeat(fn, number=number, repeat=repeat))
    return number / best


def _manager(state_dir: Path, mode: str) -> LicenseManager:
    return LicenseManager(
        udi=Udi("ASR-903", f"BENCH{mode.upper()}"),
        hostname="bench",
        state_dir=state_dir / mode,
        transport=OffTransport(),
        clock=SystemClock(),
        mode=mode,  # type: ignore[arg-type]
    )


def measure(number: int, repeat: int) -> dict[str, Any]:
    table = {TAG: True}
    out: dict[str, Any] = {
        "dict_lookup_per_s": _rate(lambda: table.get(TAG, False), number, repeat)
    }
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("classic", "policy"):
            manager = _manager(Path(tmp), mode)
            manager.request(TAG)
            check, status = manager.is_authorized, manager.check
            pairs = max(number // 50, 100)
            out[mode] = {
                "is_authorized_per_s": _rate(lambda c=check: c(TAG), number, repeat),
                "check_per_s": _rate(lambda s=status: s(TAG), number, repeat),
                "request_release_pairs_per_s": _rate(
                    lambda m=manager: m.release(m.request(TAG)), pairs, repeat
                ),
            }
            manager.close()
    return out


def rows(r: dict[str, Any]) -> list[list[str]]:
    base = r["dict_lookup_per_s"]
    out = [["dict lookup (baseline)", "—", f"{base:,.0f}/s", "1.00x"]]
    for mode in ("classic", "policy"):
        m = r[mode]
        for key, label in (
            ("is_authorized_per_s", "is_authorized(tag)"),
            ("check_per_s", "check(tag)"),
        ):
            out.append([label, mode, f"{m[key]:,.0f}/s", f"{base / m[key]:.2f}x"])
        pairs = m["request_release_pairs_per_s"]
        out.append(["request + release pair", mode, f"{pairs:,.0f}/s", f"{base / pairs:,.0f}x"])
    return out


HEADERS = ["Measure", "Mode", "Absolute", "Cost vs dict lookup"]


def print_table(r: dict[str, Any]) -> None:
    table = Table(title="Agent: in-process license checks")
    for h in HEADERS:
        table.add_column(h)
    for row in rows(r):
        table.add_row(*row)
    Console().print(table)


def markdown(r: dict[str, Any], facts: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(r)]
    lines.append("")
    lines.append(
        f"Measured {facts['date']} on {facts['nproc']} x {facts['cpu']}, Python "
        f"{facts['python']}, commit {facts['commit']}, load average "
        f"{facts['loadavg_before']} before the run (`{facts['command']}`)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    warn_if_busy()
    facts = machine_facts()
    number = 20_000 if args.quick else 500_000
    result = measure(number, 2 if args.quick else args.repeat)
    print_table(result)
    path = write_results("agent", {"machine": facts, "number": number, "result": result})
    print(f"results: {path}")
    if args.write_docs and not update_docs_section("agent", markdown(result, facts)):
        print("docs/benchmarks.md has no bench:agent markers; nothing written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
