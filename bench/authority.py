"""Issue 2's benchmark: the authority's device protocol over real HTTP against its in-process
ceiling, and compliance of a virtual account with 100,000 instances, on SQLite and PostgreSQL.

Usage::

    .venv/bin/python bench/authority.py                 # full run, a few minutes on 2 cores
    .venv/bin/python bench/authority.py --quick         # small smoke run
    .venv/bin/python bench/authority.py --write-docs    # also refresh docs/benchmarks.md

How it measures (docs/benchmarks.md has the narrative):

* **in-process**: ``services.device.register`` / ``authorize`` called directly, with 1 thread and
  with ``--threads`` threads; the ceiling is the faster of the two.
* **HTTP**: the app of ``smartlic.authority.app`` served by uvicorn (one worker) in a separate
  process on 127.0.0.1; ``--threads`` client threads, each with its own keep-alive
  ``httpx.Client``. Requests (CSRs, signed envelopes) are built before the clock starts, on
  both sides, so only the authority's work is timed.
* **compliance**: ``services.licenses.compliance`` for a virtual account seeded in bulk SQL
  with ``--instances`` instances using two of ``--tags`` tags each (counters consistent).

Performance is never asserted; this prints a table and writes bench/results/authority-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import (
    load_average,
    machine_facts,
    summary_ms,
    update_docs_section,
    warn_if_busy,
    write_results,
)
from _devices import BenchDevice, make_devices
from _report import console_table, markdown_report
from _seed import check_counters, seed_holdings, seed_instances, top_up
from _server import AuthorityServer
from floors import FloorDb, Timing, authorize_floor, compliance_floor, register_floor
from sqlalchemy import Engine, create_engine, event, select, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.clock import SystemClock
from smartlic.domain.compliance import MAX_QUANTITY
from smartlic.domain.enums import ComplianceStatus
from smartlic.domain.products import make_tag
from smartlic.storage import make_engine, upgrade
from smartlic.storage.models import License, ProductInstance, SmartAccount, VirtualAccount

DOMAIN = "bench.example"
DEVICE = "/api/device/v1"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = f"smartlic_bench_{os.getpid()}"  # two runs at once must not collide
WARMUP = 20
SHORT_TAGS = 3


@dataclass
class Config:
    registrations: int
    authorizations: int
    threads: int
    instances: int
    tags: int
    compliance_calls: int
    rounds: int


@dataclass
class World:
    services: Services
    engine: Engine
    clock: SystemClock
    token: str
    tags: list[str]
    license_ids: list[str]
    big_va_id: str
    url: str = ""


@dataclass
class Phase:
    """One timed run of calls: throughput, latency, failures."""

    calls: int
    threads: int
    seconds: float
    latencies: list[float] = field(repr=False)
    failures: int
    cpu_seconds: float  # of the process doing the work: the bench (in-process) or the server

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "threads": self.threads,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.rate, 1),
            "failures": self.failures,
            "cpu_ms_per_call": round(1000 * self.cpu_seconds / self.calls, 3),
            "latency": {k: round(v, 3) for k, v in summary_ms(self.latencies).items()},
        }


# A worker factory returns (call, close); call(item) says whether the call succeeded.
Worker = tuple[Callable[[Any], bool], Callable[[], None]]


def run_phase(
    items: Sequence[Any],
    threads: int,
    make_worker: Callable[[], Worker],
    cpu: Callable[[], float] = time.process_time,
) -> Phase:
    """Run every item through ``threads`` workers (item k goes to worker k % threads);
    ``cpu`` reads the CPU time of the process doing the work."""
    slices = [items[k::threads] for k in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    ready = threading.Barrier(threads + 1)

    def work(k: int) -> None:
        call, close = make_worker()
        try:
            ready.wait()
            for item in slices[k]:
                t0 = time.perf_counter()
                ok = call(item)
                latencies[k].append(time.perf_counter() - t0)
                failures[k] += not ok
        finally:
            close()

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    start, cpu_start = time.perf_counter(), cpu()
    for t in pool:
        t.join()
    elapsed, cpu_used = time.perf_counter() - start, cpu() - cpu_start
    flat = [x for lat in latencies for x in lat]
    return Phase(len(items), threads, elapsed, flat, sum(failures), cpu_used)


# ---------------------------------------------------------------- the device protocol


def register_items(world: World, devices: list[BenchDevice]) -> list[tuple[BenchDevice, Any]]:
    now = world.clock.now()
    return [(d, d.register_request(world.token, now)) for d in devices]


def authorize_items(world: World, devices: list[BenchDevice], calls: int) -> list[Any]:
    """``calls`` requests round-robin over ``devices``; every round changes the count, so each
    call moves the virtual account's pool counter (the write path, not a no-op)."""
    now = world.clock.now()
    tag = world.tags[0]
    return [
        devices[k % len(devices)].authorize({tag: 1 + (k // len(devices)) % 2}, now)
        for k in range(calls)
    ]


def accept_all(devices: list[BenchDevice]) -> list[BenchDevice]:
    ok = [d for d in devices if d.envelope is not None]
    for d in ok:
        d.accept(d.envelope)  # type: ignore[arg-type]
    return ok


def inprocess_worker(svc: Services, kind: str) -> Callable[[], Worker]:
    def call(item: Any) -> bool:
        try:
            if kind == "register":
                device, request = item
                device.envelope = svc.device.register(request)
            else:
                svc.device.authorize(item)
            return True
        except Exception:
            return False

    return lambda: (call, lambda: None)


def http_worker(url: str, kind: str) -> Callable[[], Worker]:
    def make() -> Worker:
        client = httpx.Client(base_url=url, timeout=60)

        def call(item: Any) -> bool:
            try:
                if kind == "register":
                    device, request = item
                    r = client.post(f"{DEVICE}/register", json=request)
                    if r.status_code == 200:
                        device.envelope = r.json()
                elif kind == "authorize":
                    r = client.post(f"{DEVICE}/authorize", json=item)
                else:  # the HTTP stack's floor: a route that does no work
                    r = client.get("/healthz")
            except httpx.HTTPError:
                return False  # counted; a dead server is reported after the phase
            return r.status_code == 200

        return call, client.close

    return make


def protocol_phases(
    world: World,
    cfg: Config,
    prefix: str,
    threads: int,
    worker: Callable[[str], Any],
    cpu: Callable[[], float] = time.process_time,
) -> dict[str, Phase]:
    """Warm up, then time ``cfg.registrations`` registrations and ``cfg.authorizations``
    authorizations of the freshly registered devices."""
    warm = make_devices(f"{prefix}W", WARMUP)
    run_phase(register_items(world, warm), threads, worker("register"))
    run_phase(authorize_items(world, accept_all(warm), WARMUP), threads, worker("authorize"))
    devices = make_devices(prefix, cfg.registrations)
    reg = run_phase(register_items(world, devices), threads, worker("register"), cpu)
    registered = accept_all(devices)
    items = authorize_items(world, registered, cfg.authorizations)
    auth = run_phase(items, threads, worker("authorize"), cpu)
    return {"register": reg, "authorize": auth}


def one_round(world: World, cfg: Config, server: AuthorityServer, label: str) -> dict[str, Any]:
    """In-process with 1 and ``cfg.threads`` threads, then HTTP, back to back, so both sides
    see the same load on the machine; the ratio is taken within the round."""
    svc = world.services
    out: dict[str, Any] = {"inprocess": {}, "floor": floor_phases(world, cfg, label)}
    for threads in sorted({1, cfg.threads}):
        phases = protocol_phases(
            world, cfg, f"{label}I{threads}-", threads, lambda k: inprocess_worker(svc, k)
        )
        out["inprocess"][f"threads={threads}"] = {k: p.as_dict() for k, p in phases.items()}
        print(f"  {label} in-process, {threads} thread(s): " + _rates(phases))
    url, cpu = server.url, server.cpu_seconds
    phases = protocol_phases(
        world, cfg, f"{label}H-", cfg.threads, lambda k: http_worker(url, k), cpu
    )
    phases["healthz"] = run_phase(
        range(cfg.authorizations), cfg.threads, http_worker(url, "healthz"), cpu
    )
    server.check_alive()
    print(f"  {label} HTTP, {cfg.threads} client threads: " + _rates(phases))
    out["http"] = {k: p.as_dict() for k, p in phases.items()}
    for kind in ("register", "authorize"):
        ceiling = max(v[kind]["per_second"] for v in out["inprocess"].values())
        floor = out["floor"][kind]["per_second"]
        out[f"{kind}_ceiling_per_second"] = ceiling
        out[f"{kind}_ratio"] = round(out["http"][kind]["per_second"] / ceiling, 3)
        # the floor runs on one thread and connection: compared with in-process on one
        one = out["inprocess"]["threads=1"][kind]["per_second"]
        out[f"{kind}_inprocess_floor"] = round(one / floor, 3)
        out[f"{kind}_http_floor"] = round(out["http"][kind]["per_second"] / floor, 3)
    return out


def floor_phases(world: World, cfg: Config, label: str) -> dict[str, Any]:
    """The floors (bench/floors.py) of registration and authorization, on this round's load
    and database: the same kind of requests, for devices of their own."""
    keys = world.services.device.keys
    db = FloorDb.connect(world.url)
    try:
        devices = make_devices(f"{label}F-", cfg.registrations)
        reg = register_floor(
            db, keys.signer, keys.ca, [r for _, r in register_items(world, devices)]
        )
        for d in devices:
            d.key_id = _floor_key_id(world, d)
        auth = authorize_floor(db, keys.signer, authorize_items(world, devices, cfg.authorizations))
    finally:
        db.close()
    print(f"  {label} floor: register {reg.rate:.0f}/s, authorize {auth.rate:.0f}/s")
    return {"register": reg.as_dict(), "authorize": auth.as_dict()}


def _floor_key_id(world: World, device: BenchDevice) -> str:
    """The fingerprint of the certificate the floor issued to ``device`` (read back from the
    database: the floor keeps no answers)."""
    with world.engine.connect() as conn:
        return str(
            conn.execute(
                select(ProductInstance.cert_fingerprint).where(
                    ProductInstance.udi_sn == device.udi.sn
                )
            ).scalar_one()
        )


def _median_of(rounds: list[dict[str, Any]], *path: str) -> float:
    values = []
    for r in rounds:
        for key in path:
            r = r[key]
        values.append(float(r))  # type: ignore[arg-type]
    return round(statistics.median(values), 3)


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds."""
    out: dict[str, Any] = {"rounds": len(rounds)}
    for kind in ("register", "authorize"):
        out[kind] = {
            "inprocess": {
                name: _median_of(rounds, "inprocess", name, kind, "per_second")
                for name in rounds[0]["inprocess"]
            },
            "ceiling": _median_of(rounds, f"{kind}_ceiling_per_second"),
            "http": _median_of(rounds, "http", kind, "per_second"),
            "http_p50_ms": _median_of(rounds, "http", kind, "latency", "median_ms"),
            "http_p95_ms": _median_of(rounds, "http", kind, "latency", "p95_ms"),
            "failures": sum(
                r["http"][kind]["failures"] + v[kind]["failures"]
                for r in rounds
                for v in r["inprocess"].values()
            ),
            "ratio": _median_of(rounds, f"{kind}_ratio"),
            "floor": _median_of(rounds, "floor", kind, "per_second"),
            "floor_cpu_ms": _median_of(rounds, "floor", kind, "cpu_ms_per_unit"),
            "inprocess_floor": _median_of(rounds, f"{kind}_inprocess_floor"),
            "http_floor": _median_of(rounds, f"{kind}_http_floor"),
            # CPU per call barely moves with other load on the machine, unlike throughput.
            "cpu_ms_inprocess": _median_of(
                rounds, "inprocess", "threads=1", kind, "cpu_ms_per_call"
            ),
            "cpu_ms_http_server": _median_of(rounds, "http", kind, "cpu_ms_per_call"),
        }
        out[kind]["cpu_ratio"] = round(
            out[kind]["cpu_ms_inprocess"] / out[kind]["cpu_ms_http_server"], 3
        )
    out["healthz_per_second"] = _median_of(rounds, "http", "healthz", "per_second")
    out["healthz_cpu_ms"] = _median_of(rounds, "http", "healthz", "cpu_ms_per_call")
    return out


def measure_protocol(
    world: World, cfg: Config, url: str, key_dir: Path, work: Path
) -> dict[str, Any]:
    with AuthorityServer(url, key_dir, work / "server") as server:
        rounds = [one_round(world, cfg, server, f"R{n}") for n in range(cfg.rounds)]
    return {"summary": summarise(rounds), "rounds": rounds, "clients": cfg.threads}


def _rates(phases: dict[str, Phase]) -> str:
    return ", ".join(
        f"{k} {p.rate:.0f}/s" + (f" ({p.failures} failed)" if p.failures else "")
        for k, p in phases.items()
    )


# ---------------------------------------------------------------- compliance


def count_statements(engine: Engine, fn: Callable[[], Any]) -> int:
    seen = [0]

    def count(*_: Any) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen[0]


def time_compliance(world: World, calls: int, expect: ComplianceStatus) -> dict[str, Any]:
    def once() -> Any:
        return world.services.licenses.compliance(DOMAIN, "Big", scope=SYSTEM)

    result = once()  # warm-up, and the answer is checked once
    assert result.status is expect, result.status
    assert len(result.lines) == len(world.tags)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    stats = {k: round(v, 3) for k, v in summary_ms(times).items()}
    stats["statements"] = count_statements(world.engine, once)
    db = FloorDb.connect(world.url)
    try:
        floor: Timing = compliance_floor(db, world.big_va_id, calls)
    finally:
        db.close()
    stats["floor_median_ms"] = floor.as_dict()["median_ms"]
    stats["lines_out_of_compliance"] = sum(
        line.status is ComplianceStatus.OUT_OF_COMPLIANCE for line in result.lines
    )
    return stats


def measure_compliance(world: World, cfg: Config) -> dict[str, Any]:
    t0 = time.perf_counter()
    seeded = seed_instances(world.engine, world.big_va_id, world.license_ids, cfg.instances)
    seeded = seed_holdings(world.engine, world.big_va_id, seeded, short=SHORT_TAGS)
    seed_s = time.perf_counter() - t0
    check_counters(world.engine, world.big_va_id)
    if world.engine.dialect.name == "postgresql":
        with world.engine.begin() as conn:  # what autovacuum would do shortly after a bulk load
            conn.execute(text("ANALYZE"))
    print(f"  seeded {seeded.instances} instances, {seeded.usage_rows} usage rows in {seed_s:.1f}s")
    short = time_compliance(world, cfg.compliance_calls, ComplianceStatus.OUT_OF_COMPLIANCE)
    top_up(world.engine, world.big_va_id, seeded)
    fine = time_compliance(world, cfg.compliance_calls, ComplianceStatus.IN_COMPLIANCE)
    print(f"  compliance: {short['median_ms']:.1f} ms ({SHORT_TAGS} tags short), "
          f"{fine['median_ms']:.1f} ms (all in compliance) median")  # fmt: skip
    return {
        "instances": seeded.instances,
        "usage_rows": seeded.usage_rows,
        "tags": cfg.tags,
        "seed_seconds": round(seed_s, 1),
        "tags_short": short,
        "all_in_compliance": fine,
    }


# ---------------------------------------------------------------- setup


def setup_world(engine: Engine, keys: AuthorityKeys, tags: int, url: str) -> World:
    svc = build_services(engine, SystemClock(), keys)
    svc.accounts.create_smart_account(name="Bench", domain=DOMAIN, scope=system("bench"))
    for va in ("Devices", "Big"):
        svc.accounts.create_virtual_account(DOMAIN, name=va, scope=system("bench"))
    names = [f"bench-{n:02d}" for n in range(tags)]
    tag_texts = [make_tag(name) for name in names]
    for name, tag in zip(names, tag_texts, strict=True):
        svc.licenses.define_license(
            tag=tag, name=name, display_name=name.upper(), scope=system("bench")
        )
    svc.licenses.add_holding(
        DOMAIN, "Devices", tag=tag_texts[0], quantity=MAX_QUANTITY, scope=system("bench")
    )
    token = svc.tokens.create_token(DOMAIN, "Devices", days=1, scope=system("bench")).text
    with engine.connect() as conn:
        by_tag = dict(conn.execute(select(License.tag, License.id)).all())
        big = conn.execute(
            select(VirtualAccount.id)
            .join(SmartAccount)
            .where(SmartAccount.domain == DOMAIN, VirtualAccount.name == "Big")
        ).scalar_one()
    ids = [by_tag[t] for t in tag_texts]
    return World(svc, engine, SystemClock(), token, tag_texts, ids, big, url)


def pg_database(server_url: str) -> str | None:
    """A fresh scratch database on the server, or None when the server does not answer."""
    try:
        admin = create_engine(make_engine(server_url).url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        admin.dispose()
    except Exception as exc:  # unreachable, refused, no permission: skip with the reason
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}"[:300])
        return None
    return server_url.rsplit("/", 1)[0] + "/" + PG_DATABASE


def run_backend(name: str, url: str, cfg: Config, work: Path) -> dict[str, Any]:
    print(f"[{name}]")
    upgrade(url)
    key_dir = work / "keys"
    keys = AuthorityKeys.create(key_dir, SystemClock().now())
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(
                text("SELECT sqlite_version()" if name == "sqlite" else "SHOW server_version")
            ).scalar_one()
        world = setup_world(engine, keys, cfg.tags, url)
        protocol = measure_protocol(world, cfg, url, key_dir, work)
        compliance = measure_compliance(world, cfg)
    finally:
        engine.dispose()
    return {"database_version": version, "protocol": protocol, "compliance": compliance}


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--registrations", type=int, help="timed registrations per phase")
    p.add_argument("--authorizations", type=int, help="timed authorizations per phase")
    p.add_argument("--threads", type=int, default=8, help="client threads / in-process threads")
    p.add_argument("--instances", type=int, help="instances in the compliance virtual account")
    p.add_argument("--tags", type=int, default=20, help="tags in the compliance virtual account")
    p.add_argument("--compliance-calls", type=int, help="timed compliance calls per scenario")
    p.add_argument("--rounds", type=int, default=1, help="protocol rounds; medians reported")
    p.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("SMARTLIC_BENCH_PG_URL", PG_DEFAULT),
        help=f"PostgreSQL server; the bench creates and drops database {PG_DATABASE}",
    )
    p.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    p.add_argument(
        "--report", type=Path, metavar="JSON", help="render a saved result file; run nothing"
    )
    return p.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    quick = args.quick
    return Config(
        registrations=args.registrations or (100 if quick else 1000),
        authorizations=args.authorizations or (300 if quick else 2000),
        threads=args.threads,
        instances=args.instances or (10_000 if quick else 100_000),
        tags=args.tags,
        compliance_calls=args.compliance_calls or (10 if quick else 50),
        rounds=args.rounds,
    )


def drop_pg(server_url: str) -> None:
    admin = create_engine(make_engine(server_url).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    admin.dispose()


def run_all(args: argparse.Namespace, cfg: Config) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="smartlic-bench-") as tmp:
        if args.backend in ("all", "sqlite"):
            url = f"sqlite:///{Path(tmp) / 'sqlite' / 'authority.sqlite3'}"
            (Path(tmp) / "sqlite").mkdir()
            results["sqlite"] = run_backend("sqlite", url, cfg, Path(tmp) / "sqlite")
        if args.backend in ("all", "postgresql"):
            pg_url = pg_database(args.pg_url)
            if pg_url is None:
                results["postgresql"] = {"skipped": f"unreachable at {args.pg_url}"}
            else:
                try:
                    results["postgresql"] = run_backend("postgresql", pg_url, cfg, Path(tmp) / "pg")
                finally:
                    drop_pg(args.pg_url)
    return results


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: the server process and scratch database go too


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in logs
    args = parse_args(argv)
    if args.report:
        return report(json.loads(args.report.read_text()), args.write_docs)
    cfg = config(args)
    warn_if_busy()
    facts = machine_facts()
    results = run_all(args, cfg)
    facts["loadavg_after"] = load_average()
    data = {"machine": facts, "config": cfg.__dict__, "results": results}
    path = write_results("authority", data)
    print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return report(data, args.write_docs)


def report(data: dict[str, Any], write_docs: bool) -> int:
    console_table(data)
    if write_docs and not update_docs_section("authority", markdown_report(data)):
        print("docs/benchmarks.md has no authority markers; not updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
