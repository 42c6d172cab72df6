"""The collector's one settings object, read from ``SMARTLIC_COLLECTOR_*`` environment variables.

These are process settings (where the data lives, which ports to bind, timers). The
*preferences* a person changes at run time (Cisco connectivity, smart and virtual account,
authority URL and API key, Validate Device) live in the collector's database and are changed
with ``smartlic collector init|connectivity|preferences`` or ``PUT /api/v1/preferences``;
docs/collector.md documents every field here and a test checks that it does.

Usage::

    settings = CollectorSettings()                        # environment + defaults
    settings = CollectorSettings(data_dir=tmp_path)       # explicit, e.g. in tests
    settings.database                                     # sqlite:///<data_dir>/collector.sqlite3
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from smartlic.web.settings import LimitSettings

__all__ = ["ENV_PREFIX", "CollectorSettings"]

ENV_PREFIX = "SMARTLIC_COLLECTOR_"
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LogFormat = Literal["text", "json"]


class CollectorSettings(LimitSettings):
    """Configuration of one collector (CSLU / satellite) process; the limits of
    ``LimitSettings`` too."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(
        default=Path("var/collector"),
        description="Directory holding the collector's state: its SQLite database and, for a "
        "satellite, the local authority database and keys.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the collector's store. "
        "Default: the SQLite file <data_dir>/collector.sqlite3 (WAL).",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` binds both ports on.")
    pi_port: int = Field(
        default=8182,
        ge=0,
        le=65535,
        description="Product instance service port (`/cslu/v1/pi`), the vendor's 8182.",
    )
    api_port: int = Field(
        default=8180, ge=0, le=65535, description="The collector's own REST API port (8180)."
    )
    sync_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between two forwarding rounds to the authority when connected.",
    )
    pull_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between two collections from collector-initiated devices.",
    )
    satellite_sync_interval_s: float = Field(
        default=86400.0,
        gt=0,
        description="Seconds between two satellite synchronisations with the authority.",
    )
    batch_size: int = Field(
        default=500, ge=1, le=50_000, description="Reports per upload to the authority."
    )
    backoff_initial_s: float = Field(
        default=1.0, gt=0, description="First retry delay after a failed exchange."
    )
    backoff_max_s: float = Field(
        default=300.0, gt=0, description="Longest retry delay (the delay doubles up to it)."
    )
    http_timeout_s: float = Field(
        default=30.0, gt=0, description="Timeout of one HTTP exchange with the authority."
    )
    device_poll_interval_s: int = Field(
        default=60,
        ge=1,
        description="`poll_interval` the collector tells devices in its OK_POLL answers.",
    )
    log_level: LogLevel = Field(default="info", description="Log level of the servers.")
    log_format: LogFormat = Field(
        default="text",
        description="`text` (uvicorn's lines) or `json` (one JSON object per line: time, level, "
        "logger, message) for log shippers.",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> CollectorSettings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'collector.sqlite3'}"
        return self

    @property
    def database(self) -> str:
        """The database URL, never ``None`` once validated."""
        assert self.database_url is not None
        return self.database_url

    @property
    def satellite_dir(self) -> Path:
        """Local authority database and keys of the satellite."""
        return self.data_dir / "satellite"
