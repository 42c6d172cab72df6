"""Scale-out (issue 14): throughput of ``smartlic authority serve --workers N`` on one
PostgreSQL, for N = 1 and 2 (target: 2 workers >= 1.5x one on this 2-core machine), and
where the CPU goes.

For each N, a fresh database (``smartlic_scaleout``) with one account, a license pool and a
token; the server process with N uvicorn workers; then, from ``--threads`` client threads,
``--calls`` registrations (new devices), as many authorizations (of those devices, the count
changing each round so every call moves the pool counter) and ``--calls`` batched usage
reports (10 signed reports of one policy-mode device each; trust installed before the clock).
1- and 2-worker runs alternate ``--rounds`` times (1 2 2 1 ...: both see the same load); medians.

Before each phase's clock: every worker answers (a starting worker spends seconds of CPU
importing the app), the requests are built, signed and encoded, one keep-alive connection
per thread is open (evened out over the workers, see ``Watched.connections``) and each has
made ``WARM`` calls. Over the phase: calls/s of wall time, and CPU seconds of each worker, the
supervisor, the database's PostgreSQL backends, PostgreSQL's shared processes, the client
(this process) and the whole machine (``_proc_cpu``), printed as ms per call. From those
costs, the ceiling: a worker runs on at most one core, everything on at most all of them.
Wall-clock rates on a shared machine are noise; CPU per call and the ceiling are not.

After each run the rules the load could break are checked in the database: the token's use
count equals the registrations made, the pool counter equals the sum of the instances' usage,
and every report was stored once (tests/e2e/test_scaleout.py asserts the same under load).

Usage::

    python bench/scaleout.py [--calls 300] [--threads 8] [--rounds 3] [--spread 8] [--write-docs]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from math import nan
from pathlib import Path
from typing import Any, Self

import psutil
import psycopg
from _common import load_average, machine_facts, update_docs_section, write_results
from _devices import make_devices
from _ingest_helpers import body, make_fleet, sign_batches
from _proc_cpu import MACHINE, CpuSnapshot, process_cpu
from _server import AuthorityServer
from scale import DOMAIN, SERVER, recreate, setup_accounts

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.scope import system
from smartlic.clock import SystemClock
from smartlic.storage import make_engine
from smartlic.web.metrics import MULTIPROC_ENV

DATABASE = "smartlic_scaleout"
WORK = Path("/var/tmp/smartlic-scaleout")
DEVICE = "/api/device/v1"
REPORTUSAGE = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
REPORTS = 10
TARGET = 1.5
WARM = 2  # untimed calls per connection before each phase's clock


HEADERS = {"Content-Type": "application/json"}
SAMPLER = "scaleout-wait-sampler"  # its PostgreSQL backend is not the server's


class Watched:
    """The server's processes, by role: its uvicorn workers (the server process itself with
    one worker), the supervisor that starts them, and the PostgreSQL backends serving the
    benchmark database; with the client (this process) and the machine, for CPU accounting."""

    def __init__(self, server: AuthorityServer, database_url: str, workers: int) -> None:
        self.server, self.database_url, self.n = server, database_url, workers
        self.port = server.port
        assert server.proc is not None
        self.top = psutil.Process(server.proc.pid)
        self.startup_cpu_s: dict[str, float] = {}
        self.late_start_s = 0.0

    def workers(self) -> list[psutil.Process]:
        if self.n == 1:
            return [self.top]
        return [p for p in self.top.children() if "spawn_main" in " ".join(p.cmdline())]

    def helpers(self) -> list[int]:
        """The supervisor and its other children (multiprocessing's resource tracker)."""
        if self.n == 1:
            return []
        workers = {p.pid for p in self.workers()}
        return [self.top.pid, *(p.pid for p in self.top.children() if p.pid not in workers)]

    def worker_of(self, conn: http.client.HTTPConnection) -> int:
        """The pid of the worker that accepted ``conn`` (0 if none is found)."""
        assert conn.sock is not None
        port = conn.sock.getsockname()[1]
        for worker in self.workers():
            for c in worker.net_connections("tcp"):
                if c.raddr and c.raddr.port == port and c.laddr.port == self.port:
                    return worker.pid
        return 0

    def connections(
        self, count: int, balance: bool
    ) -> tuple[list[http.client.HTTPConnection], list[int]]:
        """``count`` keep-alive connections, and how many each worker accepted (most first).
        Which worker accepts a connection is a race between the idle ones (one listening
        socket); over 8 connections that lottery alone can give one worker 6 and cap the
        gain at 1.33x. With ``balance``, a connection that lands on a worker which already
        has its share is closed and opened again (before the clock): the benchmark measures
        what the workers can do, a production server sees many connections."""
        share = -(-count // self.n)
        conns: list[http.client.HTTPConnection] = []
        split: Counter[int] = Counter()
        for _ in range(count * 30):
            if len(conns) == count:
                break
            conn = _connect(self)
            pid = self.worker_of(conn)
            if balance and split[pid] >= share:
                conn.close()
                continue
            conns.append(conn)
            split[pid] += 1
        while len(conns) < count:  # the lottery would not even out: take what comes
            conns.append(_connect(self))
            split[self.worker_of(conns[-1])] += 1
        return conns, sorted(split.values(), reverse=True)

    def wait_all_workers(self, deadline: float) -> None:
        """The server answers /healthz as soon as one worker is up; a phase must not start
        while another still imports the app (its CPU, and connections it cannot accept).
        ``late_start_s``: the CPU the workers spent between the first answer and now, which a
        phase started at the first answer would have counted."""
        first = sum(process_cpu(p.pid) or 0.0 for p in self.workers())
        seen: set[int] = set()
        while len(seen) < self.n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(seen)} of {self.n} workers answered")
            conn = _connect(self)
            seen.add(self.worker_of(conn))
            conn.close()
            seen.discard(0)
            time.sleep(0.05)
        self.startup_cpu_s = {  # imports, app and engine: what each worker cost before serving
            f"worker {k + 1}": round(process_cpu(p.pid) or 0.0, 2)
            for k, p in enumerate(self.workers())
        }
        self.late_start_s = round(sum(self.startup_cpu_s.values()) - first, 2)

    def postgres(self) -> tuple[list[int], list[int]]:
        """The benchmark database's client backends, and PostgreSQL's shared processes (WAL
        writer, checkpointer, ...: they work for every database on the server) with the
        autovacuum workers of this database."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, backend_type, datname = current_database() FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND application_name <> %s",
                (SAMPLER,),
            ).fetchall()
        ours = [pid for pid, kind, here in rows if kind == "client backend" and here]
        shared = [pid for pid, kind, here in rows if kind != "client backend" and here is not False]
        return ours, shared

    def cpu_snapshot(self, previous: CpuSnapshot | None = None) -> CpuSnapshot:
        groups: dict[str, list[int]] = {
            f"worker {k + 1}": [p.pid] for k, p in enumerate(self.workers())
        }
        ours, shared = self.postgres()
        if previous is not None:  # a backend that was there at the start still counts
            ours = sorted(set(ours) | set(previous.groups["postgres backends"]))
        groups |= {"supervisor": self.helpers(), "postgres backends": ours,
                   "postgres shared": shared, "client": [os.getpid()]}  # fmt: skip
        return CpuSnapshot.take(groups)


Call = tuple[str, bytes, "Callable[[Any], None] | None"]  # path, JSON body, response handler


def call(path: str, payload: Any, after: Callable[[Any], None] | None = None) -> Call:
    """A POST built before the clock: its body already encoded, its response handled after."""
    return path, json.dumps(payload).encode(), after


def _connect(server: Watched) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request("GET", "/healthz")  # accepted by a worker now, not inside the timed phase
    conn.getresponse().read()
    return conn


def run_phase(
    server: Watched, calls: list[Call], threads: int, balance: bool = True
) -> dict[str, Any]:
    """``calls`` from ``threads`` threads, one keep-alive connection each (http.client: the
    lightest client at hand, so the server gets most of the machine). Before the clock:
    connections opened (the worker that accepted each noted) and the first ``WARM`` calls of
    each connection made (a fresh worker's first calls compile statements and fill caches,
    once per worker); then CPU by process over the rest. Response bodies are parsed after."""
    conns, split = server.connections(threads, balance)
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(calls)
    warm = min(WARM * threads, len(calls) // 4)

    def drive(indices: range) -> None:
        start = threading.Barrier(threads + 1)

        def client(t: int) -> None:
            conn = conns[t]
            start.wait()
            for k in indices[t::threads]:
                path, payload, _ = calls[k]
                conn.request("POST", path, body=payload, headers=HEADERS)
                r = conn.getresponse()
                answers[k] = (r.status, r.read())

        pool = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
        for t in pool:
            t.start()
        start.wait()
        for t in pool:
            t.join()

    cold = server.cpu_snapshot()
    drive(range(warm))
    warm_cpu = server.cpu_snapshot(cold).minus(cold)
    waits, probe = WaitSampler(server.database_url), SpeedProbe()
    before = server.cpu_snapshot()
    t0 = time.perf_counter()
    with waits, probe:
        drive(range(warm, len(calls)))
    seconds = time.perf_counter() - t0
    after = server.cpu_snapshot(before)
    cpu, kernel, switches = after.minus(before), after.minus(before, 1), after.minus(before, 2)
    cpu["client"] -= sum(probe.costs)  # the probe is not the client's work
    for c in conns:
        c.close()
    failures = 0
    for (status, raw), (_, _, after) in zip(answers, calls, strict=True):
        if status not in (200, 202):
            failures += 1
        elif after is not None:
            after(json.loads(raw))
    timed = len(calls) - warm
    warm_ms = sum(v for k, v in warm_cpu.items() if k.startswith("worker ")) * 1000 / warm
    return {"calls": timed, "warm_up": warm, "warm_up_worker_ms": round(warm_ms, 2),
            "failures": failures,
            "seconds": round(seconds, 2), "per_s": round(timed / seconds, 1),
            "cpu_s": {k: round(v, 3) for k, v in cpu.items()}, "connections": split,
            "system_cpu_s": {k: round(v, 3) for k, v in kernel.items()},
            "context_switches": {k: int(v) for k, v in switches.items()},
            "waits": waits.summary(), "probe_us": probe.us()}  # fmt: skip


class Background:
    """A sampler's thread, run for the duration of a ``with`` block (``_run`` loops until
    ``stop`` is set)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        raise NotImplementedError


