"""The simulated device behind the shell: running configuration + license manager + clock.

Configuration lines become license check-outs through the product profile: ``license boot
level metroipaccess`` checks out "Device METRO IP ACCESS", ``license feature port`` two
6-1GE and two 2-10G port licenses (``smartlic.domain.products``). Check-outs live in memory,
as on a real device, so ``start()`` re-requests them from the saved configuration - the
equivalent of a reload. Everything else the manager persists itself.

In policy mode (Smart Licensing Using Policy) the gateway profile's ``cpf enable`` under
``common-packet-forwarder profile`` checks out LORAWAN_CPF (second reference document).

Usage::

    device = Device(config=DeviceConfig(), store=ConfigStore(state_dir), clock=clock,
                    manager_factory=lambda config: LicenseManager(...))
    device.start()
    device.set_feature("atm", True)
    device.manager.status().authorization.state   # AuthorizationState.EVAL
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from smartlic.agent._manager import Handle, LicenseManager
from smartlic.agent.shell.config import ConfigStore, DeviceConfig
from smartlic.clock import Clock
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile
from smartlic.errors import InvalidInput, SmartlicError

__all__ = ["CPF_FEATURE", "TRANSPORTS", "Device", "TransportType"]

TransportType = Literal["automatic", "callhome", "cslu", "off", "smart"]
TRANSPORTS: tuple[TransportType, ...] = ("automatic", "callhome", "cslu", "off", "smart")
CPF_FEATURE = "cpf"  # the profile feature ``cpf enable`` consumes (GATEWAY_PROFILE)
ManagerFactory = Callable[[DeviceConfig], LicenseManager]


class Device:
    """One simulated product instance; the shell's handlers call these methods."""

    def __init__(
        self,
        *,
        config: DeviceConfig,
        clock: Clock,
        manager_factory: ManagerFactory,
        store: ConfigStore | None = None,
        profile: ProductProfile = DEFAULT_PROFILE,
        flash_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.profile = profile
        self.flash_dir = flash_dir
        self._store = store
        self._factory = manager_factory
        self.manager = manager_factory(config)
        self.started = clock.now()  # "uptime is" in show version
        self._handles: dict[str, list[Handle]] = {}
        self.boot_messages: list[str] = []  # what the last start said about the boot level

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Apply the saved configuration to the manager and re-request its licenses."""
        self._apply_transport()
        self._apply_enabled()
        self.boot_messages = []
        if self.config.boot_level and self.traditional_mode:
            self._boot_strictly(self.config.boot_level)
        elif self.config.boot_level:
            self._restore(f"boot {self.config.boot_level}", self._boot(self.config.boot_level))
        for name in self.config.features:
            self._restore(f"feature {name}", self._feature(name))
        if self.config.cpf_enabled:
            self._restore(f"feature {CPF_FEATURE}", self._feature(CPF_FEATURE))

    def close(self) -> None:
        self.manager.close()

    def tick(self) -> None:
        """Run the manager's due timers (renewals, retries, expiry, usage sync)."""
        self.manager.tick()

    @property
    def policy_mode(self) -> bool:
        return self.manager.mode == "policy"

    @property
    def traditional_capable(self) -> bool:
        """Software that predates Smart Licensing by default (the 16.x ASR-903 profile)."""
        return self.profile.licensing_mode == "traditional"

    @property
    def traditional_mode(self) -> bool:
        return self.manager.mode == "traditional"

    def _boot_strictly(self, level: str) -> None:
        """Traditional licensing enforces the boot level at reload: without a valid license
        for it the level is refused and the device runs without it (first document)."""
        try:
            self._checkout(f"boot {level}", self._boot(level))
        except SmartlicError as exc:
            self.boot_messages = [
                f"%LICENSE-2-BOOT_LEVEL_REFUSED: License boot level {level} refused at reload: "
                f"{exc.detail}; the device runs without it"
            ]
            return
        self.boot_messages = [
            f"%IOS_LICENSE_IMAGE_APPLICATION-6-LICENSE_LEVEL: Module name = {self.profile.pid} "
            f"Next reboot level = {level} and License = {level}"
        ]

    @property
    def running_boot_level(self) -> str | None:
        """The boot level in use since the last start (None: refused or not configured)."""
        level = self.config.boot_level
        return level if level and f"boot {level}" in self._handles else None

    def reload(self) -> list[str]:
        """``reload``: the manager rebuilt from the saved state, the configuration applied
        again (a traditional boot level is checked now); what the boot said."""
        self._reload()
        return list(self.boot_messages)

    def _apply_transport(self) -> None:
        cfg = self.config
        self.manager.set_transport(_transport(cfg.transport or self._default_transport()))
        self.manager.set_url(cfg.smart_url or cfg.url)
        self.manager.set_proxy(cfg.proxy_address, cfg.proxy_port)
        if self.policy_mode:
            if cfg.cslu_url is not None:
                self.manager.set_cslu_url(cfg.cslu_url)
            if cfg.usage_interval is not None:
                self.manager.set_usage_interval(cfg.usage_interval)

    def _default_transport(self) -> TransportType:
        # Smart Licensing Using Policy devices ship with transport cslu (domain-notes 2.5);
        # classic devices with Call Home.
        return "cslu" if self.policy_mode else "callhome"

    def _save(self) -> None:
        if self._store is not None:
            self._store.save(self.config)

    def save_config(self) -> None:
        """Persist a display setting changed on ``config`` (license_settings.py)."""
        self._save()

    # -- licenses from configuration ---------------------------------------------------

    def _boot(self, level: str) -> list[tuple[str, int]]:
        return self.profile.boot_levels[level]

    def _feature(self, name: str) -> list[tuple[str, int]]:
        return self.profile.features[name]

    def _checkout(self, key: str, needs: list[tuple[str, int]]) -> None:
        """Check out every license of ``needs`` or none (a refusal gives back the others)."""
        tags = [(self.profile.license(name).tag, count) for name, count in needs]
        handles: list[Handle] = []
        try:
            for tag, count in tags:
                handles.append(self.manager.request(tag, count))
        except SmartlicError:
            for handle in handles:
                self.manager.release(handle)
            raise
        self._handles[key] = handles

    def _restore(self, key: str, needs: list[tuple[str, int]]) -> None:
        """At start, a configured license the manager now refuses (an enforced license whose
        authorization code was returned) stays configured but is not in use."""
        with contextlib.suppress(SmartlicError):
            self._checkout(key, needs)

    def _give_back(self, key: str) -> None:
        for handle in self._handles.pop(key, []):
            self.manager.release(handle)

    # -- configuration commands --------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        self.config.smart_enabled = enabled
        self._save()
        self._apply_enabled()

    def _apply_enabled(self) -> None:
        # Under Smart Licensing Using Policy "license smart enable" "has no effect. Smart
        # Licensing is always enabled" (domain-notes 2.5, S13). On software that predates
        # Smart Licensing, "no license smart enable" reverts to traditional licensing.
        if self.traditional_capable and not self.policy_mode:
            self._apply_traditional()
            return
        if self.config.smart_enabled or self.policy_mode:
            self.manager.enable()
        else:
            self.manager.disable()

    def _apply_traditional(self) -> None:
        smart = self.config.smart_enabled
        if smart:
            self.manager.set_mode("classic")
            self.manager.enable()
        else:
            self.manager.disable()
            self.manager.set_mode("traditional")

    def set_boot_level(self, level: str | None) -> None:
        old = self.config.boot_level
        if level == old:
            return
        if self.traditional_mode:  # strictly enforced at the next reload
            self.config.boot_level = level
            self._save()
            return
        if old is not None:
            self._give_back(f"boot {old}")
        self.config.boot_level = level
        self._save()
        if level is not None:
            self._checkout(f"boot {level}", self._boot(level))

    def set_feature(self, name: str, on: bool) -> None:
        present = name in self.config.features
        if on == present:
            return
        if on:
            self._checkout(f"feature {name}", self._feature(name))  # may be refused
            self.config.features.append(name)
        else:
            self.config.features.remove(name)
            self._give_back(f"feature {name}")
        self._save()

    def set_transport(self, kind: str | None) -> None:
        checked = _transport(kind or self._default_transport())
        if checked in ("cslu", "automatic") and not self.policy_mode:
            raise InvalidInput(f"transport {checked} needs Smart Licensing Using Policy")
        self.manager.set_transport(checked)
        self.config.transport = kind
        self._save()

    def set_url(self, url: str | None) -> None:
        """``license smart url <url>`` / ``no license smart url`` / ``url default``."""
        self.config.url = url
        if url is None:
            self.config.smart_url = self.config.cslu_url = None
            if self.policy_mode:
                self.manager.set_cslu_url(None)
        self._save()
        self.manager.set_url(url)

    def set_smart_url(self, url: str) -> None:
        self.config.smart_url = url
        self._save()
        self.manager.set_url(url)

    def set_cslu_url(self, url: str) -> None:
        self.manager.set_cslu_url(url)
        self.config.cslu_url = url
        self._save()

    def set_usage_interval(self, days: int) -> None:
        self.manager.set_usage_interval(days)
        self.config.usage_interval = days
        self._save()

    def set_mode(self, mode: str) -> None:
        """``license smart mode {classic|policy}`` (lab): rebuild the manager in that mode."""
        if mode == self.config.mode and self.manager.mode == mode:
            return
        self.config.mode = mode
        self._save()
        self._reload()

    def set_cpf(self, enabled: bool) -> None:
        """``cpf enable`` (after the agreement) / ``no cpf enable``: LORAWAN_CPF in use or not."""
        if enabled == self.config.cpf_enabled:
            return
        key = f"feature {CPF_FEATURE}"
        if enabled:
            self._checkout(key, self._feature(CPF_FEATURE))
        else:
            self._give_back(key)
        self.config.cpf_enabled = enabled
        self._save()

    def set_cpf_address(self, address: str, port: int) -> None:
        self.config.cpf_ipaddr, self.config.cpf_port = address, port
        self._save()

    def set_proxy(self, *, address: str | None = None, port: int | None = None) -> None:
        self.config.proxy_address = address if address is not None else self.config.proxy_address
        self.config.proxy_port = port if port is not None else self.config.proxy_port
        self._save()
        self.manager.set_proxy(self.config.proxy_address, self.config.proxy_port)

    def clear_proxy(self, what: Literal["address", "port"]) -> None:
        if what == "address":
            self.config.proxy_address = None
        else:
            self.config.proxy_port = None
        self._save()
        self.manager.set_proxy(self.config.proxy_address, self.config.proxy_port)

    def set_hostname(self, name: str) -> None:
        """Rename; the manager is rebuilt so the new name reaches the authority (a reload)."""
        if name == self.config.hostname:
            return
        self.config.hostname = name
        self._save()
        self._reload()

    def _reload(self) -> None:
        self.manager.close()
        self._handles.clear()
        self.manager = self._factory(self.config)
        self.start()

    # -- lab ---------------------------------------------------------------------------

    def advance(self, delta: timedelta) -> datetime:
        """Move the device clock forward, then let due timers run."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise InvalidInput("this device's clock cannot be moved (not a lab clock)")
        now: datetime = advance(delta)
        self.tick()
        return now


def _transport(kind: str) -> TransportType:
    for known in TRANSPORTS:
        if kind == known:
            return known
    raise InvalidInput(f"unknown transport {kind!r}")
