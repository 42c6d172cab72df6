"""docs/cli.md carries the ``--help`` of every command family; this test keeps it current.

Regenerate after changing a command: ``SMARTLIC_UPDATE_DOCS=1 pytest tests/test_cli_docs.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.cli import app


@pytest.fixture(autouse=True)
def _no_authority_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's SMARTLIC_AUTHORITY_* / lab clock must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("SMARTLIC_AUTHORITY_") or name == "SMARTLIC_LAB_CLOCK":
            monkeypatch.delenv(name)


DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
BEGIN, END = "<!-- BEGIN GENERATED HELP -->", "<!-- END GENERATED HELP -->"
COMMANDS = [
    [],
    ["authority"],
    ["authority", "init"],
    ["authority", "serve"],
    ["authority", "demo"],
    ["authority", "db"],
    ["admin"],
    ["admin", "accounts"],
    ["admin", "va"],
    ["admin", "licenses"],
    ["admin", "licenses", "add"],
    ["admin", "tokens"],
    ["admin", "tokens", "create"],
    ["admin", "devices"],
    ["admin", "devices", "list"],
    ["admin", "events"],
    ["admin", "apikey"],
    ["admin", "apikey", "create"],
    ["admin", "api-clients"],
    ["admin", "api-clients", "create"],
    ["lab"],
    ["lab", "advance"],
    ["lab", "fleet"],
    ["lab", "fleet", "up"],
    ["lab", "fleet", "down"],
    ["device", "serve"],
]


def _help(args: list[str]) -> str:
    env = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "SMARTLIC_LAB_CLOCK": ""}
    result = CliRunner().invoke(app, [*args, "--help"], env=env, prog_name="smartlic")
    assert result.exit_code == 0, result.output
    text = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())
    command = " ".join(["smartlic", *args])
    return f"### `{command}`\n\n```text\n$ {command} --help\n{text}\n```\n"


def generated() -> str:
    return "\n".join(_help(args) for args in COMMANDS)


def test_docs_show_the_current_help() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    expected = f"{head}{BEGIN}\n\n{generated()}\n{END}{tail}"
    if os.environ.get("SMARTLIC_UPDATE_DOCS"):
        DOC.write_text(expected)
    assert text == expected, "docs/cli.md is stale: SMARTLIC_UPDATE_DOCS=1 pytest " + __file__
