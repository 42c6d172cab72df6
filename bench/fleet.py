"""Fleet benchmark: N devices served over SSH from one process (``smartlic lab fleet up``).

Measures, in one run and on one machine, for each fleet size (50 and 200 by default):

* the fleet process's memory: resident set size idle and with one SSH session open on every
  device, per device (minus a one-device fleet's, measured in the same run);
* connection set-up: password login, pty, shell, up to the first ``Device>`` prompt, one
  device after the other;
* ``show license summary`` round trips per second over SSH (send the line, read up to the
  next prompt) with one session, and with one session per device all at once; against the
  same command in-process (``Session.execute``) and through the terminal line alone (``Vty``,
  no SSH), measured in the same run.

The SSH client (asyncssh) runs in this process, the fleet in its own: on a 2-core machine each
gets about one core, and the client's own cost is part of every SSH figure.

Usage::

    .venv/bin/python bench/fleet.py                # 50 and 200 devices (about 2 minutes)
    .venv/bin/python bench/fleet.py --quick        # 5 devices, smoke run
    .venv/bin/python bench/fleet.py --write-docs   # rewrite the Fleet block of the docs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _tables
from _common import machine_facts, summary_ms, update_docs_section, warn_if_busy, write_results

from smartlic.agent.shell.cli import open_device
from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.session import Session
from smartlic.agent.shell.vty import Vty

PASSWORD, SECRET = "bench-pw", "bench-en"
COMMAND = "show license summary"


# ---------------------------------------------------------------- the fleet process


def free_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for base in range(20000, 60000, 1000):
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def smartlic(*args: str, root: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")}
    env["SMARTLIC_LAB_CLOCK"] = str(root / "lab-clock.json")
    done = subprocess.run([sys.executable, "-m", "smartlic", *args], env=env, text=True,
                          capture_output=True, timeout=900)  # fmt: skip
    if done.returncode:
        raise RuntimeError(done.stdout + done.stderr)
    return done.stdout


def fleet_up(root: Path, count: int, first: int) -> tuple[int, float]:
    started = time.perf_counter()
    smartlic("lab", "fleet", "up", "--count", str(count), "--first-port", str(first),
             "--state-root", str(root), "--password", PASSWORD, "--enable-secret", SECRET,
             "--wait", "600", root=root)  # fmt: skip
    elapsed = time.perf_counter() - started
    return int(json.loads((root / "fleet.json").read_text())["pid"]), elapsed


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


# ---------------------------------------------------------------- the SSH client


class Shell:
    """One interactive session: send a line, read up to the prompt."""

    def __init__(self, conn: asyncssh.SSHClientConnection, process: Any) -> None:
        self.conn, self.process = conn, process

    async def until(self, prompt: str) -> str:
        text = ""
        while not text.endswith(prompt):
            text += await self.process.stdout.read(65536)
        return text

    async def run(self, line: str, prompt: str) -> str:
        self.process.stdin.write(line + "\r")
        return await self.until(prompt)

    def close(self) -> None:
        self.conn.close()


async def login(port: int, name: str) -> Shell:
    conn = await asyncssh.connect("127.0.0.1", port, username="admin", password=PASSWORD,
                                  known_hosts=None, client_keys=None)  # fmt: skip
    process = await conn.create_process(term_type="vt100")
    shell = Shell(conn, process)
    await shell.until(f"{name}>")
    return shell


async def connect_all(ports: dict[str, int]) -> tuple[list[Shell], list[float]]:
    """Log in to every device in turn (timed), then enable and stop paging (not timed)."""
    shells, times = [], []
    for name, port in ports.items():
        started = time.perf_counter()
        shells.append(await login(port, name))
        times.append(time.perf_counter() - started)
    for name, shell in zip(ports, shells, strict=True):
        shell.process.stdin.write(f"enable\r{SECRET}\r")
        await shell.until(f"{name}#")
        await shell.run("terminal length 0", f"{name}#")
    return shells, times


async def round_trips(shells: list[Shell], names: list[str], seconds: float) -> float:
    """Round trips per second, every shell looping ``show license summary`` for ``seconds``."""
    deadline = time.perf_counter() + seconds
    counts = [0] * len(shells)

    async def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            await shells[i].run(COMMAND, f"{names[i]}#")
            counts[i] += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(len(shells))))
    return sum(counts) / (time.perf_counter() - started)


async def over_ssh(ports: dict[str, int], pid: int, seconds: float) -> dict[str, Any]:
    shells, setup = await connect_all(ports)
    names = list(ports)
    try:
        await shells[0].run(COMMAND, f"{names[0]}#")  # warm
        return {
            "rss_sessions_mb": rss_mb(pid),
            "setup": summary_ms(setup),
            "one_session_per_s": await round_trips(shells[:1], names[:1], seconds),
            "all_sessions_per_s": await round_trips(shells, names, seconds),
        }
    finally:
        for shell in shells:
            shell.close()


# ---------------------------------------------------------------- in-process


def in_process(number: int, repeat: int) -> dict[str, float]:
    """The same command on one device, without SSH: the session, and the terminal line."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SMARTLIC_LAB_CLOCK"] = str(Path(tmp) / "lab-clock.json")
        device = open_device(Path(tmp) / "r1", hostname="r1")
        session = Session(device, build_registry(device.profile), echo=True)
        session.length = 0
        vty = Vty(session)

        def through_vty() -> None:
            vty.receive(COMMAND + "\r")
            _, line = vty.step()
            assert line is not None
            vty.run(line)

        try:
            session_s = min(timeit.repeat(lambda: session.execute(COMMAND), number=number,
                                          repeat=repeat))  # fmt: skip
            vty_s = min(timeit.repeat(through_vty, number=number, repeat=repeat))
        finally:
            device.close()
    return {"session_per_s": number / session_s, "vty_per_s": number / vty_s}


