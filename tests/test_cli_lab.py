"""``smartlic lab``: one shared clock file moves every process reading it."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.cli import app
from smartlic.clock import LabClock

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_authority_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's SMARTLIC_AUTHORITY_* / lab clock must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("SMARTLIC_AUTHORITY_") or name == "SMARTLIC_LAB_CLOCK":
            monkeypatch.delenv(name)


def test_advance_show_reset(tmp_path: Path) -> None:
    path = tmp_path / "lab-clock.json"
    env = {"SMARTLIC_LAB_CLOCK": str(path)}
    other_process = LabClock(path)  # as the authority or a device would read it
    result = runner.invoke(app, ["lab", "advance", "30d"], env=env)
    assert result.exit_code == 0, result.output
    assert "offset      +30d 00h00m" in result.stdout
    assert result.stderr == ""  # the variable is set: no hint
    assert other_process.offset() == timedelta(days=30)
    runner.invoke(app, ["lab", "advance", "12h"], env=env)
    assert other_process.offset() == timedelta(days=30, hours=12)
    assert "+30d 12h00m" in runner.invoke(app, ["lab", "show"], env=env).stdout
    assert "+0d 00h00m" in runner.invoke(app, ["lab", "reset"], env=env).stdout
    assert other_process.offset() == timedelta(0) and not path.exists()


def test_an_explicit_file_and_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    result = runner.invoke(
        app, ["lab", "advance", "2w", "--file", str(path)], env={"SMARTLIC_LAB_CLOCK": ""}
    )
    assert result.exit_code == 0
    assert "+14d" in result.stdout
    assert f"export SMARTLIC_LAB_CLOCK={path}" in result.stderr


def test_bad_durations_are_refused(tmp_path: Path) -> None:
    env = {"SMARTLIC_LAB_CLOCK": str(tmp_path / "c.json")}
    result = runner.invoke(app, ["lab", "advance", "soon"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [invalid-input]: not a duration")
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("duration", [str(2**64), "9" * 400, "36526d", "\u0663d"])
def test_durations_past_a_century_are_refused(tmp_path: Path, duration: str) -> None:
    """``lab advance 18446744073709551616`` ended in an OverflowError traceback."""
    env = {"SMARTLIC_LAB_CLOCK": str(tmp_path / "c.json")}
    result = runner.invoke(app, ["lab", "advance", duration], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error [invalid-input]: ")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "c.json").exists()
