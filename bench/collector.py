"""Collector benchmark: 10,000 simulated devices each push a day of RUM reports to one collector
(``python -m smartlic collector serve``), which forwards them to an authority (``python -m
smartlic authority serve``); the same reports are also sent straight to a second, fresh
authority in the same run.

Measured: reports/s the collector accepts (committed before answering), the time it takes to
forward everything and have it acknowledged, the collector's peak memory (VmHWM), and the same
reports/s straight into the authority.

Usage::

    .venv/bin/python bench/collector.py              # 10,000 devices (a few minutes)
    .venv/bin/python bench/collector.py --quick      # 300 devices, smoke run
    .venv/bin/python bench/collector.py --write-docs # rewrite the Collector block of the docs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_facts, update_docs_section, warn_if_busy, write_results
from bench._server import free_port

from smartlic.crypto import Udi, generate_key
from smartlic.domain.products import DEFAULT_PROFILE
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.rum import Measurement, RumReport, sign_report, sudi_json

TAGS = [lic.tag for lic in DEFAULT_PROFILE.licenses if lic.enforcement.value == "unenforced"][:2]
DOMAIN, VA = "demo.example", "DEFAULT"
VENDOR = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
DAY = 86_400


# ---------------------------------------------------------------- the devices' reports


def day_of_reports(i: int, now: int) -> tuple[Udi, list[dict[str, Any]]]:
    """One device's day: one report per license in use, 96 samples (15-min sampling)."""
    udi, key = Udi("C9300-24T", f"BENCH{i:06d}"), generate_key()
    reports = [
        RumReport(now * 10 + k, udi, DEFAULT_PROFILE.software_tag, tag,
                  [Measurement(now - DAY, now, 1 + (i + k) % 3, num_samples=96)])
        for k, tag in enumerate(TAGS)
    ]  # fmt: skip
    return udi, [sign_report(r, key) for r in reports]


def body(udi: Udi, reports: list[dict[str, Any]]) -> dict[str, Any]:
    data = {"timestamp": timestamp_ms_now(), "nonce": make_nonce()}
    return {"data": data | {"reports": [{"sudi": sudi_json(udi), "usage": reports}]}}


def timestamp_ms_now() -> int:
    from datetime import UTC, datetime

    return timestamp_ms(datetime.now(UTC))


def push_all(url: str, devices: list[Any], headers: dict[str, str], workers: int) -> float:
    """Every device's reports, ``workers`` devices at a time; returns the seconds taken."""
    local = threading.local()

    def one(device: Any) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(headers=headers, timeout=120)
        response = client.post(url, json=body(*device))
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, devices))
    return time.perf_counter() - started


# ---------------------------------------------------------------- processes


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")}
    return env | extra


def smartlic(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "smartlic", *args], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout


