"""Issue 4's benchmark: RUM reports ingested through ``reportusage`` over real HTTP against the
in-process ceiling (parse + verify + store, no HTTP) in the same run, on SQLite and PostgreSQL,
and the authority's peak memory.

Usage::

    .venv/bin/python bench/ingest.py                # full run: 200 devices x 50 reports a phase
    .venv/bin/python bench/ingest.py --quick        # smoke run
    .venv/bin/python bench/ingest.py --backend sqlite --write-docs

How it measures (docs/benchmarks.md, "Ingest", has the narrative):

* ``--devices`` devices establish trust (``services.trust.establish``) and report once before
  anything is timed, so every timed report updates existing usage. For each phase every device
  signs ``--reports`` reports with fresh report ids *before* the clock starts (signing is the
  device's cost). One request carries one device's reports, as the agent's ``reportusage`` does.
* **in-process**: ``services.usage.report_usage(body)`` from 1 and ``--threads`` threads; the
  ceiling is the faster. **HTTP**: the same kind of bodies posted by ``--threads`` client threads
  to ``python -m smartlic authority serve`` in a separate process (devices report directly, with
  their trust code, no API key).
* **duplicates**: the reports of each side's phase sent again (new request nonce): verified and
  acknowledged again, never counted twice.
* **memory**: VmHWM of the authority process; ru_maxrss of the benchmark process.

Performance is never asserted; this prints a table and writes bench/results/ingest-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import load_average, machine_facts, update_docs_section, warn_if_busy, write_results
from _ingest_helpers import (
    Batch,
    IngestDevice,
    Phase,
    Worker,
    body,
    console_table,
    make_fleet,
    markdown_report,
    own_maxrss_mb,
    run_bodies,
    sign_batches,
    vm_hwm_mb,
)
from _server import AuthorityServer
from floors import FloorDb, ingest_floor
from sqlalchemy import Engine, create_engine, event, func, select, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.scope import system
from smartlic.clock import SystemClock
from smartlic.domain.compliance import MAX_QUANTITY
from smartlic.domain.products import make_tag
from smartlic.storage import make_engine, upgrade
from smartlic.storage.models import RumReportRow

DOMAIN = "ingest.example"
VA = "Fleet"
REPORTUSAGE = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = f"smartlic_ingest_bench_{os.getpid()}"


@dataclass
class Config:
    devices: int
    reports: int
    threads: int
    tags: int
    rounds: int


# ---------------------------------------------------------------- workers


def inprocess_worker(svc: Services) -> Callable[[], Worker]:
    def call(b: dict[str, Any]) -> bool:
        try:
            return svc.usage.report_usage(b)["status"] == "OK_POLL"
        except Exception as exc:  # counted; the first few are printed
            print(f"    in-process call failed: {type(exc).__name__}: {exc}"[:200])
            return False

    return lambda: (call, lambda: None)


def http_worker(url: str) -> Callable[[], Worker]:
    def make() -> Worker:
        client = httpx.Client(base_url=url, timeout=120)

        def call(b: dict[str, Any]) -> bool:
            try:
                r = client.post(REPORTUSAGE, json=b)
            except httpx.HTTPError:
                return False
            # 202: the answer is a poll (the route's status since ccbdcc6)
            return r.status_code in (200, 202) and r.json().get("status") == "OK_POLL"

        return call, client.close

    return make


# ---------------------------------------------------------------- one round


@contextmanager
def counting(engine: Engine) -> Iterator[list[int]]:
    """SQL statements sent while the block runs (COMMIT is not a statement here)."""
    seen = [0]

    def count(*_: Any) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def timed(batches: list[Batch], threads: int, worker: Callable[[], Worker], **kw: Any) -> Phase:
    return run_bodies([body(b) for b in batches], threads, worker, **kw)


def one_round(
    svc: Services, fleet: list[IngestDevice], tags: list[str], cfg: Config, server: AuthorityServer
) -> dict[str, Any]:
    """In-process (1 and ``threads`` threads), then HTTP, then duplicates on both sides, back to
    back, so each ratio is taken under the same load."""
    out: dict[str, Any] = {"inprocess": {}}
    db = FloorDb.connect(url_of(svc))
    try:  # the floor (bench/floors.py) on reports of its own, signed like the others
        floor = ingest_floor(db, [body(b) for b in sign_batches(fleet, tags, cfg.reports)])
    finally:
        db.close()
    out["floor"] = floor.as_dict()
    print(f"    floor, 1 thread: {floor.rate:,.0f} reports/s")
    last: list[Batch] = []
    for threads in sorted({1, cfg.threads}):
        last = sign_batches(fleet, tags, cfg.reports)
        with counting(svc.usage.engine) as statements:
            phase = timed(last, threads, inprocess_worker(svc))
        out["inprocess"][f"threads={threads}"] = phase.as_dict()
        out["statements_per_request"] = round(statements[0] / phase.requests, 1)
        print(f"    in-process, {threads} thread(s): {phase.rate:,.0f} reports/s")
    dup = timed(last, 1, inprocess_worker(svc))
    out["inprocess_duplicates"] = dup.as_dict()
    print(f"    in-process duplicates: {dup.rate:,.0f} reports/s")
    batches = sign_batches(fleet, tags, cfg.reports)
    url, cpu = server.url, server.cpu_seconds
    http = timed(batches, cfg.threads, http_worker(url), cpu=cpu)
    out["http"] = http.as_dict()
    print(f"    HTTP, {cfg.threads} clients: {http.rate:,.0f} reports/s"
          + (f" ({http.failures} failed)" if http.failures else ""))  # fmt: skip
    dup = timed(batches, cfg.threads, http_worker(url), cpu=cpu)
    out["http_duplicates"] = dup.as_dict()
    print(f"    HTTP duplicates: {dup.rate:,.0f} reports/s")
    server.check_alive()
    return out


def url_of(svc: Services) -> str:
    return svc.usage.engine.url.render_as_string(hide_password=False)


def _med(rounds: list[dict[str, Any]], get: Callable[[dict[str, Any]], float]) -> float:
    return round(statistics.median(get(r) for r in rounds), 3)


def summarise(rounds: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    def ceiling(r: dict[str, Any]) -> float:
        return max(v["reports_per_second"] for v in r["inprocess"].values())

    s: dict[str, Any] = {
        "rounds": len(rounds),
        "clients": clients,
        "inprocess": {
            k: _med(rounds, lambda r, k=k: r["inprocess"][k]["reports_per_second"])
            for k in rounds[0]["inprocess"]
        },
        "ceiling": _med(rounds, ceiling),
        "http": _med(rounds, lambda r: r["http"]["reports_per_second"]),
        "ratio": _med(rounds, lambda r: r["http"]["reports_per_second"] / ceiling(r)),
        "floor": _med(rounds, lambda r: r["floor"]["per_second"]),
        "floor_cpu_ms": _med(rounds, lambda r: r["floor"]["cpu_ms_per_unit"]),
        "inprocess_floor": _med(  # both on one thread, as the floor runs
            rounds,
            lambda r: r["inprocess"]["threads=1"]["reports_per_second"] / r["floor"]["per_second"],
        ),
        "http_floor": _med(
            rounds, lambda r: r["http"]["reports_per_second"] / r["floor"]["per_second"]
        ),
        "http_p50_ms": _med(rounds, lambda r: r["http"]["latency_p50_ms"]),
        "failures": sum(
            r["http"]["failures"]
            + r["http_duplicates"]["failures"]
            + r["inprocess_duplicates"]["failures"]
            + sum(v["failures"] for v in r["inprocess"].values())
            for r in rounds
        ),
        "cpu_ms_inprocess": _med(
            rounds, lambda r: r["inprocess"]["threads=1"]["cpu_ms_per_report"]
        ),
        "cpu_ms_server": _med(rounds, lambda r: r["http"]["cpu_ms_per_report"]),
        "dup_inprocess": _med(rounds, lambda r: r["inprocess_duplicates"]["reports_per_second"]),
        "dup_http": _med(rounds, lambda r: r["http_duplicates"]["reports_per_second"]),
        "statements_per_request": _med(rounds, lambda r: r["statements_per_request"]),
    }
    s["cpu_ratio"] = round(s["cpu_ms_inprocess"] / s["cpu_ms_server"], 3)
    s["dup_ratio"] = round(s["dup_http"] / s["dup_inprocess"], 3)
    return s


# ---------------------------------------------------------------- setup


def setup(engine: Engine, keys: AuthorityKeys, cfg: Config) -> tuple[Services, list[str], str]:
    svc = build_services(engine, SystemClock(), keys)
    svc.accounts.create_smart_account(name="Ingest", domain=DOMAIN, scope=system("bench"))
    svc.accounts.create_virtual_account(DOMAIN, name=VA, scope=system("bench"))
    tags = [make_tag(f"ingest-{n:02d}") for n in range(cfg.tags)]
    for n, tag in enumerate(tags):
        name = f"ingest-{n:02d}"
        svc.licenses.define_license(
            tag=tag, name=name, display_name=name.upper(), scope=system("bench")
        )
        svc.licenses.add_holding(DOMAIN, VA, tag=tag, quantity=MAX_QUANTITY, scope=system("bench"))
    token = svc.tokens.create_token(DOMAIN, VA, days=1, scope=system("bench")).text
    return svc, tags, token


def trust_fleet(svc: Services, token: str, tags: list[str], devices: int) -> list[IngestDevice]:
    """Trust every device, then have each report once (untimed), so timed reports update
    existing usage on both sides alike."""
    fleet = make_fleet("ING", devices)
    now = svc.usage.now()
    for d in fleet:
        svc.trust.establish(d.trust_request(token, now))
    for b in sign_batches(fleet, tags, len(tags)):
        svc.usage.report_usage(body(b))
    return fleet


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
        svc, tags, token = setup(engine, keys, cfg)
        fleet = trust_fleet(svc, token, tags, cfg.devices)
        with AuthorityServer(url, key_dir, work / "server") as server:
            assert server.proc is not None
            idle = vm_hwm_mb(server.proc.pid)
            rounds = []
            for n in range(cfg.rounds):
                print(f"  round {n + 1}/{cfg.rounds}")
                rounds.append(one_round(svc, fleet, tags, cfg, server))
            peak = vm_hwm_mb(server.proc.pid)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(RumReportRow)).scalar_one()
    finally:
        engine.dispose()
    summary = summarise(rounds, cfg.threads)
    summary |= {"server_vmhwm_mb": peak, "server_vmhwm_idle_mb": idle}
    summary["bench_maxrss_mb"] = own_maxrss_mb()
    expected = cfg.devices * len(tags) + cfg.rounds * cfg.devices * cfg.reports * (
        2 + len({1, cfg.threads})  # the floor's, the in-process phases', HTTP's
    )
    summary |= {"reports_stored": stored, "reports_expected": expected}
    if stored != expected:
        print(f"  WARNING: {stored} reports stored, {expected} expected")
    return {"database_version": version, "summary": summary, "rounds": rounds}


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--devices", type=int, help="devices (one request each per phase)")
    p.add_argument("--reports", type=int, help="reports per device per phase")
    p.add_argument("--threads", type=int, default=4, help="client threads / in-process threads")
    p.add_argument("--tags", type=int, default=2, help="licenses each device reports on")
    p.add_argument("--rounds", type=int, default=1, help="rounds; medians reported")
    p.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("SMARTLIC_BENCH_PG_URL", PG_DEFAULT),
        help=f"PostgreSQL server; the bench creates and drops database {PG_DATABASE}",
    )
    p.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    p.add_argument("--report", type=Path, metavar="JSON", help="render a saved result file")
    return p.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    return Config(
        devices=args.devices or (40 if args.quick else 200),
        reports=args.reports or (20 if args.quick else 50),
        threads=args.threads,
        tags=args.tags,
        rounds=args.rounds,
    )


def _admin(server_url: str, *statements: str) -> None:
    admin = create_engine(make_engine(server_url).url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for stmt in statements:
                conn.execute(text(stmt))
    finally:
        admin.dispose()


def pg_database(server_url: str) -> str | None:
    """A fresh scratch database on the server, or None when the server does not answer."""
    try:
        _admin(
            server_url,
            f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)',
            f'CREATE DATABASE "{PG_DATABASE}"',
        )
    except Exception as exc:  # unreachable, refused, no permission: skip with the reason
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}"[:300])
        return None
    return server_url.rsplit("/", 1)[0] + "/" + PG_DATABASE


def run_all(args: argparse.Namespace, cfg: Config) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="smartlic-ingest-") as tmp:
        if args.backend in ("all", "sqlite"):
            (Path(tmp) / "sqlite").mkdir()
            url = f"sqlite:///{Path(tmp) / 'sqlite' / 'authority.sqlite3'}"
            results["sqlite"] = run_backend("sqlite", url, cfg, Path(tmp) / "sqlite")
        if args.backend in ("all", "postgresql"):
            pg_url = pg_database(args.pg_url)
            if pg_url is None:
                results["postgresql"] = {"skipped": f"unreachable at {args.pg_url}"}
            else:
                try:
                    results["postgresql"] = run_backend("postgresql", pg_url, cfg, Path(tmp) / "pg")
                finally:
                    _admin(args.pg_url, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
    return results


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: the server process and scratch database go too


def report(data: dict[str, Any], write_docs: bool) -> int:
    console_table(data)
    if write_docs and not update_docs_section("ingest", markdown_report(data)):
        print("docs/benchmarks.md has no ingest markers; not updated", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    args = parse_args(argv)
    if args.report:
        return report(json.loads(args.report.read_text()), args.write_docs)
    cfg = config(args)
    warn_if_busy()
    facts = machine_facts()
    results = run_all(args, cfg)
    facts["loadavg_after"] = load_average()
    data = {"machine": facts, "config": cfg.__dict__, "results": results}
    path = write_results("ingest", data)
    print(f"results: {path}")
    return report(data, args.write_docs)


if __name__ == "__main__":
    raise SystemExit(main())
