"""``bench/scale.py explain``: the database's own time for each read of the scale benchmark,
which a loaded machine does not blur the way it blurs HTTP latencies.

Each read (bench/_scale_reads.py) runs through the services in-process, as the route would
call them, on a connection with PostgreSQL's ``auto_explain`` loaded and its plans sent back as
notices (``log_analyze``, ``log_buffers``, every statement): the plans are the ones the server
really runs, including the generic plans psycopg's prepared statements switch to after five
executions. Per read: statements per call, the database's execution time per call (median and
max over the calls, planning not included), the Python CPU time per call in-process, and the
plan of the slowest statement.

``--writes`` does the same for registrations and the batched usage report (``reportusage``, 10
reports of one policy-mode device), statement by statement, on the seeded database and on an
empty one with the same accounts: where the difference between the two comes from.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import load_average, machine_facts, write_results
from _devices import make_devices
from _ingest_helpers import body, make_fleet, sign_batches
from _scale_reads import Read, reads
from sqlalchemy import event

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.scope import system
from smartlic.clock import SystemClock
from smartlic.storage import make_engine

SCOPE = system("bench-scale-explain")
WARM = 2
DURATION = re.compile(r"duration: ([0-9.]+) ms\s+plan:\s*", re.S)


class Plans:
    """The plans auto_explain sends back on every connection of an engine."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def attach(self, engine: Any) -> None:
        event.listen(engine, "connect", self._connect)

    def _connect(self, dbapi_conn: Any, _record: Any) -> None:
        for sql in (
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_analyze = on",
            "SET auto_explain.log_buffers = on",
            "SET auto_explain.log_timing = on",
            "SET auto_explain.log_level = notice",
            "SET client_min_messages = notice",
        ):
            dbapi_conn.execute(sql)
        dbapi_conn.commit()
        dbapi_conn.add_notice_handler(self._notice)

    def _notice(self, diag: Any) -> None:
        text = diag.message_primary or ""
        m = DURATION.match(text)
        if m:
            self.seen.append((float(m.group(1)), text[m.end() :]))

    def take(self) -> list[tuple[float, str]]:
        out, self.seen = self.seen, []
        return out


def explain_read(svc: Any, plans: Plans, calls: list[Read]) -> dict[str, Any]:
    for r in calls[:WARM]:
        r.through(svc, SCOPE)
    plans.take()
    db_ms, cpu_ms, counts = [], [], []
    slowest: tuple[float, str] = (0.0, "")
    for r in calls:
        c0 = time.process_time()
        r.through(svc, SCOPE)
        cpu_ms.append((time.process_time() - c0) * 1000)
        got = plans.take()
        counts.append(len(got))
        db_ms.append(sum(ms for ms, _ in got))
        slowest = max([slowest, *got], key=lambda x: x[0])
    return {
        "calls": len(calls),
        "statements": max(counts),
        "db_ms_median": round(statistics.median(db_ms), 2),
        "db_ms_max": round(max(db_ms), 2),
        "py_cpu_ms_median": round(statistics.median(cpu_ms), 1),
        "slowest_ms": round(slowest[0], 2),
        "slowest_plan": slowest[1],
    }


def _key(plan: str) -> str:
    """A statement's first words, as a row label."""
    first = plan.split("\n", 1)[0].removeprefix("Query Text: ")
    return " ".join(first.split())[:90]


def explain_writes(url: str, work: Path, st: dict[str, Any], n: int) -> dict[str, float]:
    """Median database ms per statement kind of ``n`` registrations and ``n`` batched usage
    reports on ``url`` (rows ``register:`` and ``report:``)."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    plans = Plans()
    plans.attach(engine)
    svc = build_services(engine, SystemClock(), AuthorityKeys.load(work / "keys"))
    prefix = f"X{int(time.time()) % 100000:05d}"
    devices = make_devices(f"{prefix}R", n + WARM)
    fleet = make_fleet(f"{prefix}U", n + WARM)
    for d in fleet:
        svc.trust.establish(d.trust_request(st["token"], datetime.now(UTC)))
    batches = sign_batches(fleet, st["tags"][:2], 10)
    calls = {
        "register": [
            lambda d=d: svc.device.register(d.register_request(st["token"], datetime.now(UTC)))
            for d in devices
        ],
        "report": [lambda b=b: svc.usage.report_usage(body(b)) for b in batches],
    }
    out: dict[str, float] = {}
    for kind, todo in calls.items():
        for call in todo[:WARM]:
            call()
        per: dict[str, list[float]] = defaultdict(list)
        cpu = []
        for call in todo[WARM:]:
            plans.take()
            c0 = time.process_time()
            call()
            cpu.append((time.process_time() - c0) * 1000)
            for ms, plan in plans.take():
                per[_key(plan)].append(ms)
        for k, v in per.items():
            out[f"{kind}: {k}"] = round(statistics.median(v) * len(v) / n, 3)
        out[f"({kind}: python cpu ms, median)"] = round(statistics.median(cpu), 2)
    engine.dispose()
    return out


def run_writes(args: Any, st: dict[str, Any], recreate: Any, setup_accounts: Any) -> int:
    work = Path(args.work)
    full = explain_writes(st["url"], work, st, args.samples)
    size = st["size"]
    empty_work = work / "explain-empty"
    empty_url = recreate(args.server, args.database + "_empty")
    empty = setup_accounts(empty_url, empty_work, size["accounts"], size["tags"])
    bare = explain_writes(empty_url, empty_work, empty, args.samples)
    print(f"{'statement (database ms per call)':<92} {'seeded':>7} {'empty':>7}")
    for key in sorted(set(full) | set(bare), key=lambda k: (k.lstrip("(")[:6], -full.get(k, 0))):
        print(f"{key:<92} {full.get(key, 0):>7.3f} {bare.get(key, 0):>7.3f}")
    for kind in ("register", "report"):
        db = [sum(v for k, v in d.items() if k.startswith(kind)) for d in (full, bare)]
        print(f"{kind + ': total database ms':<92} {db[0]:>7.3f} {db[1]:>7.3f}")
    path = write_results("scale-explain-writes", {"seeded": full, "empty": bare, "size": size})
    print(f"results: {path} (load {load_average()})")
    return 0


def run_explain(args: Any, recreate: Any = None, setup_accounts: Any = None) -> int:
    work = Path(args.work)
    st = json.loads((work / "state.json").read_text())
    print(f"[seeded: {st['size']}] load {load_average()}")
    if args.writes:
        return run_writes(args, st, recreate, setup_accounts)
    facts = machine_facts()
    engine = make_engine(st["url"], pool_size=1, max_overflow=0)
    plans = Plans()
    plans.attach(engine)
    svc = build_services(engine, SystemClock(), AuthorityKeys.load(work / "keys"))
    print(f"{'read':<52} {'stmts':>5} {'db ms p50':>9} {'db max':>8} {'py cpu':>7}")
    out = {}
    for label, calls in reads(st, args.samples).items():
        if args.only and not any(word in label for word in args.only):
            continue
        got = out[label] = explain_read(svc, plans, calls)
        print(
            f"{label:<52} {got['statements']:>5} {got['db_ms_median']:>9.2f} "
            f"{got['db_ms_max']:>8.2f} {got['py_cpu_ms_median']:>7.1f}"
        )
        if args.verbose:
            print(f"  slowest statement ({got['slowest_ms']} ms):\n{got['slowest_plan']}\n")
    engine.dispose()
    facts["loadavg_after"] = load_average()
    path = write_results("scale-explain", {"machine": facts, "seeded": st["size"], "reads": out})
    print(f"results: {path}")
    return 0
