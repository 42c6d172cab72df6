"""CPU per in-process ``reportusage`` report against the ingest floor, in the same run: the
quick A/B measure behind issue 14's ingest cuts (docs/benchmarks.md, "Floors and speed"). One
thread, the minimum of a few runs, with SQL statements per request; optionally a cProfile of
the last in-process run. Load moves CPU time much less than throughput.

Usage::

    .venv/bin/python bench/ingest_cpu.py sqlite                 # 3 runs of 60 devices x 50 reports
    .venv/bin/python bench/ingest_cpu.py postgresql --profile
    # the code of another commit:
    git archive <commit> src | tar -x -C /tmp/snap
    PYTHONPATH=/tmp/snap/src .venv/bin/python bench/ingest_cpu.py sqlite
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from _ingest_helpers import body, sign_batches
from floors import FloorDb, ingest_floor
from ingest import PG_DEFAULT, Config, _admin, pg_database, setup, trust_fleet, url_of
from sqlalchemy import event

from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import SystemClock
from smartlic.storage import make_engine, upgrade


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("backend", choices=["sqlite", "postgresql"])
    p.add_argument("--devices", type=int, default=60, help="requests per run (one device each)")
    p.add_argument("--reports", type=int, default=50, help="reports per request")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="cProfile the last in-process run")
    p.add_argument("--pg-url", default=os.environ.get("SMARTLIC_BENCH_PG_URL", PG_DEFAULT))
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="smartlic-ingest-cpu-"))
    url = f"sqlite:///{tmp}/a.sqlite3" if args.backend == "sqlite" else pg_database(args.pg_url)
    assert url is not None, "PostgreSQL does not answer"
    try:
        upgrade(url)
        engine = make_engine(url)
        try:
            keys = AuthorityKeys.create(tmp / "keys", SystemClock().now())
            measure(args, engine, keys)
        finally:
            engine.dispose()
    finally:
        if args.backend == "postgresql":
            from ingest import PG_DATABASE

            _admin(args.pg_url, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')


def measure(args: argparse.Namespace, engine: Any, keys: AuthorityKeys) -> None:
    cfg = Config(devices=args.devices, reports=args.reports, threads=1, tags=2, rounds=1)
    svc, tags, token = setup(engine, keys, cfg)
    fleet = trust_fleet(svc, token, tags, cfg.devices)
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    floors: list[float] = []
    inproc: list[float] = []
    per_request = 0.0
    prof = cProfile.Profile() if args.profile else None
    for run in range(args.runs):
        db = FloorDb.connect(url_of(svc))
        try:
            bodies = [body(b) for b in sign_batches(fleet, tags, cfg.reports)]
            floors.append(ingest_floor(db, bodies).as_dict()["cpu_ms_per_unit"])
        finally:
            db.close()
        bodies = [body(b) for b in sign_batches(fleet, tags, cfg.reports)]
        reports = len(bodies) * cfg.reports
        last = prof is not None and run == args.runs - 1
        statements[0] = 0
        event.listen(engine, "before_cursor_execute", count)
        if last:
            prof.enable()  # type: ignore[union-attr]
        cpu = time.process_time()
        for b in bodies:
            assert svc.usage.report_usage(b)["status"] == "OK_POLL"
        used = time.process_time() - cpu
        if last:
            prof.disable()  # type: ignore[union-attr]
        event.remove(engine, "before_cursor_execute", count)
        inproc.append(1000 * used / reports)
        per_request = statements[0] / len(bodies)
    f, i = min(floors), min(inproc)
    print(
        f"{args.backend}: floor {f:.3f} ms CPU per report (runs {[round(x, 3) for x in floors]}),"
        f" in-process {i:.3f} (runs {[round(x, 3) for x in inproc]}), floor / in-process"
        f" {f / i:.0%}; {per_request:.1f} statements per request of {cfg.reports} reports;"
        f" load {os.getloadavg()[0]:.1f}"
    )
    if prof is not None:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