class SpeedProbe(Background):
    """How fast a CPU second is during a phase: a fixed piece of Python work (JSON and a sort)
    every 50 ms in a thread of the client, timed with its own thread CPU clock. If a second
    worker's calls cost more CPU, this tells whether they did more work or the same work on a
    slower CPU (caches and cores shared with everyone on a loaded VM)."""

    WORK = {"udi": {"pid": "C9300", "sn": "X" * 12}, "entitlements": list(range(40))}

    def __init__(self) -> None:
        super().__init__()
        self.costs = list[float]()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            t = time.thread_time()
            for _ in range(50):
                sorted(json.loads(json.dumps(self.WORK))["entitlements"], reverse=True)
            self.costs.append(time.thread_time() - t)

    def us(self) -> float:
        """Median CPU µs of one piece of work."""
        return round(1e6 * _median(self.costs), 1) if self.costs else nan


class WaitSampler(Background):
    """What the benchmark database's backends are doing, sampled every 0.1 s during a phase:
    running, waiting for a lock (a hot row), or idle inside a transaction (waiting for the
    worker to send the next statement: CPU or GIL)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url, self.samples, self.count = url, Counter[str](), 0

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True, application_name=SAMPLER) as conn:
            while not self.stop.wait(0.1):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE "
                    "datname = current_database() AND backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid()"
                ).fetchall()
                self.count += 1
                for state, kind, event in rows:
                    if state == "active" and kind == "Lock":
                        self.samples[f"lock:{event}"] += 1
                    elif state == "active":
                        self.samples["running" if kind is None else f"{kind}:{event}"] += 1
                    elif state == "idle in transaction":
                        self.samples["idle in transaction"] += 1

    def summary(self) -> dict[str, float]:
        """Mean number of backends in each state (over the samples)."""
        n = max(self.count, 1)
        return {k: round(v / n, 2) for k, v in self.samples.most_common()}


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
    url = recreate(args.server, args.database)
    st = setup_accounts(url, work, args.spread + 1, 2)
    svc = build_services(make_engine(url), SystemClock(), AuthorityKeys.load(work / "keys"))
    reg_tokens, trust_tokens = _pools(svc, st, args.spread)
    fleet = make_fleet(f"W{workers}U", args.calls)
    for k, d in enumerate(fleet):  # tokens of their own: registration tokens count registrations
        svc.trust.establish(d.trust_request(trust_tokens[k % args.spread], datetime.now(UTC)))
    devices = make_devices(f"W{workers}R", args.calls)
    svc.engine.dispose()
    out: dict[str, Any] = {"workers": workers, "load_before": load_average()}
    server = AuthorityServer(url, work / "keys", work / "server", workers=workers)
    # the connections wait while the others open and between phases (seconds on a busy
    # machine): an idle minute, not the 5 s / 20 s defaults, so none is closed under the
    # client (the same timers run per request either way)
    server.env |= {
        "SMARTLIC_AUTHORITY_KEEP_ALIVE_S": "60",
        "SMARTLIC_AUTHORITY_READ_TIMEOUT_S": "60",
    }
    with server:
        watched = Watched(server, url, workers)
        watched.wait_all_workers(time.monotonic() + 60 * workers)
        now = datetime.now(UTC)
        reg = [call(f"{DEVICE}/register", d.register_request(reg_tokens[k % args.spread], now),
                    d.accept) for k, d in enumerate(devices)]  # fmt: skip
        out["startup_cpu_s"] = watched.startup_cpu_s
        out["late_start_s"] = watched.late_start_s
        out["registrations"] = run_phase(watched, reg, args.threads, args.balance)
        now = datetime.now(UTC)
        auth = [call(f"{DEVICE}/authorize", d.authorize({st["tags"][1]: 1 + k % 2}, now))
                for k, d in enumerate(devices) if d.key_id]  # fmt: skip
        out["authorizations"] = run_phase(watched, auth, args.threads, args.balance)
        batches = sign_batches(fleet, st["tags"][:1], REPORTS)
        usage = [call(REPORTUSAGE, body(b)) for b in batches]
        out["usage_reports"] = run_phase(watched, usage, args.threads, args.balance)
    out["load_after"] = load_average()
    out["checks"] = check_rules(url, args.calls)
    print(f"  {workers} worker(s): " + ", ".join(
        f"{k} {out[k]['per_s']}/s ({out[k]['failures']} failed, server CPU "
        f"{server_ms(out[k]):.1f} ms/call, connections {out[k]['connections']})"
        for k in ("registrations", "authorizations", "usage_reports")))  # fmt: skip
    return out


_METRICS_COST = """
import time
from smartlic.web.metrics import Metrics
m = Metrics(server="authority", probe=list)
route = "/api/device/v1/authorize"
for n in (200, 20000):  # the first calls create the label sets (and, shared, their files)
    t = time.process_time()
    for _ in range(n):  # what the middleware does once per request
        m.latency.labels("authority", "POST", route).observe(0.004)
        m.requests.labels("authority", "POST", route, "200").inc()
