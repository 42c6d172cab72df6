"""Scale-out (issue 14): throughput of ``smartlic authority serve --workers N`` on one
PostgreSQL, for N = 1 and 2 (target: 2 workers >= 1.5x one on this 2-core machine).

For each N, a fresh database (``smartlic_scaleout``) with one account, a license pool and a
token; the server process with N uvicorn workers; then, from ``--threads`` client threads,
``--calls`` registrations (new devices), as many authorizations (of those devices, the count
changing each round so every call moves the pool counter) and ``--calls`` batched usage
reports (10 signed reports of one policy-mode device each; trust installed before the clock).
Requests are built and signed before each timed phase. Rates are calls/s of wall time.

After each run the rules the load could break are checked in the database: the token's use
count equals the registrations made, the pool counter equals the sum of the instances' usage,
and every report was stored once (tests/e2e/test_scaleout.py asserts the same under load).

Usage::

    python bench/scaleout.py [--calls 300] [--threads 8] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _common import load_average, machine_facts, update_docs_section, write_results
from _devices import make_devices
from _ingest_helpers import body, make_fleet, sign_batches
from _server import AuthorityServer
from scale import DOMAIN, SERVER, recreate, setup_accounts

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.scope import system
from smartlic.clock import SystemClock
from smartlic.storage import make_engine

DATABASE = "smartlic_scaleout"
WORK = Path("/var/tmp/smartlic-scaleout")
DEVICE = "/api/device/v1"
REPORTUSAGE = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
REPORTS = 10
TARGET = 1.5


def run_phase(url: str, requests: list[Callable[[httpx.Client], bool]], threads: int) -> dict:
    clients = [httpx.Client(base_url=url, timeout=120) for _ in range(threads)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        oks = list(pool.map(lambda k: requests[k](clients[k % threads]), range(len(requests))))
    seconds = time.perf_counter() - t0
    for c in clients:
        c.close()
    return {"calls": len(requests), "failures": oks.count(False), "seconds": round(seconds, 2),
            "per_s": round(len(requests) / seconds, 1)}  # fmt: skip


def _post(path: str, payload: Any, after: Callable[[Any], None] | None = None) -> Callable:
    def call(client: httpx.Client) -> bool:
        r = client.post(path, json=payload)
        if r.status_code == 200 and after is not None:
            after(r.json())
        return r.status_code in (200, 202)

    return call


def _pools(svc: Any, st: dict[str, Any], spread: int) -> tuple[list[str], list[str]]:
    """A registration token and a trust token in each of ``spread`` virtual accounts (VA0001...),
    each with a holding of the authorized tag."""
    vas = st["va_names"][1 : spread + 1]
    reg, trust = [st["token"]], []
    for n, va in enumerate(vas):
        svc.licenses.add_holding(DOMAIN, va, tag=st["tags"][1], quantity=10**6,
                                 scope=system("bench"))  # fmt: skip
        if n:
            reg.append(svc.tokens.create_token(DOMAIN, va, scope=system("bench")).text)
        trust.append(svc.tokens.create_token(DOMAIN, va, scope=system("bench")).text)
    return reg, trust


def one_run(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    work = Path(args.work) / f"w{workers}"
    url = recreate(args.server, DATABASE)
    st = setup_accounts(url, work, args.spread + 1, 2)
    svc = build_services(make_engine(url), SystemClock(), AuthorityKeys.load(work / "keys"))
    reg_tokens, trust_tokens = _pools(svc, st, args.spread)
    fleet = make_fleet(f"W{workers}U", args.calls)
    for k, d in enumerate(fleet):  # tokens of their own: registration tokens count registrations
        svc.trust.establish(d.trust_request(trust_tokens[k % args.spread], datetime.now(UTC)))
    devices = make_devices(f"W{workers}R", args.calls)
    out: dict[str, Any] = {"workers": workers, "load_before": load_average()}
    with AuthorityServer(url, work / "keys", work / "server", workers=workers) as server:
        now = datetime.now(UTC)
        reg = [_post(f"{DEVICE}/register", d.register_request(reg_tokens[k % args.spread], now),
                     d.accept) for k, d in enumerate(devices)]  # fmt: skip
        out["registrations"] = run_phase(server.url, reg, args.threads)
        now = datetime.now(UTC)
        auth = [_post(f"{DEVICE}/authorize", d.authorize({st["tags"][1]: 1 + k % 2}, now))
                for k, d in enumerate(devices) if d.key_id]  # fmt: skip
        out["authorizations"] = run_phase(server.url, auth, args.threads)
        batches = sign_batches(fleet, st["tags"][:1], REPORTS)
        usage = [_post(REPORTUSAGE, body(b)) for b in batches]
        out["usage_reports"] = run_phase(server.url, usage, args.threads)
    out["load_after"] = load_average()
    out["checks"] = check_rules(url, args.calls)
    print(f"  {workers} worker(s): " + ", ".join(
        f"{k} {out[k]['per_s']}/s ({out[k]['failures']} failed)"
        for k in ("registrations", "authorizations", "usage_reports")))  # fmt: skip
    return out


def check_rules(url: str, calls: int) -> dict[str, Any]:
    """What the concurrent load must not have broken (database, after the run)."""
    with psycopg.connect(url) as conn:
        uses, instances = conn.execute(  # the registration tokens: those instances name
            "SELECT sum(t.uses), (SELECT count(*) FROM product_instances p WHERE p.token_id "
            "IS NOT NULL) FROM registration_tokens t WHERE EXISTS (SELECT 1 FROM "
            "product_instances p WHERE p.token_id = t.id)"
        ).fetchone()
        drift = conn.execute(
            "SELECT count(*) FROM pool_counters c WHERE c.in_use <> (SELECT coalesce(sum(u.count),"
            " 0) FROM instance_usage u JOIN product_instances p ON p.id = u.instance_id "
            "WHERE p.virtual_account_id = c.virtual_account_id AND u.license_id = c.license_id)"
        ).fetchone()[0]
        reports, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (instance_id, report_id)) FROM rum_reports"
        ).fetchone()
    ok = uses == instances and drift == 0 and reports == distinct
    return {"token_uses": uses, "registered": instances, "counter_drift": drift,
            "reports": reports, "distinct_reports": distinct, "ok": ok}  # fmt: skip


def markdown(data: dict[str, Any]) -> str:
    one, two = data["runs"]
    m = data["machine"]
    lines = [
        f"{m['date']}, commit `{m['commit']}`, {m['nproc']} CPUs; {data['calls']} calls per "
        f"phase from {data['threads']} client threads (same machine), spread over "
        f"{data.get('spread', 1)} virtual account(s) with a token and pool each. Load average "
        f"{one['load_before']} / {two['load_before']} before the 1- / 2-worker runs.",
        "",
        "| calls/s | 1 worker | 2 workers | ratio | target ≥ 1.5 |",
        "|---|---:|---:|---:|---|",
    ]
    for k, label in (("registrations", "registrations"), ("authorizations", "authorizations"),
                     ("usage_reports", f"usage reports ({REPORTS} reports each)")):  # fmt: skip
        a, b = one[k]["per_s"], two[k]["per_s"]
        ratio = b / a if a else float("nan")
        lines.append(
            f"| {label} | {a} | {b} | {ratio:.2f} | {'met' if ratio >= TARGET else 'missed'} |"
        )
    checks = [r["checks"] for r in data["runs"]]
    lines += ["", "Rules after each run (token uses = registrations, pool counters = sum of "
              f"usage, reports stored once): {'held' if all(c['ok'] for c in checks) else 'BROKEN'}"
              f" — {checks}."]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", default=SERVER)
    p.add_argument("--work", default=str(WORK))
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument(
        "--spread", type=int, default=1, help="virtual accounts (a token, a pool each) to load"
    )
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    facts = machine_facts()
    runs = [one_run(args, n) for n in (1, 2)]
    data = {"machine": facts, "calls": args.calls, "threads": args.threads,
            "spread": args.spread, "runs": runs}  # fmt: skip
    path = write_results("scaleout", data)
    report = markdown(data)
    print(report, f"\nresults: {path}", sep="\n")
    if args.write_docs and not update_docs_section("scaleout", report):
        print("docs/benchmarks.md has no bench:scaleout markers; not updated")
    return 0 if all(r["checks"]["ok"] for r in runs) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
