"""The timed half of bench/scale.py: p50/p99 over HTTP of the reads and writes, on the seeded
database and (writes) on an empty one with the same accounts.

Every call goes through a real ``smartlic authority serve`` process (bench/_server.py), one
client thread, one request at a time: latency, not throughput. Each read is warmed up with a few
calls first; the ids a read needs (a device, a deep page's cursor) are picked before the clock
starts, the devices at random over the million.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _scale_seed as seed
import httpx
from _common import (
    load_average,
    machine_facts,
    percentile,
    update_docs_section,
    write_results,
)
from _devices import make_devices
from _ingest_helpers import body, make_fleet, sign_batches
from _scale_reads import reads, targeted
from _server import AuthorityServer

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.clock import SystemClock
from smartlic.storage import make_engine

DEVICE = "/api/device/v1"
REPORTUSAGE = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
READ_TARGET_MS = 50.0
WRITE_SLOWDOWN = 1.20
REPORTS_PER_BATCH = 10
WARMUP = 5


@dataclass
class Timing:
    label: str
    ms: list[float]
    failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        ms = self.ms or [float("nan")]
        return {
            "label": self.label,
            "n": len(self.ms),
            "failures": self.failures,
            "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2),
        }


def timed(label: str, calls: list[Callable[[], httpx.Response]], warm: bool = True) -> Timing:
    if warm:
        for call in calls[:WARMUP]:
            call()
    out = Timing(label, [])
    for call in calls:
        t0 = time.perf_counter()
        r = call()
        out.ms.append((time.perf_counter() - t0) * 1000)
        if r.status_code not in (200, 201, 202):
            out.failures += 1
            if out.failures == 1:
                print(f"  {label}: {r.status_code} {r.text[:300]}")
    d = out.as_dict()
    print(f"  {label:<48} p50 {d['p50_ms']:8.1f} ms  p99 {d['p99_ms']:8.1f} ms  ({d['n']})")
    return out


# ---------------------------------------------------------------- reads


def measure_reads(server: AuthorityServer, st: dict[str, Any], n: int) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {st['api_key']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as api:
        out = []
        for label, calls in reads(st, n).items():
            timing = timed(label, [(lambda r=r: r.over_http(api)) for r in calls])
            out.append(timing.as_dict())
        return out


# ---------------------------------------------------------------- writes


def measure_writes(
    server: AuthorityServer, st: dict[str, Any], work: Path, n: int, prefix: str
) -> list[dict[str, Any]]:
    """n registrations, n authorizations (of the devices just registered) and n batched usage
    reports (``REPORTS_PER_BATCH`` reports of one policy-mode device each). The devices'
    serial numbers carry the run's time, so every run writes devices of its own (an earlier
    run's are registered and trusted already)."""
    now = datetime.now(UTC)
    prefix = f"{prefix}{int(now.timestamp()):x}"
    devices = make_devices(f"{prefix}R", n)
    fleet = _trusted_fleet(st, work, prefix, n)
    batches = sign_batches(fleet, st["tags"][:2], REPORTS_PER_BATCH)
    with httpx.Client(base_url=server.url, timeout=120) as c:
        reg = [_register(c, d, st["token"], now) for d in devices]
        out = [timed("registration", reg, warm=False)]
        tag = st["tags"][1]
        auth = [_authorize(c, d, tag) for d in devices]
        out.append(timed("authorization", auth, warm=False))
        usage = [(lambda b=b: c.post(REPORTUSAGE, json=body(b))) for b in batches]
        out.append(timed(f"usage report ({REPORTS_PER_BATCH} reports)", usage, warm=False))
    return [t.as_dict() for t in out]


def _register(c: httpx.Client, d: Any, token: str, now: datetime) -> Callable[[], httpx.Response]:
    def call() -> httpx.Response:
        r = c.post(f"{DEVICE}/register", json=d.register_request(token, now))
        if r.status_code == 200:
            d.accept(r.json())
        return r

    return call


