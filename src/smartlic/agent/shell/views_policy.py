"""``show license ...`` in Smart Licensing Using Policy format, from ``Status.policy``.

Formats follow the second reference document (the gateway's ``show license status`` and
``show license usage``) and the real C9300 outputs of domain-notes 2.2-2.6 / real-outputs/:
``Reporting push interval: 30  days`` keeps the devices' two spaces; ``0 (no reporting)`` when
the interval is 0; each policy value carries its source, ``(CISCO default)`` or
``(Customer Policy)``. Each function returns a list of lines without trailing newlines.
"""

from __future__ import annotations

from datetime import datetime

from smartlic.agent._policy_status import PolicyLicenseUsage, PolicyModeStatus, UsageReporting
from smartlic.agent._status import Status, TransportStatus
from smartlic.agent.shell.fmt import ios_time, truncate
from smartlic.crypto import Udi
from smartlic.domain.policy import LicenseGroup, Policy
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile

__all__ = [
    "NEWER",
    "NO_USAGE_AUTHORIZATION",
    "account_block",
    "banner",
    "conversion_block",
    "data_conversion",
    "ha_members",
    "ha_udi_list",
    "license_all",
    "license_status",
    "license_summary",
    "license_udi",
    "license_usage",
    "policy_of",
    "product_sections",
    "status_sections",
    "telemetry_summary",
    "transport_name",
    "trust_block",
    "when",
]

# Releases that print the newer lines (domain-notes 2.2: "Newer releases add ... Reporting
# Mode: STANDARD"; real-outputs tech support golden_output_14_standalone, a 2024 17.12 device).
NEWER = (17, 12)
# 17.15 and later print no "License Authorization:" header in ``show license usage``.
NO_USAGE_AUTHORIZATION = (17, 15)

# Group headings exactly as devices print them (domain-notes 2.2).
_GROUP_HEADINGS = (
    (LicenseGroup.UNENFORCED_PERPETUAL, "Unenforced/Non-Export Perpetual Attributes:"),
    (LicenseGroup.UNENFORCED_SUBSCRIPTION, "Unenforced/Non-Export Subscription Attributes:"),
    (LicenseGroup.ENFORCED, "Enforced (Perpetual/Subscription) License Attributes:"),
    (LicenseGroup.EXPORT, "Export (Perpetual/Subscription) License Attributes:"),
)


_TRANSPORT_NAMES = {
    "smart": "Smart",
    "cslu": "cslu",
    "off": "Transport Off",
    "callhome": "Callhome",
    "automatic": "Automatic",
}


def policy_of(status: Status) -> PolicyModeStatus:
    if status.policy is None:
        raise ValueError("not a policy-mode status")
    return status.policy


def when(value: datetime | None) -> str:
    return "<none>" if value is None else ios_time(value)


def banner(title: str) -> list[str]:
    return [title, "=" * len(title)]


def _utility_and_slp(profile: ProductProfile) -> list[str]:
    lines = [
        "Utility:",
        "  Status: DISABLED",
        "",
        "Smart Licensing Using Policy:",
        "  Status: ENABLED",
    ]
    return [*lines, "  Reporting Mode: STANDARD"] if profile.release >= NEWER else lines


def conversion_block() -> list[str]:
    """``License Conversion:`` (every real ``show license all``): smartlic converts nothing
    automatically; conversion of classic registrations is the authority's (data conversion)."""
    return [
        "License Conversion:",
        "  Automatic Conversion Enabled: False",
        "  Last Data Push: <none>",
        "  Last File Export: <none>",
    ]


def data_conversion(status: Status) -> list[str]:
    """``show license data conversion``: smartlic devices convert nothing themselves; a
    classic registration is converted by the authority (the conversion block's values)."""
    return [f"Device: {status.udi}", "  Conversion status: NOT STARTED", *conversion_block()[1:]]


def ha_members(status: Status, profile: ProductProfile) -> list[tuple[str, str]]:
    """``(role, UDI)`` of every stack member, the active first: ``Active``, then ``Standby``
    and ``Member`` for the profile's ``stack_members`` (serials derived from the active's)."""
    sn = status.udi.sn
    members = [("Active", str(status.udi))]
    for index, pid in enumerate(profile.stack_members, start=1):
        role = "Standby" if index == 1 else "Member"
        members.append((role, str(Udi(pid, f"{sn[:-1]}{chr(ord('A') + index)}"))))
    return members


def telemetry_summary() -> list[str]:
    return [
        *banner("Device Telemetry Report Summary:"),
        "Data Channel: AVAILABLE",
        "Reports on disk: 0",
    ]


def account_block(p: PolicyModeStatus) -> list[str]:
    """``Account Information:``, ``<none>`` until an ACK or trust code names the account."""
    account = p.account
    smart = account.smart_account or "<none>"
    if account.smart_account and account.as_of is not None:
        smart = f"{smart} As of {ios_time(account.as_of)}"
    virtual = account.virtual_account or "<none>"
    return ["Account Information:", f"  Smart Account: {smart}", f"  Virtual Account: {virtual}"]


