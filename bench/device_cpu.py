"""CPU per in-process registration and authorization (the services called directly, one
thread), the minimum of a few runs, with statements per call; optionally a cProfile of the
last run. The quick A/B measure behind each cut of issue 14 (docs/benchmarks.md, "Floors and
speed"): CPU time moves much less with the machine's load than throughput does.

Usage::

    .venv/bin/python bench/device_cpu.py sqlite 300            # min of 3 runs of 300 calls
    .venv/bin/python bench/device_cpu.py postgresql 200 --profile
    .venv/bin/python bench/device_cpu.py sqlite 300 --floor --only register  # + the floor
    # the code of another commit:
    git archive <commit> src | tar -x -C /tmp/snap
    PYTHONPATH=/tmp/snap/src .venv/bin/python bench/device_cpu.py sqlite 300
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from authority import (
    PG_DEFAULT,
    Config,
    accept_all,
    authorize_items,
    drop_pg,
    floor_phases,
    make_devices,
    pg_database,
    register_items,
    setup_world,
)
from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import SystemClock
from smartlic.storage import make_engine, upgrade


def timed(calls: list[Callable[[], Any]], statements: list[int], prof: Any) -> tuple[float, float]:
    """(CPU ms per call, statements per call)."""
    statements[0] = 0
    if prof is not None:
        prof.enable()
    cpu = time.process_time()
    for call in calls:
        call()
    used = time.process_time() - cpu
    if prof is not None:
        prof.disable()
    return 1000 * used / len(calls), statements[0] / len(calls)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("backend", choices=["sqlite", "postgresql"])
    p.add_argument("calls", type=int)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="cProfile the last run of each")
    p.add_argument("--floor", action="store_true", help="bench/floors.py's, before each run")
    p.add_argument("--only", choices=["register", "authorize"], help="measure only this one")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="smartlic-cpu-"))
    url = f"sqlite:///{tmp}/a.sqlite3" if args.backend == "sqlite" else pg_database(PG_DEFAULT)
    assert url is not None, "PostgreSQL does not answer"
    upgrade(url)
    engine = make_engine(url)
    try:
        measure(args, url, engine, AuthorityKeys.create(tmp / "keys", SystemClock().now()))
    finally:
        engine.dispose()
        if args.backend == "postgresql":
            drop_pg(PG_DEFAULT)


def measure(args: argparse.Namespace, url: str, engine: Any, keys: AuthorityKeys) -> None:
    world = setup_world(engine, keys, 20, url)
    svc = world.services
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    kinds = [args.only] if args.only else ["register", "authorize"]
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    floors: dict[str, list[float]] = {k: [] for k in kinds}
    profiles = {k: cProfile.Profile() if args.profile else None for k in kinds}
    for run in range(args.runs):
        last = run == args.runs - 1
        if args.floor:  # the same work bare, on the same database and load, just before
            floor = floor_phases(world, Config(args.calls, args.calls, 1, 0, 0, 0, 1), f"r{run}")
            for kind in kinds:
                floors[kind].append(floor[kind]["cpu_ms_per_unit"])
        devices = make_devices(f"CPU{run}-", args.calls)
        regs = [lambda d=d, r=r: setattr(d, "envelope", svc.device.register(r))
                for d, r in register_items(world, devices)]  # fmt: skip
        if "register" in results:
            reg_profile = profiles["register"] if last else None
            results["register"].append(timed(regs, statements, reg_profile))
        else:  # authorize only: its devices are registered, untimed
            for call in regs:
                call()
        if "authorize" in results:
            items = authorize_items(world, accept_all(devices), args.calls)
            auths = [lambda i=i: svc.device.authorize(i) for i in items]
            results["authorize"].append(
                timed(auths, statements, profiles["authorize"] if last else None)
            )
    # statements counted on a few more calls, untimed: a listener on every statement would
    # add its own cost (and the engine's event dispatch) to the calls it counts
    event.listen(engine, "before_cursor_execute", count)
    devices = make_devices("COUNT-", 20)
    regs = [lambda d=d, r=r: setattr(d, "envelope", svc.device.register(r))
            for d, r in register_items(world, devices)]  # fmt: skip
    counted = {"register": timed(regs, statements, None)[1]}
    auths = [lambda i=i: svc.device.authorize(i)
             for i in authorize_items(world, accept_all(devices), 20)]  # fmt: skip
    counted["authorize"] = timed(auths, statements, None)[1]
    for kind, runs in results.items():
        cpus = [round(c, 2) for c, _ in runs]
        floor_note = ""
        if floors[kind]:
            best = min(floors[kind])
            floor_note = f"; floor min {best:.2f} ms (runs {floors[kind]}), {min(cpus) / best:.2f}x"
        print(f"{args.backend} {kind}: min {min(cpus):.2f} ms CPU per call (runs {cpus}), "
              f"{counted[kind]:.1f} statements per call{floor_note}")  # fmt: skip
        if profiles[kind] is not None:
            pstats.Stats(profiles[kind]).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
