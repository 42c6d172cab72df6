"""The job runner's scans at scale: the expiry and compliance scan over 100,000 product
instances and 10,000 holdings, against the bare SQL queries the scan needs, in one run.

The store is seeded with Core bulk inserts (100 virtual accounts x 100 licenses: 10,000 pools,
one holding each; 100,000 instances, 1% silent for more than 30 days; 10% of the holdings
ending within 90 days; 5% of the pools short). The first scan raises every warning (events,
marks, Compliance Warning Reports); the figures are for the steady state after it, the scan
that runs every minute or hour and finds nothing new, which is what the runner pays forever.
"Bare SQL" is the same four queries as text, executed and fetched on one connection.

    python bench/jobs.py [--quick] [--pg URL] [--write-docs]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_facts, summary_ms, update_docs_section, write_results

from smartlic.authority.services.scans import Scans
from smartlic.clock import ManualClock
from smartlic.domain.enums import Enforcement, HoldingKind, InstanceStatus
from smartlic.storage import make_engine, upgrade
from smartlic.storage.models import (
    Holding,
    License,
    PoolCounter,
    ProductInstance,
    SmartAccount,
    VirtualAccount,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BARE = {
    "shortfalls": """
        SELECT pc.virtual_account_id, pc.license_id, pc.in_use, pc.reserved,
               COALESCE(SUM(CASE WHEN (h.starts_at IS NULL OR h.starts_at <= :now)
                                  AND (h.ends_at IS NULL OR h.ends_at > :now)
                             THEN h.quantity ELSE 0 END), 0) AS bought
        FROM pool_counters pc LEFT JOIN holdings h
          ON h.virtual_account_id = pc.virtual_account_id AND h.license_id = pc.license_id
        WHERE pc.in_use + pc.reserved > 0
        GROUP BY pc.virtual_account_id, pc.license_id, pc.in_use, pc.reserved
        HAVING pc.in_use + pc.reserved > COALESCE(SUM(CASE WHEN (h.starts_at IS NULL OR
               h.starts_at <= :now) AND (h.ends_at IS NULL OR h.ends_at > :now)
               THEN h.quantity ELSE 0 END), 0)""",
    "expiring": """
        SELECT h.id, h.ends_at, va.name, sa.domain FROM holdings h
        JOIN virtual_accounts va ON va.id = h.virtual_account_id
        JOIN smart_accounts sa ON sa.id = va.smart_account_id
        WHERE h.kind IN ('term', 'demo') AND h.ends_at > :now AND h.ends_at <= :horizon""",
    "tokens": """
        SELECT t.id FROM registration_tokens t WHERE t.revoked_at IS NULL
        AND t.expires_at > :now AND t.expires_at <= :week""",
    "quiet": """
        SELECT i.id FROM product_instances i
        JOIN virtual_accounts va ON va.id = i.virtual_account_id
        LEFT JOIN alert_marks m ON m.key = 'instance:' || i.id
        WHERE (COALESCE(i.last_contact_at, i.registered_at) < :quiet OR i.cert_expires_at <= :now)
        AND (m.key IS NULL OR m.at < COALESCE(i.last_contact_at, i.registered_at))""",
}


def _ts(engine: Engine, when: datetime) -> Any:
    return when.replace(tzinfo=None) if engine.dialect.name == "sqlite" else when


def seed(engine: Engine, instances: int, vas: int, licenses: int) -> None:
    rnd = random.Random(12)
    sa_id = str(uuid.uuid4())
    va_ids = [str(uuid.uuid4()) for _ in range(vas)]
    lic_ids = [str(uuid.uuid4()) for _ in range(licenses)]
    with engine.begin() as c:
        c.execute(
            insert(SmartAccount),
            [{"id": sa_id, "name": "Bench", "domain": "bench.example", "created_at": NOW}],
        )
        c.execute(
            insert(VirtualAccount),
            [
                {
                    "id": v,
                    "smart_account_id": sa_id,
                    "name": f"VA{i:03d}",
                    "description": "",
                    "is_default": i == 0,
                    "created_at": NOW,
                }
                for i, v in enumerate(va_ids)
            ],
        )
        c.execute(
            insert(License),
            [
                {
                    "id": lid,
                    "tag": f"regid.bench.l{i}",
                    "name": f"l{i}",
                    "display_name": f"L{i}",
                    "description": "",
                    "version": "1.0",
                    "enforcement": Enforcement.ENFORCED,
                    "created_at": NOW,
                }
                for i, lid in enumerate(lic_ids)
            ],
        )
        holdings, counters = [], []
        for v in va_ids:
            for lid in lic_ids:
                term = rnd.random() < 0.10
                ends = NOW + timedelta(days=rnd.randint(1, 89)) if term else None
                holdings.append(
                    {
                        "id": str(uuid.uuid4()),
                        "virtual_account_id": v,
                        "license_id": lid,
                        "quantity": 10,
                        "kind": HoldingKind.TERM if term else HoldingKind.PERPETUAL,
                        "starts_at": None,
                        "ends_at": ends,
                        "subscription_id": None,
                        "created_at": NOW,
                    }
                )
                short = rnd.random() < 0.05
                counters.append(
                    {
                        "virtual_account_id": v,
                        "license_id": lid,
                        "in_use": 12 if short else rnd.randint(0, 10),
                        "reserved": 0,
                    }
                )
        c.execute(insert(Holding), holdings)
        c.execute(insert(PoolCounter), counters)
        rows = []
        for n in range(instances):
            quiet = rnd.random() < 0.01
            seen = NOW - timedelta(days=40 if quiet else rnd.randint(0, 20))
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "virtual_account_id": va_ids[n % vas],
                    "udi_pid": "C1000V",
                    "udi_sn": f"SN{n:07d}",
                    "hostname": f"r{n}",
                    "software_tag": "",
                    "registered_at": seen - timedelta(days=1),
                    "last_contact_at": seen,
                    "status": InstanceStatus.IN_COMPLIANCE,
                    "cert_expires_at": NOW + timedelta(days=300),
                    "export_controlled_allowed": False,
                }
            )
            if len(rows) == 10_000:
                c.execute(insert(ProductInstance), rows)
                rows = []
        if rows:
            c.execute(insert(ProductInstance), rows)


def bare(engine: Engine) -> None:
    params = {
        "now": _ts(engine, NOW),
        "horizon": _ts(engine, NOW + timedelta(days=90)),
        "week": _ts(engine, NOW + timedelta(days=7)),
        "quiet": _ts(engine, NOW - timedelta(days=30)),
    }
    with engine.begin() as c:
        for sql in BARE.values():
            c.execute(text(sql), params).all()


def measure(url: str, instances: int, rounds: int) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    seed(engine, instances, vas=100, licenses=100)
    clock = ManualClock(NOW)
    scans = Scans(engine, clock)
    t0 = time.perf_counter()
    first = (scans.compliance(), scans.expiry())
    first_s = time.perf_counter() - t0
    scan_t, bare_t = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        t = time.perf_counter()
        scans.compliance()
        scans.expiry()
        scan_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        bare(engine)
        bare_t.append(time.perf_counter() - t)
    engine.dispose()
    scan_ms, bare_ms = summary_ms(scan_t), summary_ms(bare_t)
    return {
        "first_scan_s": round(first_s, 2),
        "first_scan": first,
        "scan_ms": scan_ms,
        "bare_ms": bare_ms,
        "ratio": round(bare_ms["median_ms"] / scan_ms["median_ms"], 2),
    }


def table(results: dict[str, dict[str, Any]], instances: int) -> str:
    lines = [
        f"{instances:,} instances, 10,000 holdings / pools; steady-state scan (nothing new) "
        "against the bare SQL it needs, median of the rounds:",
        "",
        "| database | first scan (raises all) | scan, median | bare SQL, median | bare / scan |",
        "|---|---|---|---|---|",
    ]
    for db, r in results.items():
        lines.append(
            f"| {db} | {r['first_scan_s']} s | {r['scan_ms']['median_ms']:.1f} ms | "
            f"{r['bare_ms']['median_ms']:.1f} ms | {r['ratio']:.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 instances, 3 rounds")
    ap.add_argument("--pg", help="also on this PostgreSQL database URL (its tables are created)")
    ap.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    instances, rounds = (10_000, 3) if args.quick else (100_000, 7)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{tmp}/bench.sqlite3", instances, rounds)
    if args.pg:
        results["postgresql"] = measure(args.pg, instances, rounds)
    md = table(results, instances)
    print(md)
    path = write_results(
        "jobs", {"machine": machine_facts(), "instances": instances, "results": results}
    )
    print(f"results: {path}")
    if args.write_docs and not args.quick:
        print("docs updated" if update_docs_section("jobs", md) else "no jobs markers in docs")


if __name__ == "__main__":
    main()
