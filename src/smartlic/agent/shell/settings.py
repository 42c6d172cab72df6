"""The device's display settings (``license smart privacy``, ``vrf``, ``server-identity-check``,
``utility``, ``custom_id``) as ``show license`` prints them.

The views print a device with none of these set (``Sending Hostname: yes``, ``VRF: <empty>``,
``Custom Id: <empty>``...); ``apply_settings`` rewrites exactly those lines when a setting is
configured, so every view shows the same values without each view taking the configuration.

Usage::

    lines = apply_settings(views_policy.license_status(status, profile), settings_of(config))
"""

from __future__ import annotations

from dataclasses import dataclass

from smartlic.agent.shell.config import DeviceConfig

__all__ = ["DisplaySettings", "apply_settings", "settings_of"]


@dataclass(frozen=True)
class DisplaySettings:
    hostname_privacy: bool = False
    version_privacy: bool = False
    vrf: str | None = None
    server_identity_check: bool = True
    utility: bool = False
    custom_id: str | None = None


def settings_of(config: DeviceConfig) -> DisplaySettings:
    return DisplaySettings(
        hostname_privacy="hostname" in config.privacy,
        version_privacy="version" in config.privacy,
        vrf=config.vrf,
        server_identity_check=config.server_identity_check,
        utility=config.utility,
        custom_id=config.custom_id,
    )


def _replacements(s: DisplaySettings) -> dict[str, str]:
    found: dict[str, str] = {}
    if s.hostname_privacy:
        found["  Sending Hostname: yes"] = "  Sending Hostname: no"
        found["    Smart Licensing hostname privacy: DISABLED"] = (
            "    Smart Licensing hostname privacy: ENABLED"
        )
    if s.version_privacy:
        found["  Version privacy: DISABLED"] = "  Version privacy: ENABLED"
    if s.vrf:
        found["  VRF: <empty>"] = f"  VRF: {s.vrf}"
    if not s.server_identity_check:
        found["  Server Identity Check: True"] = "  Server Identity Check: False"
    if s.custom_id:
        found["  Custom Id: <empty>"] = f"  Custom Id: {s.custom_id}"
    return found


def apply_settings(lines: list[str], settings: DisplaySettings) -> list[str]:
    """``lines`` with the configured values in place of the defaults."""
    if settings == DisplaySettings():
        return lines
    found = _replacements(settings)
    out = [found.get(line, line) for line in lines]
    for i, line in enumerate(out[:-1]):
        if settings.vrf and line == "  VRF:" and out[i + 1] == "    Not Configured":
            out[i : i + 2] = [f"  VRF: {settings.vrf}"]
        if settings.utility and line == "Utility:" and out[i + 1] == "  Status: DISABLED":
            out[i + 1] = "  Status: ENABLED"
    return out
