"""Exec ``show`` commands: they return data (``LicenseView``, ``ClockView``, ...) to render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell import views, views_policy, views_reports, views_traditional
from smartlic.agent.shell.commands.traditional import traditional_listing
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import (
    ClockView,
    CommandFailed,
    LicenseView,
    LicenseViewName,
    Notice,
    Reply,
    RumDetailView,
    RunningConfig,
)
from smartlic.agent.shell.settings import DisplaySettings, settings_of
from smartlic.agent.shell.views_reports import find_report
from smartlic.formats.bounds import decimal

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


# Smart Licensing Using Policy only (domain-notes 2.6).
_POLICY_VIEWS: tuple[tuple[str, LicenseViewName, str], ...] = (
    ("authorization", "authorization", "Show license authorization information"),
    ("rum id all", "rum_all", "Show all usage reports"),
    ("history message", "history", "Show license message history"),
    ("eventlog", "eventlog", "Show license event log"),
)
POLICY_ONLY = "This command needs Smart Licensing Using Policy (license smart mode policy)"


def _days_ok(text: str) -> bool:
    days = decimal(text)
    return days is not None and days < 2**31


def _settings(session: Session) -> DisplaySettings:
    return settings_of(session.device.config)


def show_license(view: LicenseViewName, session: Session, args: Mapping[str, str]) -> Reply:
    return LicenseView(
        view, session.device.manager.status(), session.device.profile, _settings(session)
    )


def show_policy_license(view: LicenseViewName, session: Session, args: Mapping[str, str]) -> Reply:
    status = session.device.manager.status()
    if status.policy is None:
        return CommandFailed(POLICY_ONLY)
    return LicenseView(view, status, session.device.profile, _settings(session))


def show_eventlog_days(session: Session, args: Mapping[str, str]) -> Reply:
    """``show license eventlog <days>``: the events of the last ``days`` days (S1's
    ``show license eventlog 2``)."""
    status = session.device.manager.status()
    if status.policy is None:
        return CommandFailed(POLICY_ONLY)
    since = status.now - timedelta(days=int(args["days"]))
    recent = [e for e in status.policy.eventlog if e.at >= since]
    recent_status = replace(status, policy=replace(status.policy, eventlog=recent))
    return LicenseView("eventlog", recent_status, session.device.profile, _settings(session))


def show_rum_detail(session: Session, args: Mapping[str, str]) -> Reply:
    status = session.device.manager.status()
    if status.policy is None:
        return CommandFailed(POLICY_ONLY)
    report = find_report(status, int(args["id"]))
    if report is None:
        return CommandFailed(f"Report Id {args['id']} not found")
    return RumDetailView(report)


def show_traditional(session: Session, args: Mapping[str, str]) -> Reply:
    device = session.device
    if device.traditional_capable:
        return Notice(tuple(traditional_listing(session, "")))
    return Notice(tuple(views.license_traditional(device.manager.status(), device.profile)))


def show_data_conversion(session: Session, args: Mapping[str, str]) -> Reply:
    status = session.device.manager.status()
    if session.device.traditional_capable:
        return Notice(tuple(views_traditional.data_conversion(status)))
    if status.policy is None:
        return CommandFailed(POLICY_ONLY)
    return Notice(tuple(views_policy.data_conversion(status)))


def show_rum_feature(detail: bool, session: Session, args: Mapping[str, str]) -> Reply:
    status = session.device.manager.status()
    if status.policy is None:
        return CommandFailed(POLICY_ONLY)
    feature = args.get("feature", "all")
    lines = views_reports.license_rum_feature(status, feature, detail=detail)
    return Notice(tuple(lines))


def _register_more(registry: Registry[Session]) -> None:
    registry.command(EXEC, "show license", show_traditional, help="Show license information",
                     pipe=True)  # fmt: skip
    registry.describe(EXEC, "show license data", "Show license data")
    registry.command(EXEC, "show license data conversion", show_data_conversion,
                     help="Show license data conversion information", pipe=True)  # fmt: skip
    registry.describe(EXEC, "show license rum feature", "Show usage reports of a feature")
    name = Arg("WORD", "Feature name, or all")
    for words, detail in (("", False), (" detail", True)):
        registry.command(EXEC, f"show license rum feature {{feature}}{words}",
                         partial(show_rum_feature, detail), help="Show usage reports of a feature",
                         args={"feature": name}, pipe=True)  # fmt: skip


def show_clock(session: Session, args: Mapping[str, str]) -> Reply:
    return ClockView(session.device.clock.now())


def show_running_config(session: Session, args: Mapping[str, str]) -> Reply:
    return RunningConfig(tuple(session.device.config.running_lines()))


def _register_policy(registry: Registry[Session]) -> None:
    registry.describe(EXEC, "show license rum", "Show usage reports (RUM)")
    registry.describe(EXEC, "show license rum id", "Report id or all")
    registry.describe(EXEC, "show license history", "Show license history")
    for words, view, text in _POLICY_VIEWS:
        handler = partial(show_policy_license, view)
        registry.command(EXEC, f"show license {words}", handler, help=text, pipe=True)
    days = Arg("<0-2147483647>", "Days of events", check=_days_ok)
    registry.command(
        EXEC,
        "show license eventlog {days}",
        show_eventlog_days,
        help="Show the events of the last days",
        args={"days": days},
        pipe=True,
    )
    report = Arg("<0-18446744073709551615>", "Report id", check=lambda t: decimal(t) is not None)
    registry.command(
        EXEC,
        "show license rum id {id} detail",
        show_rum_detail,
        help="Show the report in detail",
        args={"id": report},
        pipe=True,
    )


def register(registry: Registry[Session]) -> None:
    registry.describe(EXEC, "show", "Show running system information")
    registry.describe(EXEC, "show license", "Show license information")
    registry.describe(EXEC, "show license tech", "Show license tech information")
    for words, view, text in _LICENSE_VIEWS:
        handler = partial(show_license, view)
        registry.command(EXEC, f"show license {words}", handler, help=text, pipe=True)
    _register_policy(registry)
    _register_more(registry)
    registry.command(EXEC, "show clock", show_clock, help="Display the system clock", pipe=True)
    registry.command(
        EXEC,
        "show running-config",
        show_running_config,
        help="Current operating configuration",
        pipe=True,
    )