# ---------------------------------------------------------------- one run


def measure_size(count: int, seconds: float, tmp: Path) -> dict[str, Any]:
    root = tmp / f"fleet-{count}"
    first = free_run(count)
    pid, up_s = fleet_up(root, count, first)
    try:
        idle = rss_mb(pid)
        ports = {f"r{i + 1}": first + i for i in range(count)}
        ssh = asyncio.run(over_ssh(ports, pid, seconds))
    finally:
        smartlic("lab", "fleet", "down", "--state-root", str(root), root=root)
    return {"count": count, "up_s": up_s, "rss_idle_mb": idle, **ssh}


def baseline_rss(tmp: Path) -> float:
    root = tmp / "fleet-1"
    pid, _ = fleet_up(root, 1, free_run(1))
    try:
        return rss_mb(pid)
    finally:
        smartlic("lab", "fleet", "down", "--state-root", str(root), root=root)


def measure(sizes: list[int], seconds: float, number: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        base = baseline_rss(tmp)
        fleets = [measure_size(count, seconds, tmp) for count in sizes]
    return {"baseline_rss_mb": base, "fleets": fleets, "in_process": in_process(number, 3),
            "seconds": seconds}  # fmt: skip


# ---------------------------------------------------------------- the table

HEADERS = ["Devices", "Measure", "Value", "vs in-process"]


def rows(r: dict[str, Any]) -> list[list[str]]:
    local = r["in_process"]
    out = [
        ["1", f"{COMMAND}, in-process (Session.execute)", f"{local['session_per_s']:,.0f}/s",
         "1.00x"],
        ["1", f"{COMMAND}, in-process through the terminal line (Vty)",
         f"{local['vty_per_s']:,.0f}/s", f"{local['vty_per_s'] / local['session_per_s']:.2f}x"],
        ["1", "fleet process memory (RSS), baseline", f"{r['baseline_rss_mb']:.1f} MB", "—"],
    ]  # fmt: skip
    for f in r["fleets"]:
        n, per = f["count"], max(f["count"] - 1, 1)
        idle = (f["rss_idle_mb"] - r["baseline_rss_mb"]) / per
        busy = (f["rss_sessions_mb"] - r["baseline_rss_mb"]) / per
        setup = f["setup"]
        out += [
            [str(n), "fleet up (spawn, open, enrol nothing, listen)", f"{f['up_s']:.1f} s", "—"],
            [str(n), "memory per device: idle / one SSH session each",
             f"{idle:.2f} MB / {busy:.2f} MB (RSS {f['rss_idle_mb']:.0f} / "
             f"{f['rss_sessions_mb']:.0f} MB)", "—"],
            [str(n), "connection set-up (login to first prompt, in turn)",
             f"median {setup['median_ms']:.1f} ms, p95 {setup['p95_ms']:.1f} ms", "—"],
            [str(n), f"{COMMAND} over SSH, 1 session", f"{f['one_session_per_s']:,.0f}/s",
             f"{f['one_session_per_s'] / local['session_per_s']:.1%}"],
            [str(n), f"{COMMAND} over SSH, {n} sessions at once",
             f"{f['all_sessions_per_s']:,.0f}/s",
             f"{f['all_sessions_per_s'] / local['session_per_s']:.1%}"],
        ]  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (5 devices)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=10.0, help="per round-trip run")
    args = parser.parse_args(argv)
    warn_if_busy()
    facts = machine_facts()
    sizes, seconds = ([5], 1.0) if args.quick else (args.sizes, args.seconds)
    result = measure(sizes, seconds, 200 if args.quick else 2000)
    facts["loadavg_after"] = round(os.getloadavg()[0], 2)
    table = rows(result)
    _tables.console_table("Fleet: devices over SSH from one process", HEADERS, table, facts)
    path = write_results("fleet", {"machine": facts, "result": result})
    print(f"results: {path}")
    preamble = [f"Round-trip runs: {seconds:g} s each."]
    markdown = _tables.markdown_table(preamble, HEADERS, table, facts)
    if args.write_docs and not update_docs_section("fleet", markdown):
        print("docs/benchmarks.md has no bench:fleet markers; nothing written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
