"""``smartlic lab``: move the shared lab clock of every smartlic process forward; ``smartlic lab
fleet up|down`` serves a fleet of devices over SSH (``lab_fleet.py``).

Processes started with ``SMARTLIC_LAB_CLOCK=<file>`` (authority, collector, devices) read "now"
as real time plus the offset kept in that file (``smartlic.clock.LabClock``); these commands
change the offset. See docs/lab-mode.md.

Usage::

    export SMARTLIC_LAB_CLOCK=$PWD/var/lab-clock.json
    smartlic lab advance 30d
    smartlic lab show
    smartlic lab reset
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from smartlic.clock import LAB_CLOCK_ENV, LabClock, parse_duration
from smartlic.lab_fleet import fleet_app

__all__ = ["DEFAULT_FILE", "lab_app"]

DEFAULT_FILE = Path("var/lab-clock.json")

lab_app = typer.Typer(
    help="The shared lab clock (30-, 90- and 365-day behaviour in seconds) and device fleets.",
    no_args_is_help=True,
)
lab_app.add_typer(fleet_app, name="fleet")

ClockFile = Annotated[
    Path,
    typer.Option(
        "--file",
        envvar=LAB_CLOCK_ENV,
        help=f"The lab clock file (default: ${LAB_CLOCK_ENV}, else {DEFAULT_FILE}).",
    ),
]


def _clock(path: Path) -> LabClock:
    return LabClock(path.resolve())


def _hint(path: Path) -> None:
    """Processes only follow the lab clock when the variable names this file."""
    current = os.environ.get(LAB_CLOCK_ENV)
    if not current or Path(current).resolve() != path.resolve():
        typer.echo(
            f"note: smartlic processes follow this clock only when started with\n"
            f"  export {LAB_CLOCK_ENV}={path.resolve()}",
            err=True,
        )


def _show(clock: LabClock) -> None:
    offset = clock.offset()
    days, rest = divmod(int(offset.total_seconds()), 86400)
    typer.echo(f"lab clock   {clock.path}")
    typer.echo(f"offset      +{days}d {rest // 3600:02d}h{rest % 3600 // 60:02d}m")
    typer.echo(f"lab now     {clock.now().strftime('%Y-%m-%d %H:%M:%S')} UTC")


@lab_app.command()
def advance(
    duration: Annotated[str, typer.Argument(help="e.g. 30d, 12h, 15m, 2w (bare number: days).")],
    file: ClockFile = DEFAULT_FILE,
) -> None:
    """Move the lab clock forward for every process sharing the file."""
    try:
        delta = parse_duration(duration)
    except ValueError as exc:
        typer.echo(f"Error [invalid-input]: {exc}", err=True)
        raise typer.Exit(1) from exc
    clock = _clock(file)
    clock.advance(delta)
    _show(clock)
    _hint(file)


@lab_app.command()
def show(file: ClockFile = DEFAULT_FILE) -> None:
    """Show the lab clock's offset and its now."""
    _show(_clock(file))
    _hint(file)


@lab_app.command()
def reset(file: ClockFile = DEFAULT_FILE) -> None:
    """Back to real time (removes the file)."""
    clock = _clock(file)
    clock.reset()
    _show(clock)
