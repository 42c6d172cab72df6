"""The benchmarks still run (``--quick``): they are not part of the default suite, but a
change that breaks one should not wait for the next ``make bench`` to be noticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        "agent.py",
        "authority.py",
        "ingest.py",
        "collector.py",
        "fleet.py",
        "attack.py",
        "jobs.py",
        "cssm.py",
    ],
)
def test_benchmark_runs_quick(script: str) -> None:
    done = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "results" in done.stdout or "wrote" in done.stdout
