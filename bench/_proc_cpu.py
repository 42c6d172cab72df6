"""Where the CPU goes during a timed phase: CPU seconds (user + system, all threads, from
``/proc/PID/stat``) of named groups of processes, and of the whole machine (``/proc/stat``),
between two snapshots. Linux only.

Usage::

    before = CpuSnapshot.take({"worker 1": [pid], "postgres": pg_pids()})
    ...                                             # the timed phase
    after = CpuSnapshot.take({"worker 1": [pid], "postgres": pg_pids()})
    spent = after.minus(before)                     # {"worker 1": 3.2, ..., "machine": 7.9}

A process first seen in ``after`` counts from its start (it began during the phase); one that
ended during the phase is missing from ``after`` and its last seconds are lost (the benchmark
keeps its processes alive through a phase).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
MACHINE = "machine"  # every core's busy time, whoever used it


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, every thread) of ``pid`` so far; None if it is gone."""
    times = process_times(pid)
    return None if times is None else times[0] + times[1]


def process_times(pid: int) -> tuple[float, float, int] | None:
    """User and system CPU seconds of ``pid`` so far, and its context switches (voluntary:
    it waited, for I/O, a lock or the GIL; and involuntary: preempted); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"; utime, stime are 14, 15
    switches = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):  # each thread counts its own
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread ended
        switches += sum(int(line.split()[1]) for line in status.splitlines()
                        if "ctxt_switches:" in line)  # fmt: skip
    return int(fields[11]) / TICK, int(fields[12]) / TICK, switches


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (not idle, not waiting for I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = values[3], values[4]
    return (sum(values[:8]) - idle - iowait) / TICK


@dataclass(frozen=True)
class CpuSnapshot:
    groups: dict[str, dict[int, tuple[float, float, int]]]  # group -> pid -> user, system, cs
    machine: float

    @classmethod
    def take(cls, groups: dict[str, list[int]]) -> CpuSnapshot:
        taken: dict[str, dict[int, tuple[float, float, int]]] = {}
        for name, pids in groups.items():
            taken[name] = {}
            for pid in pids:
                times = process_times(pid)
                if times is not None:
                    taken[name][pid] = times
        return cls(taken, machine_busy())

    def minus(self, before: CpuSnapshot, part: int | None = None) -> dict[str, float]:
        """CPU seconds per group between ``before`` and this snapshot, and ``MACHINE``;
        with ``part`` 0 user seconds only, 1 system seconds, 2 context switches."""
        out: dict[str, float] = {}
        for name, pids in self.groups.items():
            then = before.groups.get(name, {})
            out[name] = 0.0
            for pid, now in pids.items():
                was = then.get(pid, (0.0, 0.0, 0))
                parts = range(2) if part is None else (part,)
                out[name] += sum(now[k] - was[k] for k in parts)
        if part is None:
            out[MACHINE] = self.machine - before.machine
        return out