def _authorize(c: httpx.Client, d: Any, tag: str) -> Callable[[], httpx.Response]:
    return lambda: c.post(f"{DEVICE}/authorize", json=d.authorize({tag: 1}, datetime.now(UTC)))


def _trusted_fleet(st: dict[str, Any], work: Path, prefix: str, n: int) -> list[Any]:
    """n policy-mode devices with their trust code installed (untimed, in-process)."""
    keys = AuthorityKeys.load(work / "keys")
    engine = make_engine(st["url"])
    svc = build_services(engine, SystemClock(), keys)
    fleet = make_fleet(f"{prefix}U", n)
    for d in fleet:
        svc.trust.establish(d.trust_request(st["token"], datetime.now(UTC)))
    engine.dispose()
    return fleet


# ---------------------------------------------------------------- the run


def run_measure(args: Any, recreate: Callable[..., str], setup_accounts: Callable[..., Any]) -> int:
    work = Path(args.work)
    st = json.loads((work / "state.json").read_text())
    facts = machine_facts()
    print(f"[seeded: {st['size']}] load {load_average()}")
    with AuthorityServer(st["url"], work / "keys", work / "server") as server:
        reads = measure_reads(server, st, args.samples)
        facts["loadavg_after_reads"] = load_average()
        writes = measure_writes(server, st, work, args.samples, "F")
    empty_work = work / "empty"
    empty_url = recreate(args.server, args.database + "_empty")
    size = seed.Size(**st["size"])
    empty = setup_accounts(empty_url, empty_work, size.accounts, size.tags) | {"url": empty_url}
    print(f"[empty database, {size.accounts} virtual accounts] load {load_average()}")
    with AuthorityServer(empty_url, empty_work / "keys", empty_work / "server") as server:
        empty_writes = measure_writes(server, empty, empty_work, args.samples, "E")
    facts["loadavg_after"] = load_average()
    data = {"machine": facts, "seeded": st["size"], "seed_seconds": st["seed_seconds"],
            "reads": reads, "writes": writes, "writes_empty": empty_writes}  # fmt: skip
    path = write_results("scale", data)
    report = markdown(data)
    print(report)
    print(f"results: {path}")
    if args.write_docs and not update_docs_section("scale", report):
        print("docs/benchmarks.md has no bench:scale markers; not updated")
    return 0


def markdown(data: dict[str, Any]) -> str:
    m, size = data["machine"], data["seeded"]
    lines = [
        f"Seeded: {size['instances']:,} product instances in {size['accounts']:,} virtual "
        f"accounts, {size['tags']} tags, {size['usage']:,} usage rows, {size['events']:,} "
        f"events. {m['date']}, commit `{m['commit']}`, {m['nproc']} CPUs ({m['cpu']}); load "
        f"average {m['loadavg_before']} before, {m.get('loadavg_after_reads')} after the reads, "
        f"{m.get('loadavg_after')} at the end.",
        "",
        "| read (HTTP, one client) | p50 ms | p99 ms | target p99 < 50 ms |",
        "|---|---:|---:|---|",
    ]
    for r in data["reads"]:
        met = "met" if r["p99_ms"] < READ_TARGET_MS and not r["failures"] else "missed"
        if not targeted(r["label"]):
            met = "compatibility: counts the total (use `cursor`)"
        lines.append(f"| {r['label']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {met} |")
    lines += [
        "",
        "| write (HTTP, one client) | p50 ms (1M) | p99 ms (1M) | p50 ms (empty) | "
        "p99 ms (empty) | p50 ratio | target ≤ 1.20 |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for full, empty in zip(data["writes"], data["writes_empty"], strict=True):
        ratio = full["p50_ms"] / empty["p50_ms"]
        met = "met" if ratio <= WRITE_SLOWDOWN and not full["failures"] else "missed"
        lines.append(
            f"| {full['label']} | {full['p50_ms']:.1f} | {full['p99_ms']:.1f} | "
            f"{empty['p50_ms']:.1f} | {empty['p99_ms']:.1f} | {ratio:.2f} | {met} |"
        )
    return "\n".join(lines)
