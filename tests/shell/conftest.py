"""Shell fixtures: a device in a temporary state directory, on the suite's manual clock
(``clock`` in tests/conftest.py, 2026-01-01 12:00 UTC, shared with a live authority)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartlic.agent.shell.cli import open_device
from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from smartlic.clock import ManualClock


class Console:
    """Runs lines like a person at the prompt and keeps the transcript."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __call__(self, *lines: str) -> str:
        return "".join(self.session.execute(line).text for line in lines)

    def config(self, *lines: str) -> str:
        return self("configure terminal", *lines, "end")


@pytest.fixture
def make_device(tmp_path: Path, clock: ManualClock) -> Iterator[Callable[..., Device]]:
    opened: list[Device] = []

    def make(state: Path | None = None, **options: str) -> Device:
        options.setdefault("sn", "FOX1234ABCD")
        options.setdefault("mode", "classic")  # new devices run policy mode; these test classic
        device = open_device(state or tmp_path / "r1", clock=clock, **options)
        opened.append(device)
        return device

    yield make
    for device in opened:
        device.close()


@pytest.fixture
def console(make_device: Callable[..., Device]) -> Console:
    return Console(Session(make_device(), build_registry()))
