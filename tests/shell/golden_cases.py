"""What each golden file in tests/shell/golden/ holds, produced by our own shell: the
document's example device in every view, the gateway in policy mode, two transcripts and the
command references.

Golden files are written only by ``python -m tests.shell.make_golden`` (review the diff, then
commit it with the reason); ``test_golden.py`` compares and never writes. During development
these outputs were compared line by line with real devices' (domain-notes 1.5); the
structural comparison with real outputs is tests/shell/test_fidelity.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from smartlic.agent.shell.cli import open_device
from smartlic.agent.shell.commands import build_registry, command_reference
from smartlic.agent.shell.render import render
from smartlic.agent.shell.repl import run_script
from smartlic.agent.shell.replies import LicenseView, LicenseViewName
from smartlic.agent.shell.session import Session
from smartlic.clock import ManualClock
from smartlic.domain.products import GATEWAY_PROFILE, PROFILES
from tests.conftest import START
from tests.shell.policy_statuses import gateway_cslu, gateway_smart
from tests.shell.statuses import doc_registered

__all__ = ["GOLDEN", "GOLDEN_CASES"]

GOLDEN = Path(__file__).parent / "golden"

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

# Traditional licensing on the 16.x router: a boot level refused at reload without a license,
# run on its evaluation right-to-use once the agreement is accepted; smart mode disabling the
# traditional commands, ``no license smart enable`` bringing them back.
TRADITIONAL_TRANSCRIPT = [
    "show license feature",
    "configure terminal",
    "license boot level advancedmetroipaccess",
    "end",
    "reload",
    "configure terminal",
    "license accept end user agreement",
    "end",
    "reload",
    "lab clock advance 1d",
    "show license",
    "configure terminal",
    "license smart enable",
    "end",
    "license clear advancedmetroipaccess",
    "configure terminal",
    "no license smart enable",
    "end",
    "show license detail",
]

DOC_VIEWS: list[LicenseViewName] = ["status", "summary", "usage", "all", "tech", "udi"]
POLICY_VIEWS: list[LicenseViewName] = [
    "status", "summary", "usage", "all", "tech", "udi",
    "authorization", "rum_all", "history", "eventlog",
]  # fmt: skip


def _doc_view(view: LicenseViewName) -> str:
    return render(LicenseView(view, doc_registered()))


def _policy_view(view: LicenseViewName) -> str:
    """Hand-built policy-mode statuses: the document's gateway on cslu, and on smart with a
    trust code, reports and an authorization code."""
    status = gateway_smart() if view in ("all", "tech", "rum_all", "eventlog") else gateway_cslu()
    return render(LicenseView(view, status))


def _transcript(lines: list[str], failures: int, **options: str) -> str:
    """Run ``lines`` echoed on a fresh device on the suite's clock (2026-01-01 12:00 UTC)."""
    with tempfile.TemporaryDirectory() as tmp:
        device = open_device(Path(tmp) / "dev", clock=ManualClock(START), **options)
        try:
            session = Session(device, build_registry(device.profile), echo=True)
            out: list[str] = []
            found = run_script(session, lines, out.append)
        finally:
            device.close()
    if found != failures:
        raise AssertionError(f"expected {failures} failing line(s), got {found}")
    return "".join(out)


def _reference(*profile: object) -> str:
    registry = build_registry(*profile) if profile else None  # type: ignore[arg-type]
    return "\n".join(command_reference(registry)) + "\n"


GOLDEN_CASES: dict[str, Callable[[], str]] = {
    **{f"doc-registered-{v}.txt": partial(_doc_view, v) for v in DOC_VIEWS},
    **{f"policy-gateway-{v}.txt": partial(_policy_view, v) for v in POLICY_VIEWS},
    # the out-of-range interval at the end fails
    "policy-gateway-offline-transcript.txt": partial(
        _transcript, GATEWAY_TRANSCRIPT, 1, profile="ixm", mode="policy", sn="FOC242145DW"
    ),
    # the misspelt command at the end fails
    "unregistered-transcript.txt": partial(
        _transcript, TRANSCRIPT, 1, sn="FOX1234ABCD", mode="classic"
    ),
    # the traditional command in smart mode fails
    "traditional-transcript.txt": partial(
        _transcript,
        TRADITIONAL_TRANSCRIPT,
        1,
        profile="asr903-16",
        mode="traditional",
        sn="FOX1616TRAD",
    ),
    "command-reference.md": _reference,
    "command-reference-traditional.md": partial(_reference, PROFILES["asr903-16"]),
    "command-reference-gateway.md": partial(_reference, GATEWAY_PROFILE),
}