def _privacy() -> list[str]:
    return [
        "Data Privacy:",
        "  Sending Hostname: yes",
        "    Callhome hostname privacy: DISABLED",
        "    Smart Licensing hostname privacy: DISABLED",
        "  Version privacy: DISABLED",
    ]


def _proxy(t: TransportStatus) -> list[str]:
    if t.proxy_address is None and t.proxy_port is None:
        return ["  Proxy:", "    Not Configured"]
    port = "<empty>" if t.proxy_port is None else str(t.proxy_port)
    return [
        "  Proxy:",
        f"    Address: {t.proxy_address or '<empty>'}",
        f"    Port: {port}",
        "    Username: <empty>",
        "    Password: <empty>",
    ]


def _vrf(profile: ProductProfile) -> list[str]:
    if profile.release >= NEWER:
        return ["  Server Identity Check: True", "  VRF: <empty>"]
    return ["  VRF:", "    Not Configured"]


def _transport(t: TransportStatus, p: PolicyModeStatus, profile: ProductProfile) -> list[str]:
    """``Type: cslu`` + ``Cslu address:`` (second document) or ``Type: Smart`` + ``URL:``."""
    if t.type == "cslu":
        lines = ["Transport:", "  Type: cslu", f"  Cslu address: {p.cslu_url or '<empty>'}"]
        return [*lines, *_proxy(t), *_vrf(profile)]
    if t.type == "smart":
        url = p.smart_url or t.url or "<empty>"
        return ["Transport:", "  Type: Smart", f"  URL: {url}", *_proxy(t), *_vrf(profile)]
    return ["Transport:", f"  Type: {transport_name(t.type)}"]


def transport_name(kind: str) -> str:
    """How ``Type:`` names a transport (``Smart``, ``cslu``, ``Callhome``, ``Transport Off``)."""
    return _TRANSPORT_NAMES.get(kind, kind)


def _policy(policy: Policy) -> list[str]:
    suffix = f"({policy.source})"
    if policy.installed_at is not None:
        in_use = f"Installed On {ios_time(policy.installed_at)}"
    else:
        in_use = "Merged from multiple sources."
    lines = ["Policy:", f"  Policy in use: {in_use}"]
    if not policy.is_default:
        lines.append(f"  Policy name: {policy.name}")
    lines.append(f"  Reporting ACK required: {'yes' if policy.ack_required else 'no'} {suffix}")
    for group, heading in _GROUP_HEADINGS:
        attrs = policy.attributes(group)
        lines += [
            f"  {heading}",
            f"    First report requirement (days): {attrs.first_report_days} {suffix}",
            f"    Reporting frequency (days): {attrs.reporting_frequency_days} {suffix}",
            f"    Report on change (days): {attrs.report_on_change_days} {suffix}",
        ]
    return lines


def push_interval(u: UsageReporting) -> str:
    days = u.reporting_push_interval_days
    return "0 (no reporting)" if days == 0 else f"{days}  days"


def _usage_reporting(u: UsageReporting, interval_suffix: str = "") -> list[str]:
    return [
        "Usage Reporting:",
        f"  Last ACK received: {when(u.last_ack_received)}",
        f"  Next ACK deadline: {when(u.next_ack_deadline)}",
        f"  Reporting push interval: {push_interval(u)}{interval_suffix}",
        f"  Next ACK push check: {when(u.next_ack_push_check)}",
        f"  Next report push: {when(u.next_report_push)}",
        f"  Last report push: {when(u.last_report_push)}",
        f"  Last report file write: {when(u.last_report_file_write)}",
    ]


def trust_block(status: Status, profile: ProductProfile) -> list[str]:
    """``Trust Code Installed: <none>``; a standalone device prints the date on that line,
    a stack each member's (real-outputs status golden_output1, tech support 14_standalone)."""
    trust = policy_of(status).trust_code
    if trust is None:
        return ["Trust Code Installed: <none>"]
    installed = ios_time(trust.installed_at)
    if not profile.stack_members:
        return [f"Trust Code Installed: {installed}"]
    lines = ["Trust Code Installed:"]
    for role, udi in ha_members(status, profile):
        lines += [f"  {role}: {udi}", f"    INSTALLED on {installed}"]
    return lines


def _misc() -> list[str]:
    return ["Miscellaneous:", "  Custom Id: <empty>"]


def _alerts(p: PolicyModeStatus) -> list[str]:
    return [f"% {alert}" for alert in p.alerts] + ([""] if p.alerts else [])


