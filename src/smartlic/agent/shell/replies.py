"""What shell handlers return: plain data, rendered to IOS text by ``render.py``.

A handler never formats text itself (style habit 13); it returns one of these values, or
``None`` when IOS prints nothing (most configuration commands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from smartlic.agent._policy_status import RumReportStatus
from smartlic.agent._status import Status
from smartlic.agent.shell.settings import DisplaySettings
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile

__all__ = [
    "Ambiguous",
    "ClockView",
    "CommandFailed",
    "Confirm",
    "CpfStatusView",
    "Help",
    "Incomplete",
    "InvalidInput",
    "LicenseView",
    "Notice",
    "Reply",
    "RumDetailView",
    "RunningConfig",
    "VersionView",
]

LicenseViewName = Literal[
    "status",
    "summary",
    "usage",
    "all",
    "tech",
    "udi",
    "authorization",
    "rum_all",
    "history",
    "eventlog",
]


@dataclass(frozen=True)
class LicenseView:
    """``show license <view>``: one snapshot shown one way; the platform profile selects
    the version-dependent lines (a stack's members, the agent version)."""

    view: LicenseViewName
    status: Status
    profile: ProductProfile = DEFAULT_PROFILE
    settings: DisplaySettings = field(default_factory=DisplaySettings)


@dataclass(frozen=True)
class RumDetailView:
    """``show license rum id <id> detail``: one RUM report."""

    report: RumReportStatus


@dataclass(frozen=True)
class CpfStatusView:
    """``show common-packet-forwarder status`` (second reference document)."""

    enabled: bool
    running: bool
    ns_registration: str  # "Successful" | "Not Attempted"
    reported: bool
    acknowledged: bool


@dataclass(frozen=True)
class Confirm:
    """A question: ``lines`` are printed, then ``question`` becomes the prompt; the next line
    typed (or the next scripted line) is the answer, passed to ``answer``."""

    lines: tuple[str, ...]
    question: str
    answer: Callable[[str], Reply]
    secret: bool = False  # a password: not echoed, never answered by ``assume_yes``


@dataclass(frozen=True)
class ClockView:
    now: datetime


@dataclass(frozen=True)
class VersionView:
    """``show version``: what identifies the platform to automation tools."""

    hostname: str
    pid: str
    serial: str
    version: str
    uptime: timedelta
    packages: tuple[tuple[str, str], ...] = ()  # (boot level license, "Smart License"...)
    smart_status: str = "Smart Licensing Using Policy"


@dataclass(frozen=True)
class RunningConfig:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Notice:
    """Informational lines printed as they are (e.g. "Registration process is in progress...")."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class CommandFailed:
    """A command that parsed but could not be carried out; printed as ``% <message>``."""

    message: str


@dataclass(frozen=True)
class InvalidInput:
    """``% Invalid input detected at '^' marker.``; ``column`` is 0-based in the typed line."""

    column: int


@dataclass(frozen=True)
class Incomplete:
    pass


@dataclass(frozen=True)
class Ambiguous:
    text: str  # the line up to and including the ambiguous token


@dataclass(frozen=True)
class Help:
    """``?`` output: (keyword, help) pairs, or bare completions for ``sh?``."""

    entries: tuple[tuple[str, str], ...]
    completions_only: bool = False


Reply = (
    LicenseView
    | RumDetailView
    | CpfStatusView
    | Confirm
    | ClockView
    | RunningConfig
    | VersionView
    | Notice
    | CommandFailed
    | InvalidInput
    | Incomplete
    | Ambiguous
    | Help
    | None
)

ERROR_REPLIES = (CommandFailed, InvalidInput, Incomplete, Ambiguous)
