"""What a device in traditional licensing remembers (part of ``AgentState``, HMAC-protected):
installed license files, the end user agreement, evaluation time used, device-led conversion."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["ConversionRecord", "InstalledLicense", "TraditionalState"]


@dataclass
class InstalledLicense:
    """One installed license file (``data``: the file, base64) and the time it has been used."""

    serial: str
    feature: str
    license_type: str  # "Permanent" | "Evaluation"
    count: int | None
    period_days: int | None
    installed_at: datetime
    data: str
    used_s: float = 0.0


@dataclass
class ConversionRecord:
    """Device-led conversion (``license smart conversion start``)."""

    status: str = "NOT STARTED"  # NOT STARTED | IN PROGRESS | SUCCESS | FAILED | STOPPED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    converted: list[str] = field(default_factory=list)  # serials reported to the authority
    failure: str | None = None


@dataclass
class TraditionalState:
    licenses: list[InstalledLicense] = field(default_factory=list)
    eula_accepted: bool = False
    right_to_use_s: dict[str, float] = field(default_factory=dict)  # feature -> seconds used
    conversion: ConversionRecord = field(default_factory=ConversionRecord)
