"""docs/cli.md carries the ``--help`` of every command family; this test keeps it current.

Every command is there: the list is walked from the Click tree. Regenerate after changing a
command with ``python -m tests.make_cli_docs`` (the test never writes the file it checks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import typer
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


def every_command(group: Any = None, path: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command and group of ``smartlic``, walked from the Click tree (nothing left out).
    (Typer carries its own copy of Click, so groups are recognised by what they do.)"""
    group = group or typer.main.get_command(app)
    context = group.context_class(group)
    found: list[list[str]] = [list(path)]
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        if hasattr(command, "list_commands"):
            found += every_command(command, (*path, name))
        else:
            found.append([*path, name])
    return found


def _help(args: list[str]) -> str:
    env = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "SMARTLIC_LAB_CLOCK": ""}
    result = CliRunner().invoke(app, [*args, "--help"], env=env, prog_name="smartlic")
    assert result.exit_code == 0, result.output
    text = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())
    command = " ".join(["smartlic", *args])
    return f"### `{command}`\n\n```text\n$ {command} --help\n{text}\n```\n"


def generated() -> str:
    return "\n".join(_help(args) for args in every_command())


def test_docs_show_the_current_help() -> None:
    text = DOC.read_text()
    assert text == expected(), "docs/cli.md is stale: run python -m tests.make_cli_docs"


def expected() -> str:
    """docs/cli.md with its generated part made anew (``python -m tests.make_cli_docs``)."""
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{generated()}\n{END}{tail}"
