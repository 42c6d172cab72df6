"""The shell's command set, registered explicitly into a fresh ``Registry``.

Usage::

    registry = build_registry()          # a new registry each call; nothing module-global
    session = Session(device, registry)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartlic.agent.shell.commands import configure, exec_license, show
from smartlic.agent.shell.registry import Registry

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["build_registry", "command_reference"]


def build_registry() -> Registry[Session]:
    registry: Registry[Session] = Registry()
    show.register(registry)
    exec_license.register(registry)
    configure.register(registry)
    return registry


_PROMPTS = {"exec": "Device#", "config": "Device(config)#"}


def command_reference(registry: Registry[Session] | None = None) -> list[str]:
    """One Markdown table row per command, for the docs: ``| prompt | command | help |``."""
    registry = registry or build_registry()
    rows = ["| Mode | Command | Help |", "|---|---|---|"]
    for mode in ("exec", "config"):
        for command in registry.commands(mode):
            path = command.path.replace("{", "<").replace("}", ">")
            rows.append(f"| `{_PROMPTS[mode]}` | `{path}` | {command.help} |")
    return rows
