"""The sections ``show license tech support`` adds after the status blocks, in the order and
format of the real 17.12 output in real-outputs (tech support golden_output_14_standalone):
license handles with their times and measurements, upcoming scheduled jobs, communication
statistics, license certificates, HA info, reservation info, the report summaries, other info
and the platform's mapping table.

Values a simulated device does not have (HA roles, build flags) are those of a standalone
production device; everything that smartlic tracks (reports, times, transport, trust) is read
from the ``Status`` snapshot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smartlic.agent._policy_status import CommStats, PolicyLicenseUsage, RumReportStatus
from smartlic.agent._status import Status
from smartlic.agent.shell import views_policy as vp
from smartlic.agent.shell import views_reservation
from smartlic.agent.shell.fmt import ios_time
from smartlic.domain.enums import Enforcement
from smartlic.domain.products import ProductProfile
from smartlic.formats.device_v1 import udi_short

__all__ = ["MESSAGE_TYPES", "tech_tail"]

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
    "Telemetry Reporting",
)
# Device "IN USE(15)": the agent's internal state number after the status word.
_STATE_NUMBERS = {"IN USE": 15, "NOT IN USE": 1, "NOT AUTHORIZED": 19}


def _reports_of(status: Status, tag: str) -> list[RumReportStatus]:
    reports = vp.policy_of(status).reports
    return sorted((r for r in reports if r.metric_value == tag), key=lambda r: r.report_id)


def _handle(index: int, lic: PolicyLicenseUsage, status: Status) -> list[str]:
    reports = _reports_of(status, lic.tag)
    started = reports[0].start_time if reports else status.now
    requested = reports[-1].end_time if reports else status.now
    current = reports[-1].report_id if reports else 0
    previous = reports[-2].report_id if len(reports) > 1 else 0
    number = _STATE_NUMBERS.get(lic.status, 0)
    return [
        f"Handle: {index}",
        f"  License: {lic.name}",
        f"  Entitlement Tag: {lic.tag}",
        f"  Description: {lic.description}",
        f"  Count: {lic.count}",
        f"  Version: {lic.version}",
        f"  Status: {lic.status}({number})",
        f"  Status time: {ios_time(started)}",
        f"  Request Time: {ios_time(requested)}",
        f"  Export status: {lic.export_status}",
        f"  Feature Name: {lic.feature_name}",
        f"  Feature Description: {lic.feature_description}",
        f"  Enforcement type: {lic.enforcement_type}",
        f"  License type: {lic.license_type}",
        "  Measurements:",
        "    ENTITLEMENT:",
        "      Interval: 00:15:00",
        f"      Current Value: {lic.count}",
        f"      Current Report: {current}       Previous: {previous}",
        f"  Soft Enforced: {lic.enforcement_type == 'NOT ENFORCED'}",
    ]


def _handles(status: Status) -> list[str]:
    lines = vp.banner("License Usage")
    for index, lic in enumerate(vp.policy_of(status).licenses, start=1):
        lines += [*_handle(index, lic, status), ""]
    return lines


def _remaining(now: datetime, at: datetime) -> str:
    left = int((at - now).total_seconds())
    hours, rest = divmod(max(left, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(hours, "hours"), (minutes, "minutes"), (seconds, "seconds")]
    return ", ".join(f"{n} {unit}" for n, unit in parts if n) or "0 seconds"


def _job(name: str, now: datetime, at: datetime | None) -> str:
    if at is None or at <= now:
        return f"{name}: Expired Not Rescheduled"
    return f"{name}: {ios_time(at)} ({_remaining(now, at)} remaining)"


def _jobs(status: Status) -> list[str]:
    now, u = status.now, vp.policy_of(status).usage_reporting
    return [
        *vp.banner("Upcoming Scheduled Jobs"),
        f"Current time: {ios_time(now)}",
        _job("Daily", now, now + timedelta(days=1)),
        _job("Init Flag Check", now, None),
        _job("Reservation configuration mismatch between nodes in HA mode", now, None),
        _job("Retrieve data processing result", now, u.next_ack_push_check),
        _job("Start Utility Measurements", now, now + timedelta(minutes=15)),
        _job("Send Utility RUM reports", now, u.next_report_push),
        _job("Save unreported RUM Reports", now, now + timedelta(hours=1)),
        _job("Process Utility RUM reports", now, now + timedelta(days=1)),
        _job("Telemetry Reporting", now, None),
        _job("Authorization Code Process", now, None),
        _job("Data Synchronization", now, None),
        _job("External Event", now, now + timedelta(minutes=5)),
        _job("Operational Model", now, now + timedelta(seconds=2)),
        "",
    ]


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
    offline = status.transport.type == "off"
    overall = "Device configured for Offline transport" if offline else "<empty>"
    lines = ["Communication Statistics:", "=" * 23]
    lines += [f"Communication Level Allowed: {level}", f"Overall State: {overall}"]
    for name in MESSAGE_TYPES:
        lines += _comm(name, p.comm_stats.get(name, CommStats()))
    return [*lines, ""]


def _fixed_sections() -> list[str]:
    """Certificates (policy mode installs none: trust codes replace registration
    certificates) and HA roles of a standalone device."""
    return [
        *vp.banner("License Certificates"),
        "Production Cert: True",
        "Not registered. No certificates installed",
        "",
        "HA Info",
        "==========",
        "RP Role: Active",
        "Chassis Role: Active",
        "Behavior Role: Active",
        "RMF: True",
        "CF: True",
        "CF State: Stateless",
        "Message Flow Allowed: True",
        "",
    ]


# The agent's build and capability lines of a production 17.12 image, as printed (real-outputs
# tech support golden_output_14_standalone); they describe the agent, not the device's state.
_AGENT_BUILD = (
    "Locale: en_US.UTF-8",
    "Debug flags: 0x7",
    "Privacy Send Hostname: True",
    "Privacy Send IP: True",
    "Build type:: Production",
    "sizeof(char)  : 1",
    "sizeof(int)   : 4",
    "sizeof(long)  : 4",
    "sizeof(char *): 8",
    "sizeof(time_t): 4",
    "sizeof(size_t): 8",
    "Endian: Big",
    "Write Erase Occurred: False",
    "XOS version: 0.12.0.0",
    "Config Persist Received: True",
    "Message Version: 1.3",
    "connect_info.name: SSM",
    "connect_info.version: 1.3",
    "connect_info.additional: ",
    "connect_info.prod: True",
    "connect_info.capabilities: DLC, AppHA, EXPORT_2, POLICY_USAGE, UTILITY, TELEMETRY, "
    "TELEMETRY_POLICY",
    "agent.capabilities: UTILITY, DLC, AppHA, MULTITIER, EXPORT_2, OK_TRY_AGAIN, POLICY_USAGE, "
    "TELEMETRY, TELEMETRY_POLICY",
    "Check Point Interface: True",
    "Config Management Interface: False",
    "License Map Interface: True",
    "HA Interface: True",
    "Trusted Store Interface: True",
    "Platform Data Interface: True",
    "Crypto Version 2 Interface: False",
    "SAPluginMgmtInterfaceMutex: True",
    "SAPluginMgmtIPDomainName: True",
    "SmartTransportVRFSupport: True",
    "SmartAgentClientWaitForServer: 2000",
    "SmartAgentCmReTrySend: True",
    "SmartAgentClientIsUnified: True",
    "SmartAgentCmClient: True",
    "SmartAgentClientName: UnifiedClient",
    "builtInEncryption: True",
    "enableOnInit: True",
    "routingReadyByEvent: True",
    "systemInitByEvent: True",
    "SmartTransportServerIdCheck: True",
    "SmartTransportProxySupport: True",
    "SmartAgentSLACReturnForcedAllowed: False",
    "SmartAgentComplianceStatus: False",
    "SmartAgentTelemetryRumReportMax: 600",
    "SmartAgentRumTelemetryRumStoreMin: 500",
    "SmartAgentPolicyDisplayFormat: 0",
    "SmartAgentReportOnUpgrade: False",
    "SmartAgentIndividualRUMEncrypt: 2",
    "SmartAgentMaxRumMemory: 50",
    "SmartAgentConcurrentThreadMax: 10",
    "SmartAgentPolicyControllerModel: False",
    "SmartAgentDisableCacheSWID: False",
    "SmartAgentPolicyModel: True",
    "SmartAgentFederalLicense: True",
    "SmartAgentMultiTenant: False",
    "attr365DayEvalSyslog: True",
    "checkPointWriteOnly: False",
    "SmartAgentDelayCertValidation: False",
    "enableByDefault: False",
    "conversionAutomatic: False",
    "conversionAllowed: False",
    "storageEncryptDisable: False",
    "storageLoadUnencryptedDisable: False",
    "TSPluginDisable: False",
    "bypassUDICheck: False",
    "loggingAddTStamp: False",
    "loggingAddTid: True",
    "HighAvailabilityOverrideEvent: UnknownPlatformEvent",
    "platformIndependentOverrideEvent: UnknownPlatformEvent",
    "platformOverrideEvent: SmartAgentSystemDataListChanged",
    "WaitForHaRole: False",
    "standbyIsHot: True",
    "chkPtType: 2",
    "delayCommInit: False",
    "roleByEvent: True",
    "maxTraceLength: 150",
    "traceAlwaysOn: True",
    "debugFlags: 0",
    "Event log max size: 5120 KB",
)


def _trust_line(status: Status) -> list[str]:
    trust = vp.policy_of(status).trust_code
    udi = udi_short(status.udi)
    if trust is None:
        return [f"Local Device: {udi}, state[1], Trust Data NOT INSTALLED", "Overall Trust: No ID"]
    trust_id = int(trust.installed_at.timestamp()) % 10000
    local = f"Local Device: {udi}, state[2], Trust Data INSTALLED  TrustId:{trust_id}"
    return [local, "Overall Trust: INSTALLED (2)"]


def _other_info(status: Status, profile: ProductProfile) -> list[str]:
    p = vp.policy_of(status)
    events = len(p.eventlog)
    return [
        *vp.banner("Other Info"),
        f"Software ID: {profile.software_tag}",
        "Agent State: authorized",
        "TS enable: True",
        f"Transport: {vp.transport_name(status.transport.type)}",
        f"  Default URL: {p.smart_url or status.transport.url or '<empty>'}",
        *_AGENT_BUILD,
        f"Event log current size: {max(1, events // 8)} KB",
        *_trust_line(status),
        "Clock sync-ed with NTP: True",
        "",
    ]


def _mapping_table(status: Status, profile: ProductProfile) -> list[str]:
    """``Platform Provided Mapping Table``: the licenses the platform itself enforces - its
    HSEC key, ``hseck9``, the one entry real tables list (and the only one Genie's schema
    accepts)."""
    enforced = [
        s for s in profile.licenses
        if s.enforcement is not Enforcement.UNENFORCED and s.name == "hseck9"
    ]  # fmt: skip
    lines = [
        *vp.banner("Platform Provided Mapping Table"),
        f"  {status.udi.pid}: Total licenses found: {len(profile.licenses)}",
    ]
    if enforced:
        lines += ["Enforced Licenses:", f"  {udi_short(status.udi)}:"]
        lines += [f"    {s.name}: {s.tag} (3)" for s in enforced]
    return lines


def tech_tail(status: Status, profile: ProductProfile, summary: list[str]) -> list[str]:
    """Everything from ``License Usage`` on; ``summary`` is the report summaries
    (views_reports)."""
    lines = [*_handles(status), *vp.product_sections(status, profile), ""]
    lines += [*_jobs(status), *_communication(status), *_fixed_sections()]
    members = vp.ha_members(status, profile)
    info = views_reservation.reservation_info(status, profile, members)
    lines += ["Reservation Info", "================ ", *info, *summary]
    return [*lines, *_other_info(status, profile), *_mapping_table(status, profile)]
