"""The LoRaWAN gateway's Common Packet Forwarder (second reference document, "Workflow for
Topology: Full Offline Access", step 2, and its sample configuration)::

    Gateway(config)#common-packet-forwarder profile
    Gateway(config-cpf-profile)#ipaddr 172.27.166.121 port 6070
    Gateway(config-cpf-profile)#cpf enable
    By typing 'y' below, I agree that to abide to SMART LICENSING subscription royalty agreement
    with Cisco on this unit
    Do you agree the above statement? [y/n]y
    common-packet-forwarder started successfully

``cpf enable`` starts consuming LORAWAN_CPF; ``show common-packet-forwarder status`` reports
it, with ``License Status: Reported - Yes, Acknowledged - Yes`` from the license manager's
usage reports. Registered only for profiles that have the ``cpf`` feature.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING

from smartlic.agent._policy_status import PolicyModeStatus
from smartlic.agent.shell.device import CPF_FEATURE, Device
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import Confirm, CpfStatusView, Notice, Reply
from smartlic.agent.shell.session import CONFIG, CPF, EXEC
from smartlic.domain.products import ProductProfile
from smartlic.formats.bounds import decimal

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["AGREEMENT", "QUESTION", "STARTED", "cpf_status", "license_reported", "register"]

AGREEMENT = (
    "By typing 'y' below, I agree that to abide to SMART LICENSING subscription royalty agreement",
    "with Cisco on this unit",
)
QUESTION = "Do you agree the above statement? [y/n]"
STARTED = "common-packet-forwarder started successfully"


def _ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _port(text: str) -> bool:
    n = decimal(text)
    return n is not None and 1 <= n <= 65535


def enter_profile(session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = CPF
    return None


def ipaddr(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_cpf_address(args["address"], int(args["port"]))
    return None


def cpf_enable(session: Session, args: Mapping[str, str]) -> Reply:
    device = session.device
    if device.config.cpf_enabled:
        return None

    def answer(text: str) -> Reply:
        if text.lower() not in ("y", "yes"):
            return None
        device.set_cpf(True)
        return Notice((STARTED, ""))

    return Confirm(AGREEMENT, QUESTION, answer)


def no_cpf_enable(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_cpf(False)
    return None


def exit_profile(session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = CONFIG
    return None


def end(session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = EXEC
    return None


def do(session: Session, args: Mapping[str, str]) -> Reply:
    return Notice(tuple(session.run(EXEC, args["command"]).text.splitlines()))


def license_reported(policy: PolicyModeStatus | None, tag: str) -> tuple[bool, bool]:
    """(reported, acknowledged) for ``show common-packet-forwarder status``.

    Reported: a report holding ``tag`` was pushed or written to a file (closed before the
    last push or file write, or acknowledged). Acknowledged: an ACK for one arrived; it stays
    "Yes" while later reports wait for theirs, as the document's gateway shows it after its
    first ACK.
    """
    if policy is None:
        return False, False
    u = policy.usage_reporting
    last = max((t for t in (u.last_report_push, u.last_report_file_write) if t), default=None)
    mine = [r for r in policy.reports if r.metric_value == tag]
    sent = [
        r
        for r in mine
        if r.state == "ACK" or (r.state == "CLOSED" and last is not None and r.start_time <= last)
    ]
    return bool(sent), any(r.state == "ACK" for r in sent)


def cpf_status(device: Device) -> CpfStatusView:
    tag = device.profile.license(device.profile.features[CPF_FEATURE][0][0]).tag
    reported, acked = license_reported(device.manager.status().policy, tag)
    running = device.config.cpf_enabled
    ns = "Successful" if running and device.config.cpf_ipaddr else "Not Registered"
    return CpfStatusView(running, running, ns, reported, acked)


def show_cpf_status(session: Session, args: Mapping[str, str]) -> Reply:
    return cpf_status(session.device)


def register(registry: Registry[Session], profile: ProductProfile) -> None:
    if CPF_FEATURE not in profile.features:
        return
    registry.describe(CONFIG, "common-packet-forwarder", "Common Packet Forwarder")
    text = "Enter the Common Packet Forwarder profile"
    registry.command(CONFIG, "common-packet-forwarder profile", enter_profile, help=text)
    address = Arg("A.B.C.D", "Network server IP address", check=_ipv4)
    port = Arg("<1-65535>", "Network server port", check=_port)
    registry.describe(CPF, "ipaddr", "Network server address")
    registry.command(
        CPF,
        "ipaddr {address} port {port}",
        ipaddr,
        help="Network server port",
        args={"address": address, "port": port},
    )
    registry.describe(CPF, "cpf", "Common Packet Forwarder")
    registry.command(CPF, "cpf enable", cpf_enable, help="Start the Common Packet Forwarder")
    registry.describe(CPF, "no", "Negate a command or set its defaults")
    registry.command(CPF, "no cpf enable", no_cpf_enable, help="Stop the Common Packet Forwarder")
    registry.command(CPF, "exit", exit_profile, help="Exit from the profile")
    registry.command(CPF, "end", end, help="Exit from configure mode")
    command = Arg("LINE", "Exec Command", rest_of_line=True)
    registry.command(
        CPF,
        "do {command}",
        do,
        help="To run exec commands in config mode",
        args={"command": command},
    )
    registry.describe(EXEC, "show common-packet-forwarder", "Common Packet Forwarder")
    registry.command(
        EXEC, "show common-packet-forwarder status", show_cpf_status, help="Status", pipe=True
    )
