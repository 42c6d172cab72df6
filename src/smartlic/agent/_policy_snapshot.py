"""Builds ``PolicyModeStatus`` (``Status.policy``) from the policy state and view (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from smartlic.agent._policy_state import ACK, CLOSED, OPEN, PolicyState, RumRecord
from smartlic.agent._policy_status import (
    AccountInfo,
    AuthorizationCodeStatus,
    CommStats,
    EventLogEntry,
    MessageHistory,
    PolicyLicenseUsage,
    PolicyModeStatus,
    ReportSummary,
    RumReportStatus,
    TrustCodeStatus,
    UsageReporting,
)
from smartlic.agent._policy_view import NOT_IN_USE, PolicyView
from smartlic.agent._snapshot import Identity, license_name
from smartlic.domain.enums import Enforcement
from smartlic.domain.products import LicenseSpec
from smartlic.formats.envelope import iso

__all__ = ["build_policy_status"]


def build_policy_status(
    identity: Identity,
    ps: PolicyState,
    view: PolicyView,
    usage: Mapping[str, int],
    now: datetime,
    urls: tuple[str | None, str | None],
) -> PolicyModeStatus:
    return PolicyModeStatus(
        policy=view.policy,
        account=_account(ps),
        usage_reporting=_usage_reporting(ps, view),
        trust_code=_trust(identity, ps),
        licenses=_licenses(identity, ps, view, usage),
        authorizations=_authorizations(identity, ps),
        last_return_code=ps.last_return_code,
        reports=[_report(identity, r) for r in ps.reports],
        report_summary=_summary(ps),
        history=MessageHistory(
            online={k: [(i.at, i.text) for i in v] for k, v in ps.history_online.items()},
            imports={k: [(i.at, i.text) for i in v] for k, v in ps.history_imports.items()},
        ),
        comm_stats={k: CommStats(**vars(v)) for k, v in ps.comm.items()},
        eventlog=[EventLogEntry(e.at, e.kind, e.text) for e in ps.eventlog],
        alerts=_alerts(view),
        cslu_url=urls[0],
        smart_url=urls[1],
    )


def _alerts(view: PolicyView) -> list[str]:
    if not view.overdue:
        return []
    return [f"Reporting overdue: the ACK was required by {iso(view.deadline)}"]


def _account(ps: PolicyState) -> AccountInfo:
    if ps.account is None:
        return AccountInfo()
    a = ps.account
    return AccountInfo(a.smart_account, a.virtual_account, a.as_of)


def _usage_reporting(ps: PolicyState, view: PolicyView) -> UsageReporting:
    return UsageReporting(
        last_ack_received=ps.last_ack,
        next_ack_deadline=view.deadline,
        reporting_push_interval_days=view.push_interval_days,
        next_ack_push_check=min((p.since for p in ps.pending_polls), default=None),
        next_report_push=view.next_push,
        last_report_push=ps.last_report_push,
        last_report_file_write=ps.last_report_file_write,
        overdue=view.overdue,
    )


def _trust(identity: Identity, ps: PolicyState) -> TrustCodeStatus | None:
    t = ps.trust
    if t is None:
        return None
    return TrustCodeStatus(t.installed_at, str(identity.udi), t.key_id, t.expires_at)


def _licenses(
    identity: Identity, ps: PolicyState, view: PolicyView, usage: Mapping[str, int]
) -> list[PolicyLicenseUsage]:
    tags = list(usage) + [r.tag for r in ps.reports if r.tag not in usage]
    seen: dict[str, PolicyLicenseUsage] = {}
    for tag in tags:
        if tag not in seen:
            status = view.statuses.get(tag, NOT_IN_USE)
            seen[tag] = _license(tag, usage.get(tag, 0), identity.catalogue.get(tag), status)
    return list(seen.values())


def _license(tag: str, count: int, spec: LicenseSpec | None, status: str) -> PolicyLicenseUsage:
    name = spec.name if spec else license_name(tag)
    display = spec.display_name if spec else name
    enforcement = spec.enforcement if spec else Enforcement.UNENFORCED
    return PolicyLicenseUsage(
        name=name,
        display_name=display,
        tag=tag,
        description=spec.text if spec else display,
        count=count,
        version=spec.version if spec else "1.0",
        status=status,
        export_status=_export(enforcement, status),
        feature_name=name,
        feature_description=spec.text if spec else display,
        enforcement_type=_ENFORCEMENT[enforcement],
        license_type="Subscription" if spec and spec.subscription else "Perpetual",
    )


_ENFORCEMENT = {
    Enforcement.UNENFORCED: "NOT ENFORCED",
    Enforcement.ENFORCED: "ENFORCED",
    Enforcement.EXPORT_CONTROLLED: "EXPORT RESTRICTED",
}


def _export(enforcement: Enforcement, status: str) -> str:
    if enforcement is not Enforcement.EXPORT_CONTROLLED:
        return "NOT RESTRICTED"
    return "RESTRICTED - NOT AUTHORIZED" if status == "NOT AUTHORIZED" else "RESTRICTED - ALLOWED"


def _authorizations(identity: Identity, ps: PolicyState) -> list[AuthorizationCodeStatus]:
    out = []
    for a in ps.authorizations:
        ents = tuple((tag, _display(identity, tag), n) for tag, n in sorted(a.entitlements.items()))
        out.append(AuthorizationCodeStatus(a.code_id, a.installed_at, a.confirmation_code, ents))
    return out


def _display(identity: Identity, tag: str) -> str:
    spec = identity.catalogue.get(tag)
    return spec.display_name if spec else license_name(tag)


def _report(identity: Identity, r: RumRecord) -> RumReportStatus:
    start = min((m.start for m in r.measurements), default=int(r.opened_at.timestamp()))
    end = max((m.end for m in r.measurements), default=start)
    spec = identity.catalogue.get(r.tag)
    return RumReportStatus(
        report_id=r.report_id,
        state=r.state,
        flag="N",
        feature_name=spec.name if spec else license_name(r.tag),
        metric_name="ENTITLEMENT",
        metric_value=r.tag,
        udi=str(identity.udi),
        previous_report_id=r.previous_id,
        next_report_id=r.next_id,
        state_change_reason=r.reason,
        start_time=datetime.fromtimestamp(start, UTC),
        end_time=datetime.fromtimestamp(end, UTC),
        storage_state="DELETED" if r.state == ACK else "EXIST",
    )


def _summary(ps: PolicyState) -> ReportSummary:
    states = [r.state for r in ps.reports]
    return ReportSummary(
        total=len(states) + ps.purged,
        purged=ps.purged,
        acknowledged=states.count(ACK),
        waiting_for_ack=sum(1 for r in ps.reports if r.state == CLOSED and r.sent_at),
        available_to_report=sum(1 for r in ps.reports if r.state == CLOSED and not r.sent_at),
        collecting_data=states.count(OPEN),
    )
