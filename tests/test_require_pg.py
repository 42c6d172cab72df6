"""``SMARTLIC_REQUIRE_PG=1`` (set by ``.ci/run``) turns an unreachable PostgreSQL from a skip
into a failure: run pytest on a tiny PostgreSQL test against a server that is not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = """
import pytest

@pytest.mark.postgresql
def test_needs_postgresql(pg_server_url):
    assert pg_server_url
"""


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_tiny.py").write_text(TINY)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    postgresql: needs it\n")
    environ = {**os.environ, "SMARTLIC_TEST_PG_URL": "postgresql://nobody@127.0.0.1:1/none"}
    environ.pop("SMARTLIC_REQUIRE_PG", None)
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only our conftest: a quicker start
    args = ["-ra", "-p", "tests.conftest", "--strict-markers", "-c", str(tmp_path / "pytest.ini")]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(tmp_path)],
        env={**environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("require", "code", "outcome"),
    [("1", 1, "1 error"), ("", 0, "1 skipped")],
)
def test_unreachable_postgresql_fails_only_when_required(
    tmp_path: Path, require: str, code: int, outcome: str
) -> None:
    done = _run(tmp_path, SMARTLIC_REQUIRE_PG=require)
    assert done.returncode == code, done.stdout + done.stderr
    assert outcome in done.stdout
    assert "PostgreSQL unreachable at postgresql://nobody@127.0.0.1:1/none" in done.stdout
    if require == "1":
        assert "SMARTLIC_REQUIRE_PG is set: PostgreSQL tests may not skip" in done.stdout