print((time.process_time() - t) / n * 1e6)
"""


def metrics_cost(work: Path) -> dict[str, float]:
    """CPU µs per request of the request metrics, in one process and shared between workers
    (``PROMETHEUS_MULTIPROC_DIR``: memory-mapped files, what ``--workers 2`` turns on)."""
    shared = work / "metrics-cost"
    shutil.rmtree(shared, ignore_errors=True)
    shared.mkdir(parents=True)
    out = {}
    for mode, extra in (("one process", {}), ("shared", {MULTIPROC_ENV: str(shared)})):
        env = {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV} | extra
        run = subprocess.run([sys.executable, "-c", _METRICS_COST], env=env, check=True,
                             capture_output=True, text=True)  # fmt: skip
        out[mode] = round(float(run.stdout), 1)
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


PHASES = (("registrations", "registrations"), ("authorizations", "authorizations"),
          ("usage_reports", f"usage reports ({REPORTS} reports each)"))  # fmt: skip
ROWS = ("workers", "supervisor", "postgres backends", "postgres shared", "client", "others")


def per_call_ms(phase: dict[str, Any]) -> dict[str, float]:
    """CPU ms per call by role; ``workers`` sums them, ``others`` is everything else the
    machine ran meanwhile (other people's work)."""
    cpu, n = phase["cpu_s"], phase["calls"]
    out = {k: 1000 * v / n for k, v in cpu.items() if k != MACHINE}
    out["workers"] = sum(v for k, v in out.items() if k.startswith("worker "))
    ours = sum(v for k, v in cpu.items() if k != MACHINE)
    out["others"] = 1000 * max(cpu[MACHINE] - ours, 0.0) / n
    out["cores busy"] = cpu[MACHINE] / phase["seconds"]
    if "system_cpu_s" not in phase:  # an earlier version's results
        return out
    out["speed probe, µs CPU"] = phase["probe_us"]
    kernel, switches = phase["system_cpu_s"], phase["context_switches"]
    out["workers: in the kernel"] = sum(
        1000 * v / n for k, v in kernel.items() if k.startswith("worker ")
    )
    out["workers: context switches"] = sum(
        v / n for k, v in switches.items() if k.startswith("worker ")
    )
    return out


def server_ms(phase: dict[str, Any]) -> float:
    """The server's CPU per call: its workers, their supervisor and their database backends."""
    ms = per_call_ms(phase)
    return ms["workers"] + ms["supervisor"] + ms["postgres backends"]


def ceiling(ms: dict[str, float], workers: int, cores: int, client: bool = True) -> float:
    """The most calls/s these CPU costs allow: each worker runs on at most one core (one GIL),
    and everything together (workers, supervisor, PostgreSQL, the client unless it runs
    elsewhere) on at most ``cores``."""
    total = sum(ms[k] for k in ROWS[:-1] if client or k != "client")
    return 1000 * min(workers / ms["workers"], cores / total)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else nan


def summarise(runs: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    """Per phase and worker count: median rate and median CPU ms per call by role over the
    rounds; the ceiling ratio from those costs."""
    out: dict[str, Any] = {}
    for key, _ in PHASES:
        by_n: dict[int, dict[str, Any]] = {}
        for n in (1, 2):
            phases = [r[key] for r in runs if r["workers"] == n]
            costs = [per_call_ms(p) for p in phases]
            names = sorted({k for c in costs for k in c})
            by_n[n] = {
                "per_s": _median([p["per_s"] for p in phases]),
                "ms": {k: _median([c.get(k, 0.0) for c in costs]) for k in names},
                "connections": [p["connections"] for p in phases],
                "waits": phases[-1]["waits"] if phases else {},
            }
        one, two = by_n[1], by_n[2]
        out[key] = {
            "runs": by_n,
            "ratio": two["per_s"] / one["per_s"],
            "ceiling": ceiling(two["ms"], 2, cores) / ceiling(one["ms"], 1, cores),
            "ceiling_client_elsewhere": ceiling(two["ms"], 2, cores, client=False)
            / ceiling(one["ms"], 1, cores, client=False),
        }
    return out


def markdown(data: dict[str, Any]) -> str:
    m, s = data["machine"], data["summary"]
    runs = data["runs"]
    loads = [r["load_before"] for r in runs]
    lines = [
        f"Command: `{m['command']}`  ",
        f"{m['date']}, commit `{m['commit']}`, {m['nproc']} CPUs; {data['calls']} calls per "
        f"phase from {data['threads']} client threads (same machine, one keep-alive connection "
        f"each), spread over {data.get('spread', 1)} virtual account(s) with a token and pool "
        f"each; {data['rounds']} round(s) of 1 and 2 workers (1, 2, 2, 1, ...), medians. "
        f"Load average "
        f"{min(loads)}-{max(loads)} before the runs.",
        "",
        "| calls/s | 1 worker | 2 workers | ratio | target ≥ 1.5 | ceiling here | "
        "ceiling, client elsewhere |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for key, label in PHASES:
        p = s[key]
        a, b = p["runs"][1]["per_s"], p["runs"][2]["per_s"]
        lines.append(
            f"| {label} | {a:.1f} | {b:.1f} | {p['ratio']:.2f} | "
            f"{'met' if p['ratio'] >= TARGET else 'missed'} | {p['ceiling']:.2f} | "
            f"{p['ceiling_client_elsewhere']:.2f} |"
        )
    lines += ["", "CPU by process, ms per call (medians; *others*: the rest of the machine "
              "meanwhile, other people's work; *in the kernel*: the workers' system time, "
              "included above; context switches per call, all threads; *speed probe*: CPU µs of a "
              "fixed piece of Python work in the client meanwhile, higher = slower CPU):", "",
              "| ms CPU per call | " + " | ".join(f"{k[:5]}. 1w | {k[:5]}. 2w" for k, _ in
                                                  PHASES) + " |",
              "|---|" + "---:|" * 2 * len(PHASES)]  # fmt: skip
    names = sorted({k for p in s.values() for n in (1, 2) for k in p["runs"][n]["ms"]
                    if k.startswith("worker ")})  # fmt: skip
    extra = ("workers: in the kernel", "workers: context switches", "cores busy",
             "speed probe, µs CPU")  # fmt: skip
    for row in (*names, *ROWS, "server (workers + supervisor + backends)", *extra):
        cells = []
        for key, _ in PHASES:
            for n in (1, 2):
                ms = s[key]["runs"][n]["ms"]
                if row.startswith("server"):
                    value = (
                        ms.get("workers", 0)
                        + ms.get("supervisor", 0)
                        + ms.get("postgres backends", 0)
                    )
                else:
                    value = ms.get(row, float("nan"))
                cells.append("" if value != value else f"{value:.2f}")  # nan: no such worker
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", "Connections per worker (each phase's 8 keep-alive connections, by the worker "
              "that accepted them): " + "; ".join(
                  f"{key} {s[key]['runs'][2]['connections']}" for key, _ in PHASES) + ".",
              "Benchmark database backends, mean number running / waiting for a row lock "
              "(lock:...) / idle in a transaction, waiting for their worker (last run of each): "
              + "; ".join(f"{key} 1w {s[key]['runs'][1]['waits']}, 2w "
                          f"{s[key]['runs'][2]['waits']}" for key, _ in PHASES) + "."]  # fmt: skip
    two = [r for r in runs if r["workers"] == 2]
    starts = [v for r in two for v in r["startup_cpu_s"].values()]
    late = _median([r.get("late_start_s", 0.0) for r in two])
    warm = [_median([r[k].get("warm_up_worker_ms", nan) for r in two]) for k, _ in PHASES]
    lines.append(
        f"Start-up CPU of a worker (imports, app, engine; median of {len(starts)}): "
        f"{_median(starts):.1f} s before it serves; after the server's first answer the "
        f"2 workers still spent {late:.1f} s (median). Each phase starts once every worker "
        f"answers, after {WARM} untimed calls per connection"
        + ("." if nan in warm or any(w != w for w in warm) else
           f"; those first calls cost the workers {warm[0]:.1f}, {warm[1]:.1f}, {warm[2]:.1f} "
           "ms each (registrations, authorizations, usage reports; 2 workers).")
    )  # fmt: skip
    cost = data["metrics_us"]
    lines.append(
        f"Request metrics, CPU per request: {cost['one process']} µs in one process, "
        f"{cost['shared']} µs shared between workers (memory-mapped files)."
    )
    checks = [r["checks"] for r in runs]
    held = all(c["ok"] for c in checks)
    lines += ["", "Rules after each run (token uses = registrations, pool counters = sum of "
              f"usage, reports stored once): {'held' if held else 'BROKEN'}"
              f" in all {len(checks)} runs" + ("." if held else f" — {checks}.")]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", default=SERVER)
    p.add_argument("--work", default=str(WORK))
    p.add_argument("--database", default=DATABASE, help="dropped and made again for each run")
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument(
        "--spread", type=int, default=1, help="virtual accounts (a token, a pool each) to load"
    )
    p.add_argument(
        "--rounds", type=int, default=3, help="1- and 2-worker runs, interleaved (1 2 2 1 ...)"
    )
    p.add_argument(
        "--no-balance",
        dest="balance",
        action="store_false",
        help="keep whichever worker accepts each connection (no evening out)",
    )
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    facts = machine_facts()
    # 1, 2, 2, 1, 1, 2...: neither setup always runs first after a fresh database server state
    order = [n for r in range(args.rounds) for n in ((1, 2) if r % 2 == 0 else (2, 1))]
    runs = [one_run(args, n) for n in order]
    data = {"machine": facts, "metrics_us": metrics_cost(Path(args.work)),
            "calls": args.calls, "threads": args.threads,
            "spread": args.spread, "rounds": args.rounds, "runs": runs,
            "summary": summarise(runs, facts["nproc"])}  # fmt: skip
    path = write_results("scaleout", data)
    report = markdown(data)
    print(report, f"\nresults: {path}", sep="\n")
    if args.write_docs and not update_docs_section("scaleout", report):
        print("docs/benchmarks.md has no bench:scaleout markers; not updated")
    return 0 if all(r["checks"]["ok"] for r in runs) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
