"""Policy-mode views beyond status/usage: authorization, RUM reports, history, event log and
tech support, in the formats of the real outputs in domain-notes 2.6 and real-outputs/.

Each function returns a list of lines without trailing newlines.
"""

from __future__ import annotations

from datetime import datetime

from smartlic.agent._policy_status import (
    AuthorizationCodeStatus,
    CommStats,
    PolicyLicenseUsage,
    PolicyModeStatus,
    ReportSummary,
    RumReportStatus,
)
from smartlic.agent._status import Status
from smartlic.agent.shell import views_policy as vp
from smartlic.agent.shell.fmt import ios_time

__all__ = [
    "IMPORT_HISTORY",
    "MESSAGE_TYPES",
    "ONLINE_HISTORY",
    "license_all",
    "license_authorization",
    "license_eventlog",
    "license_history",
    "license_rum_all",
    "license_rum_detail",
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
# ``Communication Statistics`` message types, in tech-support order.
MESSAGE_TYPES = (
    "Trust Establishment",
    "Trust Acknowledgement",
    "Usage Reporting",
    "Result Polling",
    "Authorization Request",
    "Authorization Confirmation",
    "Authorization Return",
    "Trust Sync",
    "Hello Message",
)


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


def _overall(p: PolicyModeStatus, udi: str) -> list[str]:
    lines = ["Overall status:", f"  Active: {udi}"]
    latest: AuthorizationCodeStatus | None = p.authorizations[-1] if p.authorizations else None
    if latest is None:
        lines.append("      Status: NOT INSTALLED")
    else:
        when = ios_time(latest.installed_at)
        lines.append(f"      Status: SMART AUTHORIZATION INSTALLED on {when}")
    if p.last_return_code:
        lines.append(f"      Last return code: {p.last_return_code}")
    if latest is not None:
        lines.append(f"      Last Confirmation code: {latest.confirmation_code}")
    return lines


def _authorizations(p: PolicyModeStatus, udi: str) -> list[str]:
    lines = _overall(p, udi)
    entries = [entry for code in p.authorizations for entry in code.entitlements]
    if entries:
        lines += ["", "Authorizations:"]
        for entry in entries:
            lines += _authorization_entry(p, udi, entry)
    return [*lines, "", "Purchased Licenses:", "  No Purchase Information Available"]


def license_authorization(status: Status) -> list[str]:
    """``show license authorization`` (real-outputs c9300 golden_output; SLAC fields of S23)."""
    return _authorizations(vp.policy_of(status), str(status.udi))


def _summary(s: ReportSummary) -> list[str]:
    return [
        *vp.banner("Usage Report Summary:"),
        f"Total: {s.total},  Purged: {s.purged}",
        f"Total Acknowledged Received: {s.acknowledged},  Waiting for Ack: {s.waiting_for_ack}",
        f"Available to Report: {s.available_to_report}  Collecting Data: {s.collecting_data}",
    ]


def license_all(status: Status) -> list[str]:
    """``show license all``: status, usage, product, agent, authorizations, report summary."""
    p = vp.policy_of(status)
    tail = [*vp.banner("License Authorizations"), *_authorizations(p, str(status.udi)), ""]
    return vp.license_all(status, [*tail, *_summary(p.report_summary)])


def license_rum_all(status: Status) -> list[str]:
    """``show license rum id all`` (real-outputs rum_id_all golden_1)."""
    lines = [
        "Smart Licensing Usage Report:",
        "=" * 36,
        "Report Id,          State,    Flag, Feature Name",
    ]
    for r in vp.policy_of(status).reports:
        lines.append(f"{r.report_id:<20}{r.state:<10}{r.flag:<6}{r.feature_name}")
    return lines


def find_report(status: Status, report_id: int) -> RumReportStatus | None:
    return next((r for r in vp.policy_of(status).reports if r.report_id == report_id), None)


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
        f"  State: {r.state},      State Change Reason: {r.state_change_reason}",
        f"  Start Time: {ios_time(r.start_time)},      End Time: {ios_time(r.end_time)}",
        f"  Storage State: {r.storage_state}",
        f"  Transaction ID: {r.transaction_id}",
        f"  Transaction Message: {r.transaction_message or '<none>'}",
    ]


def _history_section(title: str, entries: list[tuple[datetime, str]], empty: str) -> list[str]:
    if not entries:
        return [f"{title}:", f"  {empty}"]
    return [f"{title}:", *(f"  {ios_time(at)}: {text}" for at, text in entries)]


def license_history(status: Status) -> list[str]:
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


def license_eventlog(status: Status) -> list[str]:
    """``show license eventlog``: ``**** Event Log ****`` then one line per event, or
    `` No EventLog Found.`` (domain-notes 2.6)."""
    events = vp.policy_of(status).eventlog
    if not events:
        return [" No EventLog Found."]
    lines = ["**** Event Log ****", ""]
    for e in events:
        stamp = e.at.strftime("%Y-%m-%d %H:%M:%S.") + f"{e.at.microsecond // 1000:03d} UTC"
        lines.append(f"{stamp} {e.kind} {e.text}")
    return lines


def _comm(name: str, s: CommStats) -> list[str]:
    last = "<none>" if s.last_response is None else s.last_response
    if s.last_response is not None and s.last_response_at is not None:
        last = f"{last} on {ios_time(s.last_response_at)}"
    return [
        f"{name}:",
        f"  Attempts: Total={s.attempts}, Success={s.success}, Fail={s.fail}"
        f"  Ongoing Failure: Overall=0 Communication=0",
        f"  Last Response: {last}",
        f"    Failure Reason: {s.failure_reason or '<none>'}",
        f"  Last Success Time: {vp.when(s.last_success)}",
        f"  Last Failure Time: {vp.when(s.last_failure)}",
    ]


def _communication(status: Status) -> list[str]:
    p = vp.policy_of(status)
    level = "INDIRECT" if status.transport.type == "cslu" else "DIRECT"
    overall = (
        "Device configured for Offline transport" if status.transport.type == "off" else "<empty>"
    )
    lines = ["Communication Statistics:", "=" * 23]
    lines += [f"Communication Level Allowed: {level}", f"Overall State: {overall}"]
    for name in MESSAGE_TYPES:
        lines += _comm(name, p.comm_stats.get(name, CommStats()))
    return lines


def _handles(p: PolicyModeStatus) -> list[str]:
    lines: list[str] = []
    for index, lic in enumerate(p.licenses, start=1):
        entry = vp.usage_entry(lic)
        lines += ["", f"Handle: {index}", f"  License: {lic.name}", f"  Entitlement Tag: {lic.tag}"]
        lines += entry[1:]
    return lines


def license_tech_support(status: Status) -> list[str]:
    """``show license tech support``: the status blocks, license handles, communication
    statistics and the usage report summary (domain-notes 2.6, real-outputs tech support)."""
    p = vp.policy_of(status)
    status_part = vp.license_all(status, [])
    cut = status_part.index("License Usage")
    lines = ["Smart Licensing Tech Support info", "", *status_part[:cut]]
    lines += [*vp.banner("License Usage"), *_handles(p)[1:], ""]
    lines += [*vp.banner("Product Information"), f"UDI: {status.udi}", ""]
    lines += [*vp.banner("Agent Version"), f"Smart Agent for Licensing: {status.agent_version}", ""]
    lines += [*_communication(status), "", *_summary(p.report_summary), ""]
    transport = vp.transport_name(status.transport.type)
    other = [f"Transport: {transport}", "Agent State: authorized"]
    return [*lines, *vp.banner("Other Info"), *other]
