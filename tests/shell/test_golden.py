"""Golden transcripts, produced by our own shell: the document's example device in every view.

Regenerate after an intended format change with ``SMARTLIC_UPDATE_GOLDEN=1`` and review the
diff. During development these outputs were compared line by line with real devices'
(domain-notes 1.5): ``show license status`` and ``show license all`` match the c1000v/CSR1000v
outputs except for whitespace-only lines, and one real quirk we do not copy (an unindented
``Virtual Account:`` line in ``show license all``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from smartlic.agent.shell.commands import build_registry, command_reference
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.render import render
from smartlic.agent.shell.repl import run_script
from smartlic.agent.shell.replies import LicenseView
from smartlic.agent.shell.session import Session
from smartlic.domain.products import GATEWAY_PROFILE
from tests.shell.conftest import Console
from tests.shell.policy_statuses import gateway_cslu, gateway_smart
from tests.shell.statuses import doc_registered

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SMARTLIC_UPDATE_GOLDEN") == "1"

TRANSCRIPT = [
    "configure terminal",
    "license smart enable",
    "license smart transport off",
    "license boot level metroipaccess",
    "license feature ptp",
    "license feature atm",
    "license feature upoe",
    "license feature gnss",
    "license feature port",
    "end",
    "show license summary",
    "lab clock advance 30d",
    "show license usage | include Status|Remaining",
    "show license status",
    "show license all",
    "show license tech support | section Evaluation",
    "show running-config",
    "show licnese summary",
]


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("view", ["status", "summary", "usage", "all", "tech", "udi"])
def test_document_device_views(view: str) -> None:
    check(f"doc-registered-{view}.txt", render(LicenseView(view, doc_registered())))  # type: ignore[arg-type]


POLICY_VIEWS = [
    "status",
    "summary",
    "usage",
    "all",
    "tech",
    "udi",
    "authorization",
    "rum_all",
    "history",
    "eventlog",
]

# The second reference document's full offline workflow, on the gateway in policy mode.
GATEWAY_TRANSCRIPT = [
    "configure terminal",
    "license smart transport off",
    "common-packet-forwarder profile",
    "ipaddr 172.27.166.121 port 6070",
    "cpf enable",
    "y",
    "exit",
    "exit",
    "show common-packet-forwarder status",
    "lab clock advance 3d",
    "license smart save usage all file flash:report",
    "show common-packet-forwarder status",
    "show license usage",
    "show license summary",
    "show license status",
    "show license rum id all",
    "show running-config",
    "configure terminal",
    "license smart usage interval 0",
    "end",
]


@pytest.mark.parametrize("view", POLICY_VIEWS)
def test_policy_gateway_views(view: str) -> None:
    """Hand-built policy-mode statuses: the document's gateway on cslu, and on smart with a
    trust code, reports and an authorization code."""
    status = gateway_smart() if view in ("all", "tech", "rum_all", "eventlog") else gateway_cslu()
    check(f"policy-gateway-{view}.txt", render(LicenseView(view, status)))  # type: ignore[arg-type]


def test_gateway_offline_transcript(make_device: Callable[..., Device], tmp_path: Path) -> None:
    device = make_device(tmp_path / "gw", profile="ixm", mode="policy", sn="FOC242145DW")
    session = Session(device, build_registry(device.profile), echo=True)
    out: list[str] = []
    failures = run_script(session, GATEWAY_TRANSCRIPT, out.append)
    assert failures == 1  # the out-of-range interval at the end
    check("policy-gateway-offline-transcript.txt", "".join(out))


def test_unregistered_device_transcript(console: Console) -> None:
    session = Session(console.session.device, build_registry(), echo=True)
    out: list[str] = []
    failures = run_script(session, TRANSCRIPT, out.append)
    assert failures == 1  # the misspelt command at the end
    check("unregistered-transcript.txt", "".join(out))


def test_command_reference() -> None:
    check("command-reference.md", "\n".join(command_reference()) + "\n")


def test_gateway_command_reference() -> None:
    rows = command_reference(build_registry(GATEWAY_PROFILE))
    check("command-reference-gateway.md", "\n".join(rows) + "\n")
