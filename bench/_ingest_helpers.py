"""Helpers of the ingest benchmark (bench/ingest.py): policy-mode devices with pre-signed RUM
reports, ``reportusage`` bodies, timed phases, peak memory, and the result table.

Usage::

    fleet = make_fleet("S", devices=200)                 # trust keys, nothing signed yet
    batches = sign_batches(fleet, tag, reports=50)       # one list of signed reports per device
    phase = run_bodies([body(d, b) for d, b in batches], threads, worker)
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _tables
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.crypto import Udi, generate_key
from smartlic.domain.products import DEFAULT_PROFILE
from smartlic.formats.envelope import make_nonce, seal_with_key, timestamp_ms
from smartlic.formats.rum import (
    Measurement,
    RumReport,
    key_id_of,
    public_key_b64,
    sign_report,
    sudi_json,
)

# ---------------------------------------------------------------- devices and their reports


@dataclass
class IngestDevice:
    """A product instance in policy mode (as tests/devices.py::PolicyDevice builds them)."""

    udi: Udi
    key: Ed25519PrivateKey = field(default_factory=generate_key)
    next_id: int = 1_767_225_600

    def trust_request(self, token: str, now: datetime) -> dict[str, Any]:
        pub = self.key.public_key()
        payload = {
            "type": "trust-request",
            "udi": {"pid": self.udi.pid, "sn": self.udi.sn},
            "public_key": public_key_b64(pub),
            "hostname": f"bench-{self.udi.sn}",
            "token": token,
            "force": False,
            "timestamp": timestamp_ms(now),
            "nonce": make_nonce(),
        }
        return seal_with_key(payload, self.key, key_id_of(pub))

    def reports(self, tags: Sequence[str], count: int, now: int) -> list[dict[str, Any]]:
        """``count`` signed hourly reports with fresh ids, cycling over ``tags``; the newest
        report of each tag ends at ``now`` (values vary, so counters move)."""
        out = []
        for k in range(count):
            self.next_id += 1
            end = now - 3600 * ((count - 1 - k) // len(tags))
            m = Measurement(end - 3600, end, 1 + (self.next_id % 3), num_samples=4)
            report = RumReport(
                self.next_id,
                self.udi,
                DEFAULT_PROFILE.software_tag,
                tags[k % len(tags)],
                [m],
                hostname=f"bench-{self.udi.sn}",
            )
            out.append(sign_report(report, self.key))
        return out


def make_fleet(prefix: str, devices: int) -> list[IngestDevice]:
    return [IngestDevice(Udi("IR1101-BENCH", f"{prefix}{n:06d}")) for n in range(devices)]


Batch = tuple[IngestDevice, list[dict[str, Any]]]


def sign_batches(fleet: list[IngestDevice], tags: Sequence[str], reports: int) -> list[Batch]:
    now = int(time.time())
    return [(d, d.reports(tags, reports, now)) for d in fleet]


def body(batch: Batch) -> dict[str, Any]:
    """The ``reportusage`` body an agent sends: one device, all its unacknowledged reports,
    a fresh timestamp and nonce (built just before a phase: the authority allows ±5 min)."""
    device, reports = batch
    return {
        "data": {
            "timestamp": timestamp_ms(datetime.now(UTC)),
            "nonce": make_nonce(),
            "reports": [{"sudi": sudi_json(device.udi), "usage": reports}],
        }
    }


# ---------------------------------------------------------------- timed phases


@dataclass
class Phase:
    """One timed run of ``reportusage`` calls."""

    requests: int
    reports: int
    threads: int
    seconds: float
    failures: int
    cpu_seconds: float  # of the process doing the work: the bench (in-process) or the server
    latencies: list[float] = field(repr=False)

    @property
    def rate(self) -> float:
        return self.reports / self.seconds

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies) or [float("nan")]
        return {
            "requests": self.requests,
            "reports": self.reports,
            "threads": self.threads,
            "seconds": round(self.seconds, 3),
            "reports_per_second": round(self.rate, 1),
            "failures": self.failures,
            "cpu_ms_per_report": round(1000 * self.cpu_seconds / self.reports, 4),
            "latency_p50_ms": round(1000 * lat[len(lat) // 2], 2),
            "latency_p95_ms": round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2),
        }


# A worker factory returns (call, close); call(body) says whether the call succeeded.
Worker = tuple[Callable[[dict[str, Any]], bool], Callable[[], None]]


def run_bodies(
    bodies: Sequence[dict[str, Any]],
    threads: int,
    make_worker: Callable[[], Worker],
    cpu: Callable[[], float] = time.process_time,
) -> Phase:
    """Send every body through ``threads`` workers (body k to worker k % threads)."""
    slices = [bodies[k::threads] for k in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    ready = threading.Barrier(threads + 1)

    def work(k: int) -> None:
        call, close = make_worker()
        try:
            ready.wait()
            for b in slices[k]:
                t0 = time.perf_counter()
                failures[k] += not call(b)
                latencies[k].append(time.perf_counter() - t0)
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
    reports = sum(len(r["usage"]) for b in bodies for r in b["data"]["reports"])
    flat = [x for lat in latencies for x in lat]
    return Phase(len(bodies), reports, threads, elapsed, sum(failures), cpu_used, flat)


# ---------------------------------------------------------------- memory


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set (VmHWM) of a process, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def own_maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pid_of(proc: Any) -> int:
    return int(proc.pid) if proc is not None else os.getpid()


# ---------------------------------------------------------------- the table

HEADERS = [
    "Backend",
    "Measure",
    "Floor",
    "In-process",
    "HTTP",
    "In-process (1 thr) / floor",
    "HTTP / floor",
    "HTTP / in-process",
    "Target",
]


def _backend_rows(label: str, r: dict[str, Any]) -> list[list[str]]:
    s = r["summary"]
    fails = f" **{s['failures']} requests failed**" if s["failures"] else ""
    runs = ", ".join(f"{k.split('=')[1]} thr {v:,.0f}" for k, v in s["inprocess"].items())
    return [
        [
            label,
            "new reports/s",
            f"{s['floor']:,.0f} (1 thr)" if "floor" in s else "—",
            f"{s['ceiling']:,.0f} ({runs})",
            f"{s['http']:,.0f} ({s['clients']} clients; p50 {s['http_p50_ms']:.0f} ms "
            f"per request){fails}",
            f"{s['inprocess']['threads=1'] / s['floor']:.0%}" if "floor" in s else "—",
            f"{s['http_floor']:.0%}" if "floor" in s else "—",
            f"{s['ratio']:.0%}",
            "in-process ≥ 60% of floor; HTTP ≥ 50% of in-process"
            + ("; ≥ 5,000/s" if label.startswith("sqlite") else ""),
        ],
        [
            label,
            "CPU ms per new report (floor / bench / server)",
            f"{s['floor_cpu_ms']:.3f}" if "floor" in s else "—",
            f"{s['cpu_ms_inprocess']:.3f} ({s['statements_per_request']:.0f} SQL statements "
            "per request)",
            f"{s['cpu_ms_server']:.3f}",
            f"{s['floor_cpu_ms'] / s['cpu_ms_inprocess']:.0%}" if "floor" in s else "—",
            f"{s['floor_cpu_ms'] / s['cpu_ms_server']:.0%}" if "floor" in s else "—",
            f"{s['cpu_ratio']:.0%}",
            "—",
        ],
        [
            label,
            "duplicate reports/s (re-sent, acknowledged again)",
            "—",
            f"{s['dup_inprocess']:,.0f}",
            f"{s['dup_http']:,.0f}",
            "—",
            "—",
            f"{s['dup_ratio']:.0%}",
            "—",
        ],
        [
            label,
            "peak memory (MB)",
            "—",
            f"{s['bench_maxrss_mb']:.0f} (bench process, ru_maxrss, holds every signed report)",
            f"{s['server_vmhwm_mb']:.0f} (authority process, VmHWM; "
            f"{s['server_vmhwm_idle_mb']:.0f} after start)",
            "—",
            "—",
            "—",
            "—",
        ],
    ]


def rows(data: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []
    for backend, r in data["results"].items():
        if "skipped" in r:
            out.append([backend, "skipped", r["skipped"], *[""] * (len(HEADERS) - 3)])
        else:
            out += _backend_rows(f"{backend} {r['database_version']}", r)
    return out


def console_table(data: dict[str, Any]) -> None:
    _tables.console_table("smartlic ingest benchmark", HEADERS, rows(data), data["machine"])


def markdown_report(data: dict[str, Any]) -> str:
    cfg = data["config"]
    sizes = (
        f"Sizes: {cfg['devices']} devices x {cfg['reports']} reports = "
        f"{cfg['devices'] * cfg['reports']:,} reports per phase, one device per request "
        f"(as the agent's `reportusage` sends them), {cfg['threads']} threads / clients."
    )
    return _tables.markdown_table([sizes], HEADERS, rows(data), data["machine"])
