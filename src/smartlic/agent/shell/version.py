"""``show version`` in IOS XE's format, as much of it as automation tools read.

netmiko and scrapli identify the platform by the prompt; unicon runs ``show version`` when it
connects and ``show version | include operating mode`` (no output: an autonomous device);
Genie's ``ShowVersion`` parser reads the version, uptime, image, PID and serial lines.
"""

from __future__ import annotations

from datetime import timedelta

from smartlic.agent.shell.replies import VersionView

__all__ = ["show_version", "uptime_text"]


def uptime_text(uptime: timedelta) -> str:
    """``1 week, 2 days, 3 hours, 4 minutes``, IOS style (zero units left out)."""
    minutes = int(uptime.total_seconds()) // 60
    parts = []
    for unit, size in (("year", 525600), ("week", 10080), ("day", 1440), ("hour", 60)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return ", ".join(parts)


_GPL = (
    "Cisco IOS-XE software, Copyright (c) 2005-2023 by cisco Systems, Inc.",
    "All rights reserved.  Certain components of Cisco IOS-XE software are",
    'licensed under the GNU General Public License ("GPL") Version 2.0.  The',
    "software code licensed under GPL Version 2.0 is free software that comes",
    "with ABSOLUTELY NO WARRANTY.  You can redistribute and/or modify such",
    "GPL code under the terms of GPL Version 2.0.  For more details, see the",
    'documentation or "License Notice" file accompanying the IOS-XE software,',
    "or the applicable URL provided on the flyer accompanying the IOS-XE",
    "software.",
)


def _pad(part: str) -> str:
    digits = len(part) - len(part.lstrip("0123456789"))
    return part.zfill(len(part) + max(0, 2 - digits))


def _technology(reply: VersionView) -> list[str]:
    """``Technology Package License Information:`` (the Catalyst 9300's layout, which Genie's
    ShowVersion reads into ``license_package``) and ``Smart Licensing Status:``."""
    rule = "-" * 78
    lines = ["Technology Package License Information:", "", rule]
    lines += [f"{'Technology-package':<55}Technology-package"]
    lines += [f"{'Current':<31}{'Type':<27}Next reboot", rule]
    packages = reply.packages or (("None", "None"),)
    lines += [f"{name:<24}{kind:<33}{name}" for name, kind in packages]
    return [*lines, "", "", f"Smart Licensing Status: {reply.smart_status}", ""]


def _license_udi(reply: VersionView) -> list[str]:
    rule = "-" * 49
    return ["License UDI:", rule, f"{'Device#':<10}{'PID':<22}SN", rule,
            f"{'*0':<10}{reply.pid:<22}{reply.serial}", ""]  # fmt: skip


def show_version(reply: VersionView) -> list[str]:
    # 17.9.4a -> 17.09.04a (the XE line pads each number to two digits)
    dotted = ".".join(_pad(part) for part in reply.version.split("."))
    family = reply.pid.replace("-", "")
    return [
        f"Cisco IOS XE Software, Version {dotted}",
        f"Cisco IOS Software [Cupertino], {family} Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), "
        f"Version {reply.version}, RELEASE SOFTWARE (fc3)",
        "Technical Support: http://www.cisco.com/techsupport",
        "Copyright (c) 1986-2023 by Cisco Systems, Inc.",
        "Compiled Fri 20-Oct-23 10:44 by mcpre",
        "",
        "",
        *_GPL,
        "",
        "",
        "ROM: IOS-XE ROMMON",
        "",
        f"{reply.hostname} uptime is {uptime_text(reply.uptime)}",
        f"Uptime for this control processor is {uptime_text(reply.uptime)}",
        "System returned to ROM by reload",
        'System image file is "bootflash:packages.conf"',
        "Last reload reason: Reload Command",
        "",
        "",
        *_technology(reply),
        f"cisco {reply.pid} (smartlic) processor with 1887103K/6147K bytes of memory.",
        f"Processor board ID {reply.serial}",
        "Router operating mode: Autonomous",
        "1 Virtual Ethernet interface",
        "3 Gigabit Ethernet interfaces",
        "32768K bytes of non-volatile configuration memory.",
        "3964328K bytes of physical memory.",
        "",
        "Configuration register is 0x2102",
        "",
        *_license_udi(reply),
    ]
