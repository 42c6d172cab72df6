"""Policy-mode views beyond status/usage: authorization, RUM reports, history, event log and
tech support, in the formats of the real outputs in domain-notes 2.6 and real-outputs/.

Each function returns a list of lines without trailing newlines.
"""

from __future__ import annotations

import re
from datetime import datetime

from smartlic.agent._policy_status import (
    AuthorizationCodeStatus,
    PolicyLicenseUsage,
    PolicyModeStatus,
    ReportSummary,
    RumReportStatus,
)
from smartlic.agent._status import Status
from smartlic.agent.shell import views_policy as vp
from smartlic.agent.shell import views_reservation
from smartlic.agent.shell.fmt import ios_time
from smartlic.agent.shell.views_tech import tech_tail
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile

__all__ = [
    "IMPORT_HISTORY",
    "ONLINE_HISTORY",
    "license_all",
    "license_authorization",
    "license_eventlog",
    "license_history",
    "license_rum_all",
    "license_rum_detail",
    "license_rum_feature",
    "license_tech_support",
]

# ``show license history message`` sections, in device order (domain-notes 2.6).
ONLINE_HISTORY = (
    "Trust Establishment",
    "Usage Reporting",
    "Result Polling",
    "Authorization Request",
    "Authorization Return",
    "Trust Sync",
)
IMPORT_HISTORY = ("POLICY", "AUTH", "TRUST CODE", "RUM ACK", "CONVERSION ACK", "ACCOUNT INFO")


def _license_for(p: PolicyModeStatus, tag: str) -> PolicyLicenseUsage | None:
    return next((lic for lic in p.licenses if lic.tag == tag), None)


def _authorization_entry(p: PolicyModeStatus, udi: str, entry: tuple[str, str, int]) -> list[str]:
    tag, display, count = entry
    lic = _license_for(p, tag)
    name = lic.name if lic else display
    return [
        f"  {name} ({display}):",
        f"    Description: {lic.description if lic else display}",
        f"    Total available count: {count}",
        f"    Enforcement type: {lic.enforcement_type if lic else 'ENFORCED'}",
        "    Term information:",
        f"      Active: {udi}",
        "        Authorization type: SMART AUTHORIZATION INSTALLED",
        f"        License type: {lic.license_type if lic else 'Perpetual'}",
        f"          Term Count: {count}",
    ]


def _member_status(p: PolicyModeStatus, active: bool) -> list[str]:
    # Real devices indent these 6 (real-outputs c9300 authorization and show license all).
    latest: AuthorizationCodeStatus | None = p.authorizations[-1] if p.authorizations else None
    if not active:
        return ["      Status: NOT INSTALLED"]
    if latest is None:
        lines = ["      Status: NOT INSTALLED"]
    else:
        when = ios_time(latest.installed_at)
        lines = [f"      Status: SMART AUTHORIZATION INSTALLED on {when}"]
    if p.last_return_code:
        lines.append(f"      Last return code: {p.last_return_code}")
    if latest is not None:
        lines.append(f"      Last Confirmation code: {latest.confirmation_code}")
    return lines


def _overall(status: Status, profile: ProductProfile) -> list[str]:
    p = vp.policy_of(status)
    reserved = views_reservation.authorization_member(status)  # an SLR kept after upgrade
    lines = ["Overall status:"]
    for role, udi in vp.ha_members(status, profile):
        active = role == "Active"
        member = reserved if active and reserved else _member_status(p, active)
        lines += [f"  {role}: {udi}", *member]
    return lines


def _authorizations(status: Status, profile: ProductProfile) -> list[str]:
    p, udi = vp.policy_of(status), str(status.udi)
    lines = _overall(status, profile)
    entries = [entry for code in p.authorizations for entry in code.entitlements]
    if entries:
        lines += ["", "Authorizations:"]
        for entry in entries:
            lines += _authorization_entry(p, udi, entry)
    if views_reservation.authorization_member(status):
        lines += ["", *views_reservation.specified_reservations(status, profile)]
    return [*lines, "", "Purchased Licenses:", "  No Purchase Information Available"]


