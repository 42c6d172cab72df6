"""``show license ...`` text from a ``Status`` snapshot, in classic Smart Licensing format.

Formats follow the first reference document ("Verify Smart Licensing Configuration") and the
real classic outputs in domain-notes 1.5 (``show license status`` of a CSR1000v and a c1000v,
``show license all`` of a CSR1000v). Where they differ, real devices win: e.g. real devices
print ``Export-Controlled Functionality: ALLOWED`` where the document shows ``Allowed``, and
``Export status:`` under each license in use, which the document's example leaves out.
Each function returns a list of lines without trailing newlines.
"""

from __future__ import annotations

from datetime import datetime

from smartlic.agent._status import (
    Attempt,
    AuthorizationStatus,
    LicenseUsage,
    RegistrationStatus,
    Status,
    TransportStatus,
)
from smartlic.agent.shell import views_reservation, views_traditional
from smartlic.agent.shell.fmt import ios_duration, ios_time, truncate
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile

__all__ = [
    "license_all",
    "license_status",
    "license_summary",
    "license_tech_support",
    "license_traditional",
    "license_udi",
    "license_usage",
]

# States whose block carries the communication times (YANG ``authorization-authorized`` and
# ``authorization-out-of-compliance`` containers, domain-notes 1.2).
_COMMUNICATING = {
    AuthorizationState.AUTHORIZED,
    AuthorizationState.OUT_OF_COMPLIANCE,
    AuthorizationState.AUTHORIZATION_EXPIRED,
    AuthorizationState.GRACE_EXPIRED,
}

_TRANSPORT_NAMES = {
    "smart": "Smart",
    "callhome": "Callhome",
    "off": "Transport Off",
    "cslu": "cslu",
}


def _enabled_line(status: Status) -> str:
    return f"Smart Licensing is {'ENABLED' if status.enabled else 'DISABLED'}"


def _attempt(attempt: Attempt | None, *, with_time: bool = True) -> list[str]:
    """``SUCCEEDED on <time>`` / ``FAILED on <time>`` and its ``Failure reason:`` line."""
    if attempt is None:
        return ["None"]
    word = "SUCCEEDED" if attempt.succeeded else "FAILED"
    first = f"{word} on {ios_time(attempt.at)}" if with_time else word
    if attempt.succeeded or not attempt.failure_reason or not with_time:
        return [first]
    return [first, f"    Failure reason: {attempt.failure_reason}"]


def _field(label: str, attempt: Attempt | None, *, with_time: bool = True) -> list[str]:
    first, *rest = _attempt(attempt, with_time=with_time)
    return [f"  {label}: {first}", *rest]


def _when(label: str, value: datetime | None) -> str:
    return f"  {label}: {'None' if value is None else ios_time(value)}"


def _export(reg: RegistrationStatus) -> str:
    allowed = "ALLOWED" if reg.export_controlled_allowed else "NOT ALLOWED"
    return f"  Export-Controlled Functionality: {allowed}"


def _registration_status_word(reg: RegistrationStatus) -> str:
    # Renderings for in-progress and failed registration: domain-notes 1.1 [INF], mapped 1:1
    # onto the YANG registration-state enum.
    return {
        RegistrationState.UNREGISTERED: "UNREGISTERED",
        RegistrationState.IN_PROGRESS: "REGISTERING - REGISTRATION IN PROGRESS",
        RegistrationState.REGISTERED: "REGISTERED",
        RegistrationState.RETRY: "UNREGISTERED - REGISTRATION FAILED",
        RegistrationState.FAILED: "UNREGISTERED - REGISTRATION FAILED",
    }[reg.state]


def _registration(reg: RegistrationStatus, *, summary: bool = False) -> list[str]:
    if reg.reservation is not None:  # domain-notes 1.1: "REGISTERED - SPECIFIC LICENSE ..."
        word = f"REGISTERED - {reg.reservation} LICENSE RESERVATION"
        return ["Registration:", f"  Status: {word}", _export(reg)]
    lines = ["Registration:", f"  Status: {_registration_status_word(reg)}"]
    if reg.state is not RegistrationState.REGISTERED:
        lines.append(_export(reg))
        if reg.initial_registration is not None:
            lines += _field("Initial Registration", reg.initial_registration)
        if reg.next_retry is not None:
            lines.append(_when("Next Registration Attempt", reg.next_retry))
        return lines
    lines += [f"  Smart Account: {reg.smart_account or '<none>'}"]
    lines += [f"  Virtual Account: {reg.virtual_account or '<none>'}", _export(reg)]
    if not summary:
        lines += _field("Initial Registration", reg.initial_registration)
    lines += _field("Last Renewal Attempt", reg.last_renewal_attempt, with_time=not summary)
    lines.append(_when("Next Renewal Attempt", reg.next_renewal_attempt))
    if not summary:
        lines.append(_when("Registration Expires", reg.registration_expires))
    return lines


