"""The device's running configuration: what ``show running-config`` prints, persisted as JSON.

Only the lines this shell understands are kept: ``hostname``, ``license boot level``,
``license feature``, the ``license smart`` settings (policy mode adds ``url cslu``,
``url smart``, ``usage interval`` and the lab-only ``mode``) and the gateway's
``common-packet-forwarder profile`` block. The file is written atomically
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
    mode: str | None = None  # "classic" | "policy"; None: the manager's (policy when new)
    cslu_url: str | None = None
    smart_url: str | None = None
    usage_interval: int | None = None  # days; None: the policy's default push interval
    cpf_enabled: bool = False
    cpf_ipaddr: str | None = None
    cpf_port: int | None = None
    # ``license smart privacy|vrf|server-identity-check|utility|custom_id|usage customer-tags``
    privacy: list[str] = field(default_factory=list)  # "hostname", "version"
    vrf: str | None = None
    server_identity_check: bool = True
    utility: bool = False
    custom_id: str | None = None
    customer_tags: dict[str, str] = field(default_factory=dict)  # tag1..tag4 -> value

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
        return [*lines, *self._policy_lines(), *self._settings_lines(), *self._cpf_lines()]

    def _settings_lines(self) -> list[str]:
        lines = [f"license smart privacy {what}" for what in sorted(self.privacy)]
        lines += [f"license smart vrf {self.vrf}"] if self.vrf else []
        lines += [] if self.server_identity_check else ["no license smart server-identity-check"]
        lines += ["license smart utility"] if self.utility else []
        lines += [f"license smart custom_id {self.custom_id}"] if self.custom_id else []
        tags = sorted(self.customer_tags.items())
        return lines + [f"license smart usage customer-tags {k} {v}" for k, v in tags]

    def _policy_lines(self) -> list[str]:
        lines = [f"license smart url cslu {self.cslu_url}"] if self.cslu_url else []
        lines += [f"license smart url smart {self.smart_url}"] if self.smart_url else []
        if self.usage_interval is not None:
            lines.append(f"license smart usage interval {self.usage_interval}")
        # ``mode`` is not shown: on a real device it is the software release, not a line of
        # configuration (``license smart mode`` is a smartlic lab command).
        return lines

    def _cpf_lines(self) -> list[str]:
        if not (self.cpf_enabled or self.cpf_ipaddr):
            return []
        lines = ["!", "common-packet-forwarder profile"]
        if self.cpf_ipaddr:
            lines.append(f" ipaddr {self.cpf_ipaddr} port {self.cpf_port}")
        return lines + ([" cpf enable"] if self.cpf_enabled else [])

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
