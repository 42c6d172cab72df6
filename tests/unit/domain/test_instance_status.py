"""The instance status rules, pure (smartlic.domain.instance_status)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from smartlic.domain.enums import Enforcement, InstanceStatus
from smartlic.domain.instance_status import (
    ClassicFacts,
    LicenseUse,
    PolicyFacts,
    classic_status,
    policy_status,
)
from smartlic.domain.policy import CISCO_DEFAULT

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PERPETUAL = LicenseUse("atm", Enforcement.UNENFORCED, 1)
SUBSCRIPTION = LicenseUse("cpf", Enforcement.UNENFORCED, 1, subscription=True)


def _facts(*uses: LicenseUse, last: datetime | None = T0) -> PolicyFacts:
    return PolicyFacts(CISCO_DEFAULT, uses, first_use=T0, last_report_at=last)


def test_classic_expires_after_90_days_without_contact() -> None:
    facts = ClassicFacts(T0, T0, InstanceStatus.IN_COMPLIANCE)
    assert classic_status(facts, T0 + 90 * DAY).status is InstanceStatus.IN_COMPLIANCE
    late = classic_status(facts, T0 + 91 * DAY)
    assert late.status is InstanceStatus.AUTHORIZATION_EXPIRED
    assert [a.code for a in late.alerts] == ["authorization-expired"]


def test_cisco_default_groups_set_the_report_due() -> None:
    # perpetual: 365 days to the first report, then nothing; subscription: 90 and 90
    assert policy_status(_facts(PERPETUAL, last=None), T0).report_due == T0 + 365 * DAY
    assert policy_status(_facts(PERPETUAL), T0 + 1000 * DAY).status is InstanceStatus.IN_COMPLIANCE
    both = policy_status(_facts(PERPETUAL, SUBSCRIPTION), T0 + 91 * DAY)
    assert both.report_due == T0 + 90 * DAY
    assert [a.code for a in both.alerts] == ["reporting-overdue"]


def test_nothing_is_due_without_use_or_without_ack() -> None:
    idle = replace(SUBSCRIPTION, count=0)
    assert policy_status(_facts(idle), T0 + 1000 * DAY).alerts == ()
    no_ack = replace(_facts(SUBSCRIPTION), policy=replace(CISCO_DEFAULT, ack_required=False))
    assert policy_status(no_ack, T0 + 1000 * DAY).report_due is None


def test_every_failed_rule_gives_its_alert() -> None:
    hsec = LicenseUse("hseck9", Enforcement.EXPORT_CONTROLLED, 2, authorized=1)
    short = replace(PERPETUAL, pool_covers=False)
    got = policy_status(_facts(hsec, short, SUBSCRIPTION), T0 + 100 * DAY)
    assert got.status is InstanceStatus.OUT_OF_COMPLIANCE
    assert [a.code for a in got.alerts] == [
        "authorization-required",
        "reporting-overdue",
        "pool-short",
    ]
    covered = replace(hsec, authorized=2)
    assert policy_status(_facts(covered), T0 + DAY).status is InstanceStatus.IN_COMPLIANCE