def license_status(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license status`` (second reference document, "CSLU Has Access to CSSM";
    real-outputs status golden_output1 and ntc-templates status 4 for the newer lines)."""
    p = policy_of(status)
    lines = [*_alerts(p), *_utility_and_slp(profile), "", *account_block(p), ""]
    lines += [*_privacy(), "", *_transport(status.transport, p, profile), ""]
    lines += [*_policy(p.policy), "", *_misc(), "", *_usage_reporting(p.usage_reporting), ""]
    lines += trust_block(status, profile)
    return [*lines, " ", *telemetry_summary()] if profile.release >= NEWER else lines


def _summary_row(lic: PolicyLicenseUsage) -> str:
    # "network-advantage       (C9300-48 Network Advan...)       1 IN USE" (domain-notes 2.6):
    # the name padded to 24, the parenthesised display name cut to 22 + "...", count in 5.
    tag = f"({truncate(lic.display_name, 25)})"
    return f"  {lic.name:<23} {tag:<30}{lic.count:>5} {lic.status}"


def license_summary(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license summary`` (domain-notes 2.6, real-outputs summary golden_output4)."""
    p = policy_of(status)
    lines = [*account_block(p), "", "License Usage:"]
    if not p.licenses:
        return [*lines, "  No licenses in use"]
    header = f"  {'License':<24}{'Entitlement Tag':<30}Count Status"
    return [*lines, header, "  " + "-" * 77, *(_summary_row(lic) for lic in p.licenses)]


def usage_entry(lic: PolicyLicenseUsage) -> list[str]:
    return [
        f"{lic.name} ({lic.display_name}):",
        f"  Description: {lic.description}",
        f"  Count: {lic.count}",
        f"  Version: {lic.version}",
        f"  Status: {lic.status}",
        f"  Export status: {lic.export_status}",
        f"  Feature Name: {lic.feature_name}",
        f"  Feature Description: {lic.feature_description}",
        f"  Enforcement type: {lic.enforcement_type}",
        f"  License type: {lic.license_type}",
    ]


def usage_entries(licenses: list[PolicyLicenseUsage]) -> list[str]:
    lines: list[str] = []
    for lic in licenses:
        lines += ["", *usage_entry(lic)]
    return lines


def license_usage(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license usage``: ``License Authorization: Status: Not Applicable`` (before
    17.15), then one block per license (second reference document, "CSLU Has No Access to
    CSSM")."""
    p = policy_of(status)
    entries = usage_entries(p.licenses)
    if profile.release >= NO_USAGE_AUTHORIZATION:
        return entries[1:]
    return ["License Authorization:", "  Status: Not Applicable", *entries]


def ha_udi_list(status: Status, profile: ProductProfile, indent: str = "  ") -> list[str]:
    """``HA UDI List:`` of a stack (``show license udi``, ``show license all``)."""
    if not profile.stack_members:
        return []
    members = ha_members(status, profile)
    return ["HA UDI List:", *(f"{indent}{role}:{udi}" for role, udi in members)]


def license_udi(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license udi``: ``UDI: PID:<pid>,SN:<sn>``, and a stack's ``HA UDI List:``
    (real-outputs udi golden_output2)."""
    members = ha_udi_list(status, profile)
    return [f"UDI: {status.udi}", *(["", *members] if members else [])]


def status_sections(status: Status, profile: ProductProfile, *, tech: bool = False) -> list[str]:
    """The ``Smart Licensing Status`` part of ``show license all`` and ``tech support``
    (order of real-outputs tech support golden_output_14_standalone)."""
    p = policy_of(status)
    lines = [*banner("Smart Licensing Status"), "", "Smart Licensing is ENABLED", ""]
    lines += [*conversion_block(), ""] if profile.release >= NEWER else []
    lines += ["Export Authorization Key:", "  Features Authorized:", "    <none>", ""]
    lines += [*_utility_and_slp(profile), "", *account_block(p), ""]
    lines += [*_privacy(), "", *_transport(status.transport, p, profile), "", *_misc(), ""]
    suffix = f" State(4) InPolicy({_in_policy_days(p)})" if tech else ""
    lines += [*_policy(p.policy), "", *_usage_reporting(p.usage_reporting, suffix), ""]
    return [*lines, *trust_block(status, profile), ""]


def _in_policy_days(p: PolicyModeStatus) -> int:
    """The reporting frequency of the policy in force (``InPolicy(60)`` in tech support)."""
    return p.policy.attributes(LicenseGroup.UNENFORCED_SUBSCRIPTION).reporting_frequency_days


def product_sections(status: Status, profile: ProductProfile) -> list[str]:
    members = ha_udi_list(status, profile, indent="    ")
    lines = [*banner("Product Information"), f"UDI: {status.udi}", ""]
    lines += [*members, ""] if members else []
    return [*lines, *banner("Agent Version"), f"Smart Agent for Licensing: {profile.agent_version}"]


def license_all(status: Status, profile: ProductProfile, tail: list[str]) -> list[str]:
    """``show license all`` (order of real-outputs ``show_license_all__golden_output``);
    ``tail`` is the authorizations and report summary sections (views_reports)."""
    p = policy_of(status)
    lines = [*status_sections(status, profile), *banner("License Usage")]
    lines += [*usage_entries(p.licenses), "", *product_sections(status, profile), ""]
    return [*lines, *tail]
