"""Issue 9's benchmark: the CSSM API over HTTPS (an OAuth2 token, the licenses list, the devices
list) against the same service calls in-process, in one run.

Usage::

    .venv/bin/python bench/cssm.py                 # 10 s per measure (5 pairs of 1 s + 1 s)
    .venv/bin/python bench/cssm.py --quick         # a smoke run
    .venv/bin/python bench/cssm.py --write-docs    # also refresh docs/benchmarks.md

How it measures: one SQLite database seeded with ``--devices`` instances using five licenses;
**in-process** calls ``services.api_clients.issue_token``, ``services.licenses.compliance_of``
(every virtual account, one read) and ``services.instances.list_instances`` (one page of 100),
the calls the routes make; **HTTPS**
serves the shipped command (``smartlic authority serve --tls``, one worker, its own process,
the background job runner off so that its runs are not counted as the requests' CPU)
and ``--clients`` client processes (4; ``_https_clients.py``), each with a keep-alive
``http.client`` connection trusting the authority's CA, call ``POST /as/token.oauth2``,
``POST .../v1/accounts/{d}/licenses`` and ``GET .../virtual-accounts/DEFAULT/devices``: the
server's throughput when several tools (or an Ansible run's forks) call at once. In-process
runs on one thread: a Python process does one call at a time (the GIL), as the server's one
worker does. (One client thread in this process, as before, measured the client's own TLS and
JSON work and the loopback's round trip in series with the server's work, not the server.)
**The HTTPS floor**, measured in the same rounds: the same three service calls behind a bare
ASGI app (``_bare_asgi.py``: no framework, no middleware, no validation; the call on anyio's
thread pool as FastAPI runs a sync route, its result written as JSON by pydantic-core) under
the authority's own uvicorn configuration and TLS, loaded by the same client processes: what
HTTPS, uvicorn and one thread-pool hop cost these calls with nothing of ours around them. Its
ratio to in-process is the best any framework could reach here.
The machine is shared, so each measure runs as
``--rounds`` interleaved triples (in-process, HTTPS, the floor; ``--seconds / --rounds`` each):
every side of a ratio sees the same load. The table gives the medians (a ratio is the median
of the rounds' ratios; every round is in the JSON), and the CPU milliseconds per call of the
process doing the work (this one in-process, the server's ``/proc`` times over HTTPS; one clock
tick is 10 ms, so a measure needs a few hundred calls): on a loaded machine that is the figure
to trust. Performance is never asserted.
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from _bare_asgi import BareAsgiServer
from _common import machine_facts, update_docs_section, warn_if_busy, write_results
from _https_clients import HttpsClients, Request
from _seed import seed_instances
from _server import AuthorityServer
from _tables import console_table, markdown_table

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.clock import SystemClock
from smartlic.crypto import write_server_certificate
from smartlic.domain.enums import HoldingKind, Role
from smartlic.domain.products import make_tag
from smartlic.storage import make_engine, upgrade

D = "bench.example"
SA = "/services/api/smart-accounts-and-licensing"
HEADERS = [
    "Measure", "In-process (calls/s)", "HTTPS (calls/s)", "HTTPS / in-process", "Target",
    "floor: bare HTTPS / in-process", "CPU ms/call in-process", "server CPU ms/request",
    "floor server CPU ms/request",
]  # fmt: skip


class TlsAuthorityServer(AuthorityServer):
    """The authority served with ``--tls`` (a certificate from its own CA)."""

    def __init__(self, database_url: str, key_dir: Path, data_dir: Path) -> None:
        super().__init__(database_url, key_dir, data_dir)
        # no background job runs (every 10 s by default) inside the server's CPU per request:
        # at a few requests a second under load, one run weighs more than the requests
        self.env["SMARTLIC_AUTHORITY_JOBS_INTERVAL_S"] = "0"
        self.url = f"https://127.0.0.1:{self.port}"
        self.verify = ssl.create_default_context(cafile=str(key_dir / "ca.pem"))

    def command(self) -> list[str]:
        return [*super().command(), "--tls"]

    def _wait_ready(self, deadline: float) -> None:
        assert self.proc is not None
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/healthz", verify=self.verify).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"authority server did not start:\n{self.log_path.read_text()}")


def seed(services: Services, devices: int) -> tuple[str, str]:
    """The account, five licenses, ``devices`` instances in DEFAULT; an API client."""
    services.accounts.create_smart_account(name="Bench", domain=D, scope=SYSTEM)
    tags = [make_tag(f"bench{i}") for i in range(5)]
    for i, tag in enumerate(tags):
        services.licenses.define_license(
            tag=tag, name=f"bench{i}", display_name=f"Bench {i}", scope=SYSTEM
        )
        services.licenses.add_holding(
            D, "DEFAULT", tag=tag, quantity=10**6, kind=HoldingKind.PERPETUAL, scope=SYSTEM
        )
    va_id = services.accounts.list_virtual_accounts(D, scope=SYSTEM)[0].id
    from sqlalchemy import select

    from smartlic.storage.models import License

    with services.engine.connect() as c:
        ids = {row.tag: row.id for row in c.execute(select(License.id, License.tag))}
    seed_instances(services.engine, va_id, [ids[t] for t in tags], devices)
    client = services.api_clients.create_client(D, role=Role.SMART_ACCOUNT_ADMIN, actor="bench")
    return client.client_id, client.client_secret


def rate(call: Callable[[], Any], seconds: float, cpu: Callable[[], float]) -> tuple[float, float]:
    """Calls per second, and CPU ms per call of the process doing the work (``cpu``)."""
    call()  # warm up
    n, start, cpu_start = 0, time.perf_counter(), cpu()
    while (elapsed := time.perf_counter() - start) < seconds:
        call()
        n += 1
    return n / elapsed, 1000 * (cpu() - cpu_start) / n


Calls = dict[str, Callable[[], Any]]


def inprocess_calls(services: Services, cid: str, secret: str) -> Calls:
    p = system("bench")
    return {
        "token": lambda: services.api_clients.issue_token(cid, secret),
        "licenses": lambda: services.licenses.compliance_of(D, scope=p),
        "devices": lambda: services.instances.list_instances(D, "DEFAULT", limit=100, scope=p),
    }


def floor_requests(cid: str, secret: str) -> dict[str, Request]:
    """The same three calls to the bare app (``_bare_asgi.py``, ``calls="cssm"``)."""
    grant = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return {
        "token": ("POST", "/as/token.oauth2", urlencode(grant), form),
        "licenses": ("POST", f"/licenses?domain={D}", "{}", {"Content-Type": "application/json"}),
        "devices": ("GET", f"/devices?domain={D}", "", {}),
    }


def https_requests(http: httpx.Client, cid: str, secret: str) -> dict[str, Request]:
    """The three requests, built once (a bearer token taken now for the two reads)."""
    grant = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    bearer = http.post("/as/token.oauth2", data=grant).json()["access_token"]
    auth = {"Authorization": f"Bearer {bearer}"}
    json_body = {"Content-Type": "application/json", **auth}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    va = f"{SA}/v1/accounts/{D}"
    return {
        "token": ("POST", "/as/token.oauth2", urlencode(grant), form),
        "licenses": ("POST", f"{va}/licenses", '{"virtualAccounts":[]}', json_body),
        "devices": ("GET", f"{va}/virtual-accounts/DEFAULT/devices?limit=100", "", auth),
    }


Served = tuple[HttpsClients, Callable[[], float]]  # client processes, the server's CPU


def interleaved(
    local: Calls, remote: Served, floor: Served, seconds: float, rounds: int
) -> dict[str, Any]:
    """Each measure in ``rounds`` triples (in-process, HTTPS, the floor's HTTPS; ``seconds /
    rounds`` each), so that every side of a ratio sees the same load on a shared machine; the
    medians. Beside the rates, CPU ms per call: of this process in-process, of each server
    over HTTPS (the figure to trust on a loaded machine; the server's minus the in-process one
    is the HTTP tax)."""
    out: dict[str, Any] = {
        "inprocess": {}, "https": {}, "floor": {}, "ratio": {}, "floor_ratio": {},
        "rounds": {}, "inprocess_cpu_ms": {}, "server_cpu_ms": {}, "floor_cpu_ms": {},
    }  # fmt: skip
    per = seconds / rounds
    for name in local:
        runs = [
            (
                rate(local[name], per, time.process_time),
                remote[0].run(name, per, remote[1]),
                floor[0].run(name, per, floor[1]),
            )
            for _ in range(rounds)
        ]
        for key, i in (("inprocess", 0), ("https", 1), ("floor", 2)):
            out[key][name] = statistics.median(r[i][0] for r in runs)
        out["ratio"][name] = statistics.median(h[0] / a[0] for a, h, _ in runs)
        out["floor_ratio"][name] = statistics.median(f[0] / a[0] for a, _, f in runs)
        for key, i in (("inprocess_cpu_ms", 0), ("server_cpu_ms", 1), ("floor_cpu_ms", 2)):
            out[key][name] = statistics.median(r[i][1] for r in runs)
        out["rounds"][name] = runs
    return out


def rows(r: dict[str, Any]) -> list[list[str]]:
    labels = {
        "token": "OAuth2 token",
        "licenses": "licenses list (every VA, with compliance)",
        "devices": "devices list (a page of 100)",
    }
    out = []
    for key, label in labels.items():
        a, b = r["inprocess"][key], r["https"][key]
        ratios = [f"{r['ratio'][key]:.0%}", "≥ 50%", f"{r['floor_ratio'][key]:.0%}"]
        cpu = [f"{r[k][key]:.2f}" for k in ("inprocess_cpu_ms", "server_cpu_ms", "floor_cpu_ms")]
        out.append([label, f"{a:.0f}", f"{b:.0f}", *ratios, *cpu])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measures: a smoke run")
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="per measure")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved pairs per measure")
    parser.add_argument("--clients", type=int, default=4, help="HTTPS client processes")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    devices = args.devices or (200 if args.quick else 5000)
    seconds = args.seconds or (1.0 if args.quick else 10.0)
    warn_if_busy()
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="bench-cssm-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'cssm.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        keys_dir = Path(tmp) / "keys"
        services = build_services(
            engine, SystemClock(), AuthorityKeys.create(keys_dir, SystemClock().now())
        )
        cid, secret = seed(services, devices)
        result: dict[str, Any] = {"devices": devices, "seconds": seconds, "quick": args.quick}
        result["clients"] = args.clients
        ca = AuthorityKeys.load(keys_dir).ca  # the floor's certificate, as --tls issues one
        tls = write_server_certificate(ca, ["127.0.0.1"], SystemClock().now(), Path(tmp) / "tls")
        with (
            TlsAuthorityServer(url, keys_dir, Path(tmp) / "data") as server,
            BareAsgiServer(Path(tmp) / "bare", (url, keys_dir), calls="cssm", tls=tls) as bare,
            httpx.Client(base_url=server.url, verify=server.verify, timeout=30) as http,
            HttpsClients(args.clients, server.port, keys_dir / "ca.pem") as remote,
            HttpsClients(args.clients, bare.port, keys_dir / "ca.pem") as bare_clients,
        ):
            remote.requests(https_requests(http, cid, secret))
            bare_clients.requests(floor_requests(cid, secret))
            local = inprocess_calls(services, cid, secret)
            result |= interleaved(
                local,
                (remote, server.cpu_seconds),
                (bare_clients, bare.cpu_seconds),
                seconds,
                args.rounds,
            )
        engine.dispose()
    facts["loadavg_after"] = machine_facts()["loadavg_before"]
    title = f"CSSM API over HTTPS vs in-process ({devices} devices, SQLite) — results"
    console_table(title, HEADERS, rows(result), facts)
    path = write_results("cssm", {"machine": facts, **result})
    print(f"wrote {path}")
    if args.write_docs:
        text = markdown_table([], HEADERS, rows(result), facts)
        if not update_docs_section("cssm", text):
            print("docs/benchmarks.md has no cssm markers; add the CSSM section first")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