def _derived(status: Status, profile: ProductProfile) -> list[str]:
    """``Derived Licenses:`` (newer releases, domain-notes 2.6): the licenses in use, each
    with its entitlement tag; a simulated device derives none from others."""
    if profile.release < vp.NEWER:
        return []
    lines = ["", "Derived Licenses:"]
    for lic in vp.policy_of(status).licenses:
        lines += [f"  Entitlement Tag: {lic.tag}"]
    return lines if len(lines) > 2 else []


def license_authorization(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license authorization`` (real-outputs c9300 golden_output; SLAC fields of S23)."""
    return _authorizations(status, profile)


def _summary(s: ReportSummary, *, tech: bool = False) -> list[str]:
    """``Usage Report Summary:``; tech support adds the counters in parentheses and the
    storage lines (real-outputs tech support golden_output_14_standalone)."""
    if not tech:
        return [
            *vp.banner("Usage Report Summary:"),
            f"Total: {s.total},  Purged: {s.purged}",
            f"Total Acknowledged Received: {s.acknowledged},  Waiting for Ack: {s.waiting_for_ack}",
            f"Available to Report: {s.available_to_report}  Collecting Data: {s.collecting_data}",
        ]
    in_storage = s.total - s.purged
    return [
        *vp.banner("Usage Report Summary:"),
        f"Total: {s.total},  Purged: {s.purged}(0)",
        f"Total Acknowledged Received: {s.acknowledged},  Waiting for Ack: {s.waiting_for_ack}(0)",
        f"Available to Report: {s.available_to_report}  Collecting Data: {s.collecting_data}  ",
        f"Maximum Display: {s.total}  In Storage: {in_storage},  MIA: 0(0)",
        "Report Module Status: Ready",
    ]


def _authorizations_section(status: Status, profile: ProductProfile) -> list[str]:
    """``License Authorizations`` of ``show license all``; newer releases add the data push
    lines (domain-notes 2.2) and ``Derived Licenses:``."""
    lines = [*vp.banner("License Authorizations"), *_authorizations(status, profile)]
    if profile.release >= vp.NEWER:
        lines[2:2] = ["Last Data Push: <none>", "Last File Export: <none>", ""]
    return [*lines, *_derived(status, profile), ""]


def license_all(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license all``: status, usage, product, agent, authorizations, report summary."""
    p = vp.policy_of(status)
    tail = [*_authorizations_section(status, profile), *_summary(p.report_summary)]
    if profile.release >= vp.NEWER:
        tail += [" ", *vp.telemetry_summary()]
    return vp.license_all(status, profile, tail)


def license_rum_all(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license rum id all`` (real-outputs rum_id_all golden_1)."""
    lines = [
        "Smart Licensing Usage Report:",
        "=" * 36,
        "Report Id,          State,    Flag, Feature Name",
    ]
    for r in vp.policy_of(status).reports:
        lines.append(f"{r.report_id:<20}{r.state:<10}{r.flag:<6}{r.feature_name}")
    return lines


def license_rum_feature(status: Status, feature: str, *, detail: bool) -> list[str]:
    """``show license rum feature <name|all> [detail]``: the reports of one feature (or all),
    as the ``rum id all`` table, or each report's detail."""
    reports = [r for r in vp.policy_of(status).reports if feature in ("all", r.feature_name)]
    if detail:
        lines: list[str] = []
        for r in reports:
            lines += [*license_rum_detail(r)[2:], ""] if lines else [*license_rum_detail(r), ""]
        return lines[:-1]
    table = license_rum_all(status)
    return [*table[:3], *(line for line in table[3:] if line.split()[-1] in _names(reports))]


def _names(reports: list[RumReportStatus]) -> set[str]:
    return {r.feature_name for r in reports}


def find_report(status: Status, report_id: int) -> RumReportStatus | None:
    return next((r for r in vp.policy_of(status).reports if r.report_id == report_id), None)


def _state_line(r: RumReportStatus) -> str:
    """``State Change Reason`` while a report moves; a closed or deleted one shows why it was
    closed, ``Close Reason: SMART`` (domain-notes 2.6, the TELEMETRY variant)."""
    if r.state in ("DELETED", "CLOSED") or (r.storage_state == "DELETED" and r.state != "ACK"):
        return f"  State: {r.state},      Close Reason: SMART"
    return f"  State: {r.state},      State Change Reason: {r.state_change_reason}"


def license_rum_detail(report: RumReportStatus) -> list[str]:
    """``show license rum id <id> detail`` (real-outputs rum_id_1634211151_detail)."""
    r = report
    return [
        "Smart Licensing Usage Report Detail:",
        "=" * 36,
        f"Report Id: {r.report_id}",
        f"  Metric Name: {r.metric_name}",
        f"  Feature Name: {r.feature_name}",
        f"  Metric Value: {r.metric_value}",
        f"  UDI: {r.udi}",
        f"  Previous Report Id: {r.previous_report_id},    Next Report Id: {r.next_report_id}",
        _state_line(r),
        f"  Start Time: {ios_time(r.start_time)},      End Time: {ios_time(r.end_time)}",
        f"  Storage State: {r.storage_state}",
        f"  Transaction ID: {r.transaction_id}",
        f"  Transaction Message: {r.transaction_message or '<none>'}",
    ]


def _history_section(title: str, entries: list[tuple[datetime, str]], empty: str) -> list[str]:
    if not entries:
        return [f"{title}:", f"  {empty}"]
    return [f"{title}:", *(f"  {ios_time(at)}: {text}" for at, text in entries)]


def license_history(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license history message`` (real-outputs history_message golden_output)."""
    h = vp.policy_of(status).history
    lines = ["", "Message History (oldest to newest):", "=" * 52]
    for name in ONLINE_HISTORY:
        lines += _history_section(name, list(h.online.get(name, [])), "No past history")
    lines += ["", "Import Message History (oldest to newest):", "=" * 52]
    for name in IMPORT_HISTORY:
        entries = list(h.imports.get(name, []))
        lines += [*_history_section(f"Import {name}", entries, "No past Import history"), ""]
    return lines[:-1]


_KEY_VALUES = re.compile(r'^(\w+="[^"]*"\s*)+$')


def event_text(text: str) -> str:
    """An event's attributes as devices print them, ``key="value" ...`` (domain-notes 2.6:
    ``SAEVT_PLATFORM eventSource="INFRA_SL" eventName="..." MSG="..."``); a free-text
    message becomes ``MSG="..."``."""
    if _KEY_VALUES.match(text):
        return text
    return 'MSG="{}"'.format(text.replace('"', "'"))


def license_eventlog(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license eventlog``: ``**** Event Log ****`` then one line per event, or
    `` No EventLog Found.`` (domain-notes 2.6)."""
    events = vp.policy_of(status).eventlog
    if not events:
        return [" No EventLog Found."]
    lines = ["**** Event Log ****", ""]
    for e in events:
        stamp = e.at.strftime("%Y-%m-%d %H:%M:%S.") + f"{e.at.microsecond // 1000:03d} UTC"
        lines.append(f"{stamp} {e.kind} {event_text(e.text)}")
    return lines


def license_tech_support(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license tech support`` (real-outputs tech support golden_output_14_standalone,
    a 17.12 device): the status sections, license handles, scheduled jobs, communication
    statistics, certificates, HA and reservation info, report summaries, other info and the
    platform mapping table (views_tech)."""
    p = vp.policy_of(status)
    summary = [*_summary(p.report_summary, tech=True), " ", *vp.telemetry_summary(), ""]
    head = [
        "Smart Licensing Tech Support info",
        "",
        *vp.status_sections(status, profile, tech=True),
    ]
    return [*head, *tech_tail(status, profile, summary)]
