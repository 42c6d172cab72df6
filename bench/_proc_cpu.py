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
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"; utime, stime are 14, 15
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (not idle, not waiting for I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = values[3], values[4]
    return (sum(values[:8]) - idle - iowait) / TICK


@dataclass(frozen=True)
class CpuSnapshot:
    groups: dict[str, dict[int, float]]  # group -> pid -> CPU seconds
    machine: float

    @classmethod
    def take(cls, groups: dict[str, list[int]]) -> CpuSnapshot:
        taken: dict[str, dict[int, float]] = {}
        for name, pids in groups.items():
            taken[name] = {}
            for pid in pids:
                cpu = process_cpu(pid)
                if cpu is not None:
                    taken[name][pid] = cpu
        return cls(taken, machine_busy())

    def minus(self, before: CpuSnapshot) -> dict[str, float]:
        """CPU seconds per group between ``before`` and this snapshot, and ``MACHINE``."""
        out: dict[str, float] = {}
        for name, pids in self.groups.items():
            then = before.groups.get(name, {})
            out[name] = sum(cpu - then.get(pid, 0.0) for pid, cpu in pids.items())
        out[MACHINE] = self.machine - before.machine
        return out
