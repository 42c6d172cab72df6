"""Traditional licensing as a 16.x router prints it: ``show license [detail|feature|file]``
(real-outputs ``genieparser__iosxe__show_license__golden_output1.txt``, the format Genie's
``ShowLicense`` parses: ``Index N Feature:``, ``Period left``, ``License Type``, ``License
State``, ``License Count``, ``License Priority``), and device-led conversion
(``show license data conversion``, the ``License Conversion:`` block of ``show license all``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smartlic.agent._status import ConversionStatus, Status
from smartlic.agent._traditional import EVAL_RIGHT_TO_USE, LicenseLine
from smartlic.agent.shell.fmt import ios_time
from smartlic.formats.license_file import PERMANENT

__all__ = [
    "conversion_block",
    "data_conversion",
    "license_detail",
    "license_feature",
    "license_file",
    "license_lines",
]

STORE = "Primary License Storage"
EVAL_STORE = "Built-In License Storage"


def _period_left(line: LicenseLine) -> str:
    if line.license_type == PERMANENT:
        return "Life time"
    if not line.activated:
        return "Not Activated"
    left = line.left or timedelta(0)
    weeks, days = divmod(left.days, 7)
    return f"{weeks}  weeks {days}  days" if left else "0  minute  0  second"


def _period_used(line: LicenseLine) -> list[str]:
    if line.license_type == PERMANENT:
        return []
    minutes, seconds = divmod(int(line.used.total_seconds()), 60)
    return [f"        Period Used: {minutes}  minute  {seconds}  second"]


def _state(line: LicenseLine) -> str:
    if line.in_use:
        return "Active, In Use"
    if not line.eula_accepted:
        return "Active, Not in Use, EULA not accepted"
    return "Active, Not in Use"


def _count(line: LicenseLine, in_use: int) -> str:
    if line.count is None:
        return "Non-Counted"
    used = in_use if line.in_use else 0
    return f"{used}/{max(used - line.count, 0)}  (In-use/Violation)"


def _priority(line: LicenseLine) -> str:
    if not line.in_use:
        return "None"
    return "Medium" if line.license_type == PERMANENT else "Low"


def _attributes(line: LicenseLine, in_use: int, indent: str) -> list[str]:
    return [
        f"{indent}License Type: {line.license_type}",
        f"{indent}License State: {_state(line)}",
        f"{indent}License Count: {_count(line, in_use)}",
        f"{indent}License Priority: {_priority(line)}",
    ]


def license_lines(lines: list[LicenseLine], usage: dict[str, int]) -> list[str]:
    """Bare ``show license``: every license of every feature, installed and built in."""
    out: list[str] = []
    for index, line in enumerate(lines, start=1):
        out += [
            f"Index {index} Feature: {line.feature:<32}",
            f"        Period left: {_period_left(line)}",
            *_period_used(line),
            *_attributes(line, usage.get(line.feature, 0), "        "),
        ]
    return out


def license_detail(lines: list[LicenseLine], usage: dict[str, int]) -> list[str]:
    """``show license detail``: the listing with versions and license stores."""
    out: list[str] = []
    for index, line in enumerate(lines, start=1):
        builtin = line.license_type == EVAL_RIGHT_TO_USE
        out += [
            f"Index: {index:<8}Feature: {line.feature:<32}Version: 1.0",
            *_attributes(line, usage.get(line.feature, 0), "        "),
            f"        Store Index: {0 if builtin else index - 1}",
            f"        Store Name: {EVAL_STORE if builtin else STORE}",
            *([f"        License Serial: {line.serial}"] if line.serial else []),
            *([f"        Installed: {ios_time(line.installed_at)}"] if line.installed_at else []),
        ]
    return out


def license_feature(lines: list[LicenseLine]) -> list[str]:
    """``show license feature``: one row per feature - enforced, evaluation, enabled."""
    out = [
        f"{'Feature name':<25}{'Enforcement':<13}{'Evaluation':<12}{'Subscription':<15}"
        f"{'Enabled':<9}RightToUse"
    ]
    for name in dict.fromkeys(line.feature for line in lines):
        mine = [line for line in lines if line.feature == name]
        enabled = any(line.in_use for line in mine)
        evaluation = any(line.license_type != PERMANENT for line in mine)
        out.append(
            f"{name:<25}{'yes':<13}{_yes(evaluation):<12}{'no':<15}{_yes(enabled):<9}"
            f"{_yes(any(line.license_type == EVAL_RIGHT_TO_USE for line in mine))}"
        )
    return out


def license_file(lines: list[LicenseLine], usage: dict[str, int]) -> list[str]:
    """``show license file``: the installed license files of the primary store."""
    out = [f"License Store: {STORE}", "Store Index: 0"]
    for index, line in enumerate([x for x in lines if x.serial], start=1):
        count = "Non-Counted" if line.count is None else str(line.count)
        out += [
            f"   License: {index} {line.feature} 1.0 {line.license_type.upper()} {count} "
            f"{line.serial}",
            *_attributes(line, usage.get(line.feature, 0), "           "),
        ]
    return out


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _when(value: datetime | None) -> str:
    return ios_time(value) if value else "<none>"


def _status_line(conversion: ConversionStatus | None) -> str:
    if conversion is None or conversion.status == "NOT STARTED":
        return "Not started"
    if conversion.status == "SUCCESS":
        return f"Successful on {_when(conversion.finished_at)}"
    if conversion.status == "FAILED":
        return f"Failed on {_when(conversion.finished_at)}: {conversion.failure}"
    return conversion.status.capitalize()


def conversion_block(status: Status) -> list[str]:
    """``License Conversion:`` of ``show license all`` (domain-notes: "Automatic Conversion
    Enabled: False / Status: Not started")."""
    return [
        "License Conversion:",
        "  Automatic Conversion Enabled: False",
        f"  Status: {_status_line(status.conversion)}",
    ]


def data_conversion(status: Status) -> list[str]:
    """``show license data conversion``: the device-led conversion and what it converted."""
    conversion = status.conversion
    converted = conversion.converted if conversion else ()
    return [
        f"Device: {status.udi}",
        f"  Conversion status: {_status_line(conversion)}",
        f"  Started: {_when(conversion.started_at if conversion else None)}",
        f"  Finished: {_when(conversion.finished_at if conversion else None)}",
        f"  Converted licenses: {len(converted)}",
        *(f"    {serial}" for serial in converted),
    ]