def serve(env: dict[str, str], args: list[str], health: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "smartlic", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(log.read_text())


def authority(tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    env = clean_env(
        SMARTLIC_AUTHORITY_DATA_DIR=str(tmp / name), SMARTLIC_AUTHORITY_LOG_LEVEL="warning"
    )
    smartlic(env, "authority", "init")
    smartlic(env, "authority", "demo")
    key = json.loads((tmp / name / "demo.json").read_text())["api_key"]
    url = f"http://127.0.0.1:{port}"
    proc = serve(
        env, ["authority", "serve", "--port", str(port)], f"{url}/healthz", tmp / f"{name}.log"
    )
    return proc, url, key


def collector(tmp: Path, authority_url: str, key: str, batch: int) -> tuple[Any, str, httpx.Client]:
    pi, api = free_port(), free_port()
    env = clean_env(
        SMARTLIC_COLLECTOR_DATA_DIR=str(tmp / "collector"),
        SMARTLIC_COLLECTOR_PI_PORT=str(pi),
        SMARTLIC_COLLECTOR_API_PORT=str(api),
        SMARTLIC_COLLECTOR_SYNC_INTERVAL_S="0.2",
        SMARTLIC_COLLECTOR_BATCH_SIZE=str(batch),
        SMARTLIC_COLLECTOR_LOG_LEVEL="warning",
    )
    ca = tmp / "authority-a" / "keys" / "ca.pem"  # pinned: ACKs are verified against it
    out = smartlic(env, "collector", "init", "--smart-account", DOMAIN, "--virtual-account", VA,
                   "--authority-url", authority_url, "--api-key", key,
                   "--authority-ca", str(ca))  # fmt: skip
    rest_token = out.split("REST API token", 1)[1].split()[-1]  # printed once by init
    smartlic(env, "collector", "connectivity", "off")  # intake first, forwarding measured apart
    api_url = f"http://127.0.0.1:{api}"
    proc = serve(env, ["collector", "serve"], f"{api_url}/api/v1/health", tmp / "collector.log")
    rest = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {rest_token}"},
                        timeout=30)  # fmt: skip
    return proc, f"http://127.0.0.1:{pi}/cslu/v1/pi/v2/devices/reportusage", rest


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- the measurement


def via_collector(tmp: Path, devices: list[Any], workers: int, batch: int) -> dict[str, Any]:
    auth, auth_url, key = authority(tmp, "authority-a")
    coll, pi_url, api = collector(tmp, auth_url, key, batch)
    try:
        total = sum(len(r) for _, r in devices)
        intake = push_all(pi_url, devices, {}, workers)
        started = time.perf_counter()
        api.patch("/api/v1/preferences", json={"connectivity": True}).raise_for_status()
        while api.get("/api/v1/status").json()["acknowledged"] < total:
            time.sleep(0.25)
        forward = time.perf_counter() - started
        return {"reports": total, "intake_s": intake, "intake_rps": total / intake,
                "forward_s": forward, "forward_rps": total / forward,
                "peak_rss_mb": peak_rss_mb(coll.pid)}  # fmt: skip
    finally:
        api.close()
        for proc in (coll, auth):
            proc.terminate()
            proc.wait(timeout=30)


def direct(tmp: Path, devices: list[Any], workers: int) -> dict[str, Any]:
    auth, auth_url, key = authority(tmp, "authority-b")
    headers = {"Authorization": f"Bearer {key}", "X-CSW-SMART-ACCOUNT-ID": DOMAIN,
               "X-CSW-VIRTUAL-ACCOUNT-ID": VA}  # fmt: skip
    try:
        total = sum(len(r) for _, r in devices)
        seconds = push_all(f"{auth_url}{VENDOR}", devices, headers, workers)
        return {"reports": total, "seconds": seconds, "rps": total / seconds,
                "peak_rss_mb": peak_rss_mb(auth.pid)}  # fmt: skip
    finally:
        auth.terminate()
        auth.wait(timeout=30)


def rows(r: dict[str, Any]) -> list[list[str]]:
    c, d = r["collector"], r["direct"]
    end_to_end = c["intake_s"] + c["forward_s"]

    def rate(n: float, seconds: float) -> list[str]:
        return [f"{n / seconds:,.0f} reports/s", f"{seconds:.1f} s"]

    return [
        ["Devices x reports", f"{r['devices']:,} x {len(TAGS)} = {c['reports']:,}", ""],
        ["Accepted by the collector", *rate(c["reports"], c["intake_s"])],
        ["Forwarded and acknowledged", *rate(c["reports"], c["forward_s"])],
        ["Collector end to end", *rate(c["reports"], end_to_end)],
        ["Straight to the authority", *rate(d["reports"], d["seconds"])],
        ["Collector peak memory (VmHWM)", f"{c['peak_rss_mb']:.0f} MB", ""],
        ["Authority peak memory, direct", f"{d['peak_rss_mb']:.0f} MB", ""],
    ]


def print_table(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Collector benchmark ({r['workers']} concurrent devices)")
    for column in ("Measure", "Rate", "Time"):
        table.add_column(column)
    for row in rows(r):
        table.add_row(*row)
    Console().print(table)


def markdown(r: dict[str, Any], facts: dict[str, Any]) -> str:
    lines = ["| Measure | Rate | Time |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(r)]
    lines.append("")
    cpu = " ".join(facts["cpu"].split()[:2])
    flag = " --quick" if r["quick"] else ""
    lines.append(
        f"Measured {facts['date']} on {facts['nproc']} x {cpu}, Python {facts['python']}, "
        f"commit {facts['commit']}, load average {facts['loadavg_before']} before the run "
        f"(`python bench/collector.py{flag}`)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 devices: a smoke run")
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--workers", type=int, default=8, help="devices pushing at once")
    parser.add_argument("--batch", type=int, default=500, help="collector upload batch size")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    count = args.devices or (300 if args.quick else 10_000)
    warn_if_busy()
    facts = machine_facts()
    now = int(time.time())
    devices = [day_of_reports(i, now) for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        result = {"devices": count, "workers": args.workers, "batch": args.batch,
                  "quick": args.quick,
                  "collector": via_collector(Path(tmp), devices, args.workers, args.batch),
                  "direct": direct(Path(tmp), devices, args.workers)}  # fmt: skip
    print_table(result)
    path = write_results("collector", {"machine": facts, **result})
    print(f"wrote {path}")
    if args.write_docs and not update_docs_section("collector", markdown(result, facts)):
        print("docs/benchmarks.md has no collector markers; add the Collector section first")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