def _authorization_status(auth: AuthorizationStatus, *, with_time: bool) -> str:
    word = auth.state.value
    if auth.state is AuthorizationState.EVAL_EXPIRED and auth.evaluation_expired_at and with_time:
        return f"{word} on {ios_time(auth.evaluation_expired_at)}"
    reserved = auth.state is AuthorizationState.AUTHORIZED_RESERVED
    if (auth.state in _COMMUNICATING or reserved) and auth.state_since and with_time:
        return f"{word} on {ios_time(auth.state_since)}"
    return word


def _authorization(auth: AuthorizationStatus, *, summary: bool = False) -> list[str]:
    # "License Authorization: " keeps the trailing space real devices print (domain-notes 1.5).
    status = _authorization_status(auth, with_time=not summary)
    lines = ["License Authorization: ", f"  Status: {status}"]
    if auth.state is AuthorizationState.EVAL:
        remaining = ios_duration(auth.evaluation_remaining)
        return [*lines, f"  Evaluation Period Remaining: {remaining}"]
    if auth.state not in _COMMUNICATING:
        return lines
    last = auth.last_communication_attempt
    lines += _field("Last Communication Attempt", last, with_time=not summary)
    lines.append(_when("Next Communication Attempt", auth.next_communication_attempt))
    if not summary:
        lines.append(_when("Communication Deadline", auth.communication_deadline))
    # The manager always knows when the grace period would end; it matters only once the
    # authorization has expired (MIB: grace period after authorization expiry, domain-notes 1.3).
    expired = auth.state is AuthorizationState.AUTHORIZATION_EXPIRED
    if expired and auth.grace_expires is not None and not summary:
        lines.append(_when("Grace Period Expires", auth.grace_expires))
    return lines


def _transport(t: TransportStatus) -> list[str]:
    lines = ["Transport:", f"  Type: {_TRANSPORT_NAMES.get(t.type, t.type)}"]
    if t.type == "off":
        return lines
    if t.type != "smart":
        # Callhome sends through the call-home profile's destination, which real devices do
        # not print here (real-outputs classic status golden_output2: "Type: Callhome" only).
        return lines
    if t.url:
        lines.append(f"  URL: {t.url}")
    if t.proxy_address is None and t.proxy_port is None:
        return [*lines, "  Proxy:", "    Not Configured"]
    port = "<empty>" if t.proxy_port is None else str(t.proxy_port)
    return [*lines, "  Proxy:", f"    Address: {t.proxy_address or '<empty>'}", f"    Port: {port}"]


def _fixed_blocks() -> list[str]:
    """Blocks the classic agent always prints; smartlic has no utility or privacy settings."""
    return [
        "Utility:",
        "  Status: DISABLED",
        "",
        "Data Privacy:",
        "  Sending Hostname: yes",
        "    Callhome hostname privacy: DISABLED",
        "    Smart Licensing hostname privacy: DISABLED",
        "  Version privacy: DISABLED",
    ]


def _export_key() -> list[str]:
    return ["Export Authorization Key:", "  Features Authorized:", "    <none>"]


def _integrity(status: Status) -> list[str]:
    if status.state_integrity_error is None:
        return []
    return [f"% License state failed its integrity check: {status.state_integrity_error}", ""]


