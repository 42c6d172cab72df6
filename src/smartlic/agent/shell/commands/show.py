"""Exec ``show`` commands: they return data (``LicenseView``, ``ClockView``, ...) to render."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell.registry import Registry
from smartlic.agent.shell.replies import (
    ClockView,
    LicenseView,
    LicenseViewName,
    Reply,
    RunningConfig,
)

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register"]

EXEC = "exec"

_LICENSE_VIEWS: tuple[tuple[str, LicenseViewName, str], ...] = (
    ("all", "all", "Show license all information"),
    ("status", "status", "Show license status information"),
    ("summary", "summary", "Show license summary"),
    ("udi", "udi", "Show license udi information"),
    ("usage", "usage", "Show license usage information"),
    ("tech support", "tech", "Show license tech support information"),
)


def show_license(view: LicenseViewName, session: Session, args: Mapping[str, str]) -> Reply:
    return LicenseView(view, session.device.manager.status())


def show_clock(session: Session, args: Mapping[str, str]) -> Reply:
    return ClockView(session.device.clock.now())


def show_running_config(session: Session, args: Mapping[str, str]) -> Reply:
    return RunningConfig(tuple(session.device.config.running_lines()))


def register(registry: Registry[Session]) -> None:
    registry.describe(EXEC, "show", "Show running system information")
    registry.describe(EXEC, "show license", "Show license information")
    registry.describe(EXEC, "show license tech", "Show license tech information")
    for words, view, text in _LICENSE_VIEWS:
        handler = partial(show_license, view)
        registry.command(EXEC, f"show license {words}", handler, help=text, pipe=True)
    registry.command(EXEC, "show clock", show_clock, help="Display the system clock", pipe=True)
    registry.command(
        EXEC,
        "show running-config",
        show_running_config,
        help="Current operating configuration",
        pipe=True,
    )
