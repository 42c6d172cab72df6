"""Session commands around the configuration and the device's file system, as automation tools
send them: ``write memory``, ``copy running-config startup-config``, ``dir flash:``, ``more
flash:<file>``, ``show startup-config``, ``show call-home smart-licensing`` and ``show platform
software sl-infra current``.

The running configuration is already saved on every change (config.py); ``write memory`` also
writes it as text to ``nvram/startup-config`` in the state directory, which ``show
startup-config`` prints. ``flash:`` is the ``flash/`` folder of the state directory (flash.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from smartlic.agent.shell.flash import FLASH_PREFIXES, resolve_path
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.render import running_config_lines
from smartlic.agent.shell.replies import CommandFailed, Confirm, Notice, Reply, RunningConfig
from smartlic.errors import InvalidInput

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["MORE_LIMIT", "register"]

EXEC = "exec"
MORE_LIMIT = 1 << 20  # bytes ``more`` prints; a bigger file is cut with a notice
STARTUP = "startup-config"
NVRAM_SIZE = 33554432  # bytes, as a Catalyst 9300's nvram reports
# What IOS XE's call-home profile CiscoTAC-1 sends to (real-outputs call-home golden_output).
CISCO_CALLHOME_URL = "https://tools.cisco.com/its/service/oddce/services/DDCEService"
_SAVED = ("Building configuration...", "[OK]")


def _startup_path(session: Session) -> Path:
    flash = session.device.flash_dir
    if flash is None:
        raise InvalidInput("this device has no nvram: file system")
    return flash.parent / "nvram" / STARTUP


def _save(session: Session) -> Reply:
    path = _startup_path(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = running_config_lines(_running(session))[3:]  # from the first "!"
    text = "".join(f"{line}\n" for line in body)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # never half a startup-config
    return Notice(_SAVED)


def _running(session: Session) -> RunningConfig:
    return RunningConfig(tuple(session.device.config.running_lines()))


def write_memory(session: Session, args: Mapping[str, str]) -> Reply:
    return _save(session)


def copy_run_start(session: Session, args: Mapping[str, str]) -> Reply:
    """IOS asks for the destination; Enter (or the same name) accepts it."""

    def answer(text: str) -> Reply:
        if text.strip() not in ("", STARTUP, "y"):
            return CommandFailed(f"Destination must be {STARTUP}")
        return _save(session)

    return Confirm((), f"Destination filename [{STARTUP}]? ", answer)


def show_startup(session: Session, args: Mapping[str, str]) -> Reply:
    path = _startup_path(session)
    if not path.exists():
        return Notice(("startup-config is not present",))
    text = path.read_text()
    return Notice((f"Using {len(text)} out of {NVRAM_SIZE} bytes", *text.splitlines()))


def _dir_line(index: int, path: Path) -> str:
    info = path.stat()
    when = datetime.fromtimestamp(info.st_mtime, UTC).strftime("%b %d %Y %H:%M:%S +00:00")
    kind = "drw-" if path.is_dir() else "-rw-"
    return f"{index:>7}  {kind}{info.st_size:>20}  {when}  {path.name}"


def dir_flash(session: Session, args: Mapping[str, str]) -> Reply:
    """``dir flash:`` in IOS XE's layout: index, mode, size, time, name, then the totals."""
    flash = session.device.flash_dir
    if flash is None:
        return CommandFailed("this device has no flash: file system")
    flash.mkdir(parents=True, exist_ok=True)
    entries = sorted(flash.iterdir(), key=lambda p: p.name)
    lines = ["Directory of flash:/", ""]
    lines += [_dir_line(i, p) for i, p in enumerate(entries, start=1)] or ["No files in directory"]
    usage = os.statvfs(flash)
    total, free = usage.f_blocks * usage.f_frsize, usage.f_bavail * usage.f_frsize
    return Notice((*lines, "", f"{total} bytes total ({free} bytes free)"))


