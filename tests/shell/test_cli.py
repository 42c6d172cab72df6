"""``smartlic device`` through Typer's CliRunner, and the interactive loop without a terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.agent.shell.cli import app
from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.repl import run_interactive
from smartlic.agent.shell.session import Session
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse

runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_lab_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTLIC_LAB_CLOCK", str(tmp_path / "lab-clock.json"))


def device(state: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """The output alone (``--no-echo``); transcripts are tested on their own."""
    base = ["--state", str(state), "--sn", "FOX1234ABCD", "--mode", "classic", "--no-echo"]
    result = runner.invoke(app, [*base, *args], input=stdin)
    return result.exit_code, result.output


def commands(*lines: str) -> list[str]:
    return [arg for line in lines for arg in ("-c", line)]


def test_show_license_summary_from_options(tmp_path: Path) -> None:
    code, out = device(tmp_path, *commands("show license summary"))
    assert (code, out) == (0, "Smart Licensing is DISABLED\n")


def test_configuration_persists_between_invocations(tmp_path: Path) -> None:
    setup = commands("configure terminal", "license smart enable", "license feature atm", "end")
    code, _ = device(tmp_path, *setup)
    assert code == 0
    code, out = device(tmp_path, *commands("show license summary"))
    assert code == 0
    assert genie_parse("summary", out)["license_usage"]["atm"]["status"] == "EVAL MODE"
    code, out = device(tmp_path, *commands("show running-config | include license"))
    assert out == "license feature atm\nlicense smart enable\n"


def test_commands_from_stdin_and_a_failing_command_exits_non_zero(tmp_path: Path) -> None:
    code, out = device(tmp_path, stdin="show license udi\nshow licnese udi\n")
    assert code == 1
    assert out == (
        "UDI: PID:ASR-903,SN:FOX1234ABCD\n        ^\n% Invalid input detected at '^' marker.\n\n"
    )


def test_echo_prints_prompts_and_aligns_the_caret(tmp_path: Path) -> None:
    code, out = device(tmp_path, "--echo", "--hostname", "R1", *commands("show clokc"))
    assert code == 1
    first, caret = out.splitlines()[:2]
    assert first == "R1#show clokc"
    assert caret.index("^") == first.index("k")


def test_commands_run_with_c_read_as_a_transcript(tmp_path: Path) -> None:
    """Issue 10: ``-c`` echoes each command after its prompt, so the caret points at it."""
    result = runner.invoke(app, ["--state", str(tmp_path), "-c", "show license udi",
                                 "-c", "sh lisense udi"])  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "Device#show license udi"
    assert lines[1].startswith("UDI: PID:ASR-903,SN:")
    assert lines[2] == "Device#sh lisense udi"
    assert lines[3].index("^") == len("Device#sh li")  # under the "s" no keyword has


def test_lab_clock_moves_evaluation_across_invocations(tmp_path: Path) -> None:
    device(tmp_path, *commands("conf t", "license smart enable", "license feature atm", "end"))
    code, out = device(tmp_path, *commands("lab clock advance 30d"))
    assert code == 0
    _, out = device(tmp_path, *commands("show license summary | include Remaining"))
    pattern = (
        r"Evaluation Period Remaining: (59 days, 23 hours, 59 minutes|60 days, 0 hours, 0 minutes)"
    )
    assert re.search(pattern, out), out


def test_authority_option_configures_the_smart_transport(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"
    code, out = device(tmp_path, "--authority", url, *commands("show running-config | i smart"))
    assert code == 0
    assert out == f"license smart transport smart\nlicense smart url {url}\n"


def test_interactive_loop_without_a_terminal(console: Console) -> None:
    session = Session(console.session.device, build_registry(), echo=True)
    typed = iter(["conf t", "hostname R9", "show clock", "end", "show license ?", "exit", "never"])
    prompts: list[str] = []
    output: list[str] = []

    def read(prompt: str) -> str:
        prompts.append(prompt)
        return next(typed)

    run_interactive(session, read, output.append)
    assert prompts == ["Device#", "Device(config)#", "R9(config)#", "R9(config)#", "R9#", "R9#"]
    text = "".join(output)
    caret = " " * len("R9(config)#") + "^\n% Invalid input detected at '^' marker.\n\n"
    assert caret in output  # under the "s" of "show": exec commands need "do" in config mode
    assert "  summary        Show license summary\n" in text
    assert session.closed


def test_interactive_end_of_input_leaves_config_mode_then_exits(console: Console) -> None:
    session = Session(console.session.device, build_registry(), echo=True)
    typed = iter(["configure terminal"])

    def read(prompt: str) -> str:
        for line in typed:
            return line
        raise EOFError

    run_interactive(session, read, lambda _: None)
    assert session.mode == "exec"


def test_the_udi_is_fixed_at_the_first_start(tmp_path: Path) -> None:
    assert device(tmp_path, *commands("show license udi"))[1] == "UDI: PID:ASR-903,SN:FOX1234ABCD\n"
    result = runner.invoke(app, ["--state", str(tmp_path), "--no-echo", "-c", "show license udi"])
    assert result.output == "UDI: PID:ASR-903,SN:FOX1234ABCD\n"
    result = runner.invoke(app, ["--state", str(tmp_path), "--sn", "OTHER", "-c", "show clock"])
    assert result.exit_code == 2
    assert "belongs to PID:ASR-903,SN:FOX1234ABCD" in result.output