def license_status(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license status`` (order of domain-notes 1.5, S4 and S1 golden_output2)."""
    lines = [*_integrity(status), _enabled_line(status)]
    if not status.enabled:
        return lines
    lines += ["", *_fixed_blocks(), "", *_transport(status.transport), ""]
    # No "Miscellaneous:" block: the real classic outputs end at Export Authorization Key
    # (real-outputs status golden_output2, a c1000v, and ntc-templates status 1); with it,
    # Genie's ShowLicenseStatus resets its section state there and loses the Transport block.
    lines += [*_registration(status.registration), "", *_authorization(status.authorization), ""]
    return [*lines, *_export_key()]


_MISC = ("Miscellaneous:", "  Custom Id: <empty>")


def _summary_row(lic: LicenseUsage) -> str:
    # Column widths and truncation of the real table: "Device 6-1GE PORT L..." (22 wide),
    # the tag in parentheses padded to 30, the count right-aligned in 5 (S1 summary outputs).
    name = truncate(lic.display_name, 22)
    tag = f"({truncate(lic.name, 25)})"
    return f"  {name:<24}{tag:<30}{lic.count:>5} {lic.status}"


def _summary_usage(licenses: list[LicenseUsage]) -> list[str]:
    lines = ["License Usage:"]
    if not licenses:
        return [*lines, "  No licenses in use"]
    header = f"  {'License':<24}{'Entitlement tag':<30}Count Status"
    return [*lines, header, "  " + "-" * 77, *(_summary_row(lic) for lic in licenses)]


def license_summary(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license summary`` (first reference document, step 6)."""
    lines = [*_integrity(status), _enabled_line(status)]
    if not status.enabled:
        return lines
    lines += ["", *_registration(status.registration, summary=True), ""]
    lines += [*_authorization(status.authorization, summary=True), ""]
    return [*lines, *_summary_usage(status.licenses)]


def _usage_entry(lic: LicenseUsage) -> list[str]:
    return [
        f"{lic.display_name} ({lic.name}):",
        f"  Description: {lic.description}",
        f"  Count: {lic.count}",
        f"  Version: {lic.version}",
        f"  Status: {lic.status}",
        f"  Export status: {lic.export_status}",
    ]


def _usage_entries(licenses: list[LicenseUsage]) -> list[str]:
    lines: list[str] = []
    for lic in licenses:
        lines += [*_usage_entry(lic), ""]
    return lines[:-1]


def license_usage(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license usage`` (first reference document, step 5)."""
    auth = _authorization(status.authorization)
    keep = len(auth) if status.authorization.state is AuthorizationState.EVAL else 2
    lines = [*_integrity(status), *auth[:keep]]
    if not status.licenses:
        return lines
    return [*lines, "", *_usage_entries(status.licenses)]


def _banner(title: str, underline: int | None = None) -> list[str]:
    return [title, "=" * (underline or len(title))]


def _status_blocks(status: Status, *, misc: bool = False) -> list[str]:
    lines = [*_registration(status.registration), "", *_authorization(status.authorization)]
    lines += ["", *_export_key(), "", *_fixed_blocks(), "", *_transport(status.transport)]
    return [*lines, "", *_MISC] if misc else lines


def _usage_section(status: Status) -> list[str]:
    body = _usage_entries(status.licenses) if status.licenses else ["No licenses in use"]
    return [*_banner("License Usage", 14), "", *body]


def _tail_sections(status: Status, profile: ProductProfile) -> list[str]:
    lines = ["", *_banner("Product Information"), f"UDI: {status.udi}"]
    lines += ["", *_banner("Agent Version"), f"Smart Agent for Licensing: {profile.agent_version}"]
    lines += ["", *_banner("Reservation Info")]
    if status.reservation is None or not status.reservation.enabled:
        return [*lines, views_reservation.enabled_line(status)]
    return [*lines, *views_reservation.reservation_info(status, profile)[:-1]]


def license_all(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license all`` (order of S1 ``ShowLicenseAll/golden_output_3``); a device with
    traditional licenses adds the ``License Conversion:`` block (``views_traditional``)."""
    lines = [*_integrity(status), *_banner("Smart Licensing Status"), ""]
    lines.append(_enabled_line(status))
    if status.enabled:
        lines += ["", *_status_blocks(status), "", *_usage_section(status)]
    if status.conversion is not None:
        lines += ["", *views_traditional.conversion_block(status)]
    return [*lines, *_tail_sections(status, profile)]


def _evaluation_block(auth: AuthorizationStatus) -> list[str]:
    mode = "In Use" if auth.evaluation_in_use else "Not In Use"
    remaining = ios_duration(auth.evaluation_remaining)
    return [
        "Evaluation Period:",
        f"  Evaluation Mode: {mode}",
        f"  Evaluation Period Remaining: {remaining}",
    ]


def license_tech_support(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license tech support``: the document's step 4 adds the evaluation period."""
    lines = ["Smart Licensing Tech Support info", "", *_banner("Smart Licensing Status"), ""]
    lines += [*_integrity(status), _enabled_line(status), ""]
    if status.enabled:
        lines += [*_status_blocks(status, misc=True), ""]
        lines += [*_evaluation_block(status.authorization), ""]
        lines += [*_usage_section(status)]
    return [*lines, *_tail_sections(status, profile)]


def license_traditional(status: Status, profile: ProductProfile) -> list[str]:
    """Bare ``show license``: the traditional (pre-smart) listing of every license the
    platform knows, in use or not (real-outputs show_license golden_output1, an ISR)."""
    in_use = {lic.name for lic in status.licenses if lic.count}
    in_use |= {lic.name for lic in (status.policy.licenses if status.policy else []) if lic.count}
    lines: list[str] = []
    for index, spec in enumerate(profile.licenses, start=1):
        used = spec.name in in_use
        lines += [
            f"Index {index} Feature: {spec.name:<32}",
            f"        Period left: {'Life time' if used else 'Not Activated'}",
            *([] if used else ["        Period Used: 0  minute  0  second"]),
            f"        License Type: {'Permanent' if used else 'EvalRightToUse'}",
            f"        License State: {'Active, In Use' if used else 'Active, Not in Use'}",
            "        License Count: Non-Counted",
            f"        License Priority: {'Medium' if used else 'None'}",
        ]
    return lines


def license_udi(status: Status, profile: ProductProfile = DEFAULT_PROFILE) -> list[str]:
    """``show license udi``: ``UDI: PID:<pid>,SN:<sn>``; 16.x routers print the ``SlotID``
    table instead (real-outputs udi golden_output1, an ASR1006)."""
    if profile.release >= (17, 0):
        return [f"UDI: {status.udi}"]
    pid, sn = status.udi.pid, status.udi.sn
    return [
        "SlotID   PID    \t\tSN      \t\tUDI",
        "-" * 80,
        f"*\t {pid:<22}{sn:<16}{pid}:{sn}",
    ]
