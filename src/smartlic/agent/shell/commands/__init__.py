"""The shell's command set, registered explicitly into a fresh ``Registry``.

Usage::

    registry = build_registry()          # a new registry each call; nothing module-global
    session = Session(device, registry)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartlic.agent.shell.commands import (
    configure,
    exec_license,
    gateway,
    license_settings,
    policy_config,
    policy_exec,
    reservation,
    show,
    system,
    terminal,
    traditional,
)
from smartlic.agent.shell.registry import Registry
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["build_registry", "command_reference"]


def build_registry(profile: ProductProfile = DEFAULT_PROFILE) -> Registry[Session]:
    """Every command; the profile brings its configuration keywords and, for the gateway,
    the Common Packet Forwarder."""
    registry: Registry[Session] = Registry()
    show.register(registry)
    exec_license.register(registry)
    policy_exec.register(registry, profile)
    configure.register(registry, profile)
    policy_config.register(registry)
    gateway.register(registry, profile)
    terminal.register(registry)
    system.register(registry)
    license_settings.register(registry)
    traditional.register(registry, profile)
    reservation.register(registry)
    return registry


_PROMPTS = {
    "user": "Device>",
    "exec": "Device#",
    "config": "Device(config)#",
    "config-cpf-profile": "Gateway(config-cpf-profile)#",
    "config-line": "Device(config-line)#",
}


def command_reference(registry: Registry[Session] | None = None) -> list[str]:
    """One Markdown table row per command, for the docs: ``| prompt | command | help |``."""
    registry = registry or build_registry()
    rows = ["| Mode | Command | Help |", "|---|---|---|"]
    for mode in _PROMPTS:
        for command in registry.commands(mode):
            path = command.path.replace("{", "<").replace("}", ">")
            rows.append(f"| `{_PROMPTS[mode]}` | `{path}` | {command.help} |")
    return rows
