"""Scale on PostgreSQL (issue 14): a million product instances, then latency over HTTP.

``seed`` drops and recreates a dedicated database (``smartlic_scale``; never the test suite's),
migrates it to head and fills it with COPY (bench/_scale_seed.py): by default 1,000,000 product
instances across 1,000 virtual accounts with 20 license tags, 20,000,000 usage rows and
5,000,000 events. ``measure`` starts a real ``smartlic authority serve`` on it and times, over
HTTP, p50/p99 of the reads (device list first and deep pages, by offset and by cursor, device
search, one device's usage history, compliance of the 100,000-instance virtual account, a
filtered event-log page) and of the writes (a registration, an authorization, a batched usage
report), then the same writes on an empty database. Targets: reads p99 < 50 ms; writes at most
20% slower than on the empty database.

Usage::

    python bench/scale.py seed                        # full size (29 min here, load 20+)
    python bench/scale.py seed --instances 100000 --usage 2000000 --events 500000
    python bench/scale.py measure [--write-docs]
    python bench/scale.py explain [--verbose] [--only search]   # the database's own times
    python bench/scale.py explain --writes --samples 30           # the usage report's, vs empty
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import _scale_seed as seed
import psycopg
from sqlalchemy import create_engine, select, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.scope import system
from smartlic.clock import SystemClock
from smartlic.domain.enums import Role
from smartlic.domain.products import make_tag
from smartlic.storage import make_engine, upgrade
from smartlic.storage.models import License, SmartAccount, VirtualAccount

SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "smartlic_scale"
EMPTY_DATABASE = "smartlic_scale_empty"
WORK = Path("/var/tmp/smartlic-scale")
DOMAIN = "scale.example"
ACTOR = system("bench-scale")


def recreate(server: str, name: str) -> str:
    if name in ("test", "postgres"):
        raise SystemExit(f"refusing to drop database {name!r}")
    admin = create_engine(make_engine(server + "/postgres").url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{server}/{name}"
    upgrade(url)
    return url


def setup_accounts(url: str, work: Path, accounts: int, tags: int) -> dict[str, Any]:
    """Account, virtual accounts, licenses, a token and an admin key, through the services."""
    keys = AuthorityKeys.create(work / "keys", SystemClock().now())
    engine = make_engine(url)
    svc = build_services(engine, SystemClock(), keys)
    svc.accounts.create_smart_account(name="Scale", domain=DOMAIN, scope=ACTOR)
    va_names = [f"VA{v:04d}" for v in range(accounts)]
    for name in va_names:
        svc.accounts.create_virtual_account(DOMAIN, name=name, scope=ACTOR)
    tag_texts = [make_tag(f"scale-{n:02d}") for n in range(tags)]
    for n, tag in enumerate(tag_texts):
        name = f"scale-{n:02d}"
        svc.licenses.define_license(tag=tag, name=name, display_name=name, scope=ACTOR)
    token = svc.tokens.create_token(DOMAIN, va_names[1], days=30, scope=ACTOR).text
    key = svc.api_keys.create_api_key(
        name="scale", role=Role.ADMIN, smart_account=None, actor="bench-scale"
    ).text
    state = _ids(engine, va_names, tag_texts) | {"token": token, "api_key": key}
    engine.dispose()
    return state


def _ids(engine: Any, va_names: list[str], tags: list[str]) -> dict[str, Any]:
    with engine.connect() as conn:
        sa_id = conn.execute(select(SmartAccount.id).where(SmartAccount.domain == DOMAIN)).scalar()
        vas = dict(conn.execute(select(VirtualAccount.name, VirtualAccount.id)).all())
        lics = dict(conn.execute(select(License.tag, License.id)).all())
    return {
        "sa_id": sa_id,
        "va_names": va_names,
        "va_ids": [vas[n] for n in va_names],
        "tags": tags,
        "license_ids": [lics[t] for t in tags],
    }


def bulk(url: str, size: seed.Size, st: dict[str, Any]) -> dict[str, float]:
    took: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        # the rows are consistent by construction: no per-row foreign-key triggers (superuser)
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        took["holdings"] = seed.copy_rows(
            conn, "holdings", seed.HOLDING_COLS,
            seed.holding_lines(st["va_ids"], st["license_ids"], size),
            len(st["va_ids"]) * size.tags,
        )  # fmt: skip
        took["product_instances"] = seed.copy_rows(
            conn, "product_instances", seed.INSTANCE_COLS,
            seed.instance_lines(size, st["va_ids"]), size.instances,
        )  # fmt: skip
        took["instance_usage"] = seed.copy_rows(
            conn, "instance_usage", "instance_id, license_id, count, status",
            seed.usage_lines(size, st["license_ids"]), size.instances,
        )  # fmt: skip
        seed.sum_counters(conn)
        took["rum_reports"] = seed.copy_rows(
            conn, "rum_reports", seed.RUM_COLS,
            seed.rum_lines(size, st["license_ids"], st["tags"]), size.usage,
        )  # fmt: skip
        took["events"] = seed.copy_rows(
            conn, "events", seed.EVENT_COLS,
            seed.event_lines(size, st["sa_id"], st["va_names"]), size.events,
        )  # fmt: skip
        t0 = time.monotonic()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        took["vacuum_analyze"] = time.monotonic() - t0
    return took


def run_seed(args: argparse.Namespace) -> int:
    size = seed.Size(args.instances, args.usage, args.events, args.accounts, args.tags, args.big)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    url = recreate(args.server, args.database)
    print(f"seeding {url}: {size}")
    state = setup_accounts(url, work, size.accounts, size.tags)
    took = bulk(url, size, state)
    state |= {"url": url, "size": size.__dict__, "seed_seconds": took}
    state["seed_total_s"] = round(time.monotonic() - t0)
    (work / "state.json").write_text(json.dumps(state, indent=1))
    print(f"seeded in {state['seed_total_s']} s; state in {work / 'state.json'}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("phase", choices=["seed", "measure", "explain"])
    p.add_argument("--server", default=SERVER, help="PostgreSQL server URL, no database")
    p.add_argument("--database", default=DATABASE)
    p.add_argument("--work", default=str(WORK), help="keys, state and server logs")
    p.add_argument("--instances", type=int, default=1_000_000)
    p.add_argument("--usage", type=int, default=20_000_000)
    p.add_argument("--events", type=int, default=5_000_000)
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--tags", type=int, default=20)
    p.add_argument("--big", type=int, default=100_000, help="instances of the compliance VA")
    p.add_argument("--samples", type=int, default=200, help="timed calls per read")
    p.add_argument("--write-docs", action="store_true")
    p.add_argument("--verbose", action="store_true", help="explain: print the slowest plans")
    p.add_argument("--only", nargs="*", help="explain: the reads whose label has one of these")
    p.add_argument("--writes", action="store_true", help="explain the usage report instead")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase == "seed":
        return run_seed(args)
    if args.phase == "explain":
        from _scale_explain import run_explain

        return run_explain(args, recreate, setup_accounts)
    from _scale_measure import run_measure

    return run_measure(args, recreate, setup_accounts)


if __name__ == "__main__":
    raise SystemExit(main())