def more_file(session: Session, args: Mapping[str, str]) -> Reply:
    """``more flash:<file>``: the file's text, at most ``MORE_LIMIT`` bytes."""
    name = args["path"]
    path = resolve_path(session.device.flash_dir, name)
    if not name.startswith(FLASH_PREFIXES) or not path.is_file():
        return CommandFailed(f"Error opening {name} (No such file or directory)")
    with open(path, "rb") as handle:
        data = handle.read(MORE_LIMIT + 1)
    lines = data[:MORE_LIMIT].decode("utf-8", errors="replace").splitlines()
    if len(data) > MORE_LIMIT:
        lines.append(f"% Output cut at {MORE_LIMIT} bytes")
    return Notice(tuple(lines))


def show_call_home(session: Session, args: Mapping[str, str]) -> Reply:
    """``show call-home smart-licensing`` (real-outputs call-home golden_output): messages
    are enabled when the transport is callhome; the destination is the configured URL."""
    config = session.device.config
    enabled = "enabled" if config.transport == "callhome" else "disabled"
    url = config.url if config.transport == "callhome" and config.url else CISCO_CALLHOME_URL
    return Notice(
        (
            "Current smart-licensing transport settings:",
            f" Smart-license messages: {enabled}",
            " Profile: CiscoTAC-1 (status: ACTIVE)",
            f" Destination  URL(s):  {url}",
        )
    )


def show_sl_infra(session: Session, args: Mapping[str, str]) -> Reply:
    """``show platform software sl-infra current``: what the platform asks the licensing agent
    for - the boot level (and add-on), the features configured and the licenses they need.
    No real output of this command is in the references: this layout is smartlic's own."""
    device = session.device
    level = device.config.boot_level or "none"
    features = ", ".join(device.config.features) or "none"
    lines = [
        "sl-infra current:",
        f"  Platform: {device.profile.pid}",
        f"  Software version: {device.profile.software_version}",
        f"  Boot level: {level}",
        f"  Next reboot level: {level}",
        f"  Features: {features}",
        "  Licenses requested:",
    ]
    needs = device.profile.boot_levels.get(device.config.boot_level or "", [])
    needs += [n for f in device.config.features for n in device.profile.features.get(f, [])]
    lines += [f"    {name}: {count}" for name, count in needs] or ["    none"]
    return Notice(tuple(lines))


def _flash_path(text: str) -> bool:
    return text.startswith(FLASH_PREFIXES)


def register(registry: Registry[Session]) -> None:
    registry.describe(EXEC, "write", "Write running configuration to memory, network, or terminal")
    registry.command(EXEC, "write memory", write_memory, help="Write to NV memory")
    registry.describe(EXEC, "copy", "Copy from one file to another")
    registry.describe(EXEC, "copy running-config", "Copy from current system configuration")
    registry.command(EXEC, "copy running-config startup-config", copy_run_start,
                     help="Copy to startup configuration")  # fmt: skip
    registry.command(EXEC, "show startup-config", show_startup, help="Contents of startup "
                     "configuration", pipe=True)  # fmt: skip
    flash = Arg("flash:", "Directory or file name", check=_flash_path)
    registry.command(EXEC, "dir", dir_flash, help="List files on a filesystem", pipe=True)
    registry.command(EXEC, "dir {path}", dir_flash, help="List files on a filesystem",
                     args={"path": flash}, pipe=True)  # fmt: skip
    registry.command(EXEC, "more {path}", more_file, help="Display the contents of a file",
                     args={"path": flash}, pipe=True)  # fmt: skip
    registry.describe(EXEC, "show platform", "Show platform information")
    registry.describe(EXEC, "show platform software", "Show software information")
    registry.describe(EXEC, "show platform software sl-infra", "Smart licensing infrastructure")
    registry.command(EXEC, "show platform software sl-infra current", show_sl_infra,
                     help="Current licensing state of the platform", pipe=True)  # fmt: skip
    registry.describe(EXEC, "show call-home", "Show command for call home")
    registry.command(EXEC, "show call-home smart-licensing", show_call_home,
                     help="Smart licensing transport settings", pipe=True)  # fmt: skip
