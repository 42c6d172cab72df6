"""Golden transcripts, produced by our own shell: the document's example device in every view.

Regenerate after an intended format change with ``SMARTLIC_UPDATE_GOLDEN=1`` and review the
diff. During development these outputs were compared line by line with real devices'
(domain-notes 1.5): ``show license status`` and ``show license all`` match the c1000v/CSR1000v
outputs except for whitespace-only lines, and one real quirk we do not copy (an unindented
``Virtual Account:`` line in ``show license all``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smartlic.agent.shell.commands import build_registry, command_reference
from smartlic.agent.shell.render import render
from smartlic.agent.shell.repl import run_script
from smartlic.agent.shell.replies import LicenseView
from smartlic.agent.shell.session import Session
from tests.shell.conftest import Console
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


def test_unregistered_device_transcript(console: Console) -> None:
    session = Session(console.session.device, build_registry(), echo=True)
    out: list[str] = []
    failures = run_script(session, TRANSCRIPT, out.append)
    assert failures == 1  # the misspelt command at the end
    check("unregistered-transcript.txt", "".join(out))


def test_command_reference() -> None:
    check("command-reference.md", "\n".join(command_reference()) + "\n")
