"""Smart Licensing Using Policy: policies and the reporting rules they set, pure.

A policy tells a product instance whether an ACK is required and, per license group, within
how many days it must send its first report, its subsequent reports, and a report after a
change in usage; 0 means "not required" (second reference document, "Policy").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from smartlic.domain.enums import Enforcement
from smartlic.errors import InvalidInput

__all__ = [
    "CISCO_DEFAULT",
    "MAX_DAYS",
    "GroupAttributes",
    "LicenseGroup",
    "Policy",
    "group_of",
    "next_ack_deadline",
]

MAX_DAYS = 3650


class LicenseGroup(StrEnum):
    """The four attribute groups of ``show license status`` (their labels are the values)."""

    UNENFORCED_PERPETUAL = "Unenforced/Non-Export Perpetual"
    UNENFORCED_SUBSCRIPTION = "Unenforced/Non-Export Subscription"
    ENFORCED = "Enforced (Perpetual/Subscription)"
    EXPORT = "Export (Perpetual/Subscription)"


def group_of(enforcement: Enforcement, *, subscription: bool) -> LicenseGroup:
    if enforcement is Enforcement.EXPORT_CONTROLLED:
        return LicenseGroup.EXPORT
    if enforcement is Enforcement.ENFORCED:
        return LicenseGroup.ENFORCED
    if subscription:
        return LicenseGroup.UNENFORCED_SUBSCRIPTION
    return LicenseGroup.UNENFORCED_PERPETUAL


@dataclass(frozen=True)
class GroupAttributes:
    first_report_days: int
    reporting_frequency_days: int
    report_on_change_days: int

    def __post_init__(self) -> None:
        for name in ("first_report_days", "reporting_frequency_days", "report_on_change_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
                raise InvalidInput(f"{name} must be an integer 0-{MAX_DAYS}", pointer=f"/{name}")


@dataclass(frozen=True)
class Policy:
    """One policy. ``source`` labels values in ``show license status`` output: ``CISCO default``
    for the built-in one, ``Customer Policy`` for a custom one."""

    name: str
    ack_required: bool
    groups: Mapping[LicenseGroup, GroupAttributes]
    source: str = "Customer Policy"
    installed_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def attributes(self, group: LicenseGroup) -> GroupAttributes:
        return self.groups[group]

    @property
    def is_default(self) -> bool:
        return self.source == CISCO_DEFAULT.source and self.name == CISCO_DEFAULT.name

    def installed(self, when: datetime) -> Policy:
        return replace(self, installed_at=when)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ack_required": self.ack_required,
            "source": self.source,
            "groups": {
                g.value: {
                    "first_report_days": a.first_report_days,
                    "reporting_frequency_days": a.reporting_frequency_days,
                    "report_on_change_days": a.report_on_change_days,
                }
                for g, a in self.groups.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Policy:
        if not isinstance(data, Mapping):
            raise InvalidInput("a policy is a JSON object", pointer="/policy")
        name, ack, groups = data.get("name"), data.get("ack_required"), data.get("groups")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise InvalidInput("policy name must be 1-100 characters", pointer="/policy/name")
        if not isinstance(ack, bool):
            raise InvalidInput("ack_required must be a boolean", pointer="/policy/ack_required")
        if not isinstance(groups, Mapping) or set(groups) != {g.value for g in LicenseGroup}:
            raise InvalidInput("a policy names all four license groups", pointer="/policy/groups")
        parsed = {LicenseGroup(k): _attributes(v, k) for k, v in groups.items()}
        source = data.get("source", "Customer Policy")
        return cls(name=name, ack_required=ack, groups=parsed, source=str(source)[:40])


def _attributes(data: Any, group: str) -> GroupAttributes:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"attributes of {group!r} must be an object", pointer="/policy/groups")
    try:
        return GroupAttributes(
            first_report_days=data["first_report_days"],
            reporting_frequency_days=data["reporting_frequency_days"],
            report_on_change_days=data["report_on_change_days"],
        )
    except KeyError as exc:
        raise InvalidInput(f"{group!r} lacks {exc.args[0]}", pointer="/policy/groups") from exc


# The Cisco default policy as devices print it (domain-notes 2.2, real-outputs show license all
# golden_output, ntc-templates status 2 and 4, and the document's own sample outputs): the
# enforced and export groups are 0 (CISCO default) - no periodic reporting; their reporting is
# driven by authorization codes. The second reference document's Table 1 says 90 for them;
# issue 10 (divergence 2) follows the devices.
CISCO_DEFAULT = Policy(
    name="Cisco default",
    ack_required=True,
    source="CISCO default",
    groups={
        LicenseGroup.UNENFORCED_PERPETUAL: GroupAttributes(365, 0, 90),
        LicenseGroup.UNENFORCED_SUBSCRIPTION: GroupAttributes(90, 90, 90),
        LicenseGroup.ENFORCED: GroupAttributes(0, 0, 0),
        LicenseGroup.EXPORT: GroupAttributes(0, 0, 0),
    },
)


def next_ack_deadline(
    policy: Policy,
    groups_in_use: Iterable[LicenseGroup],
    *,
    first_use: datetime | None,
    last_ack: datetime | None,
    changed_at: datetime | None = None,
) -> datetime | None:
    """When the next ACK is due (domain-notes 2.2, "Rule to implement").

    Before any ACK the clock runs from first use with the *first report* requirement; after an
    ACK, from that ACK with the *reporting frequency*; a usage change after the last ACK adds
    ``changed_at + report on change``. The earliest non-zero candidate over the groups in use
    wins; ``None`` when nothing is required, or when no license was ever used ("If a product
    instance has never consumed a license, reporting is not required").
    """
    if first_use is None:
        return None
    candidates: list[datetime] = []
    for group in set(groups_in_use):
        attrs = policy.attributes(group)
        base, days = (
            (first_use, attrs.first_report_days)
            if last_ack is None
            else (last_ack, attrs.reporting_frequency_days)
        )
        if days:
            candidates.append(base + timedelta(days=days))
        if (
            changed_at
            and (last_ack is None or changed_at > last_ack)
            and attrs.report_on_change_days
        ):
            candidates.append(changed_at + timedelta(days=attrs.report_on_change_days))
    return min(candidates, default=None)
