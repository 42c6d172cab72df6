"""The device's running configuration: what ``show running-config`` prints, persisted as JSON.

Only the lines this shell understands are kept: ``hostname``, ``license boot level``,
``license feature``, and the ``license smart`` settings. The file is written atomically
(temporary file, fsync, rename) so a crash never leaves half a configuration.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_FILE", "ConfigStore", "DeviceConfig"]

CONFIG_FILE = "running-config.json"


@dataclass
class DeviceConfig:
    hostname: str = "Device"
    smart_enabled: bool = False
    boot_level: str | None = None
    features: list[str] = field(default_factory=list)
    transport: str | None = None  # None: the agent's default
    url: str | None = None
    proxy_address: str | None = None
    proxy_port: int | None = None

    def running_lines(self) -> list[str]:
        """The configuration as IOS lines, in the order ``show running-config`` shows them."""
        lines = [f"hostname {self.hostname}", "!"]
        if self.boot_level:
            lines.append(f"license boot level {self.boot_level}")
        lines += [f"license feature {name}" for name in self.features]
        lines += ["license smart enable"] if self.smart_enabled else []
        lines += [f"license smart transport {self.transport}"] if self.transport else []
        lines += [f"license smart url {self.url}"] if self.url else []
        if self.proxy_address:
            lines.append(f"license smart proxy address {self.proxy_address}")
        if self.proxy_port is not None:
            lines.append(f"license smart proxy port {self.proxy_port}")
        return lines

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class ConfigStore:
    """Load and save ``running-config.json`` in a device's state directory."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / CONFIG_FILE

    def load(self) -> DeviceConfig | None:
        try:
            return DeviceConfig.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None

    def save(self, config: DeviceConfig) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(asdict(config), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
