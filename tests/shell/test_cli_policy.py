"""``smartlic device --profile ixm``: the gateway through Typer's CliRunner - the agreement
answered by the next command line or by ``--yes``, and the profile fixed at the first start."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.agent.shell.cli import app

runner = CliRunner()

# The document's sample configuration, answered on the line after "cpf enable".
DOC_SESSION = """\
Gateway#configure terminal
Enter configuration commands, one per line.  End with CNTL/Z.
Gateway(config)#common-packet-forwarder profile
Gateway(config-cpf-profile)#ipaddr 172.27.166.121 port 6070
Gateway(config-cpf-profile)#cpf enable
By typing 'y' below, I agree that to abide to SMART LICENSING subscription royalty agreement
with Cisco on this unit
Do you agree the above statement? [y/n]y
common-packet-forwarder started successfully

Gateway(config-cpf-profile)#exit
Gateway(config)#exit
Gateway#show common-packet-forwarder status
Enabled : Yes
Running : Yes
NS Registration : Successful
License Status: Reported - No, Acknowledged - No
"""


@pytest.fixture(autouse=True)
def _own_lab_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTLIC_LAB_CLOCK", str(tmp_path / "lab-clock.json"))


def gateway(state: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    base = ["--state", str(state), "--profile", "ixm", "--sn", "FOC242145DW", "--no-echo"]
    result = runner.invoke(app, [*base, *args], input=stdin)
    return result.exit_code, result.output


def commands(*lines: str) -> list[str]:
    return [arg for line in lines for arg in ("-c", line)]


SETUP = (
    "configure terminal",
    "common-packet-forwarder profile",
    "ipaddr 172.27.166.121 port 6070",
    "cpf enable",
)
AFTER = ("exit", "exit", "show common-packet-forwarder status")


def test_the_documents_sample_configuration(tmp_path: Path) -> None:
    code, out = gateway(tmp_path, "--echo", *commands(*SETUP, "y", *AFTER))
    assert (code, out) == (0, DOC_SESSION)


def test_yes_answers_for_you(tmp_path: Path) -> None:
    code, out = gateway(tmp_path, "--echo", "--yes", *commands(*SETUP, *AFTER))
    assert (code, out) == (0, DOC_SESSION)


def test_without_echo_the_question_is_still_printed(tmp_path: Path) -> None:
    code, out = gateway(tmp_path, stdin="\n".join([*SETUP, "n", *AFTER]) + "\n")
    assert code == 0
    assert "Do you agree the above statement? [y/n]n\n" in out
    assert "Enabled : No\n" in out


def test_the_profile_is_fixed_at_the_first_start(tmp_path: Path) -> None:
    assert gateway(tmp_path, *commands("show license udi")) == (
        0,
        "UDI: PID:IXM-LPWA-900-16-K9,SN:FOC242145DW\n",
    )
    result = runner.invoke(app, ["--state", str(tmp_path), "--profile", "asr903"])
    assert result.exit_code != 0
    assert "--profile cannot change it" in result.output
    result = runner.invoke(app, ["--state", str(tmp_path / "x"), "--profile", "nope"])
    assert result.exit_code != 0 and "unknown profile" in result.output


def test_a_new_default_device_runs_policy_mode(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--state", str(tmp_path), "-c", "show license status"])
    assert result.exit_code == 0
    assert "Smart Licensing Using Policy:\n  Status: ENABLED\n" in result.output


def test_the_identity_file_holds_the_udi_json_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    """The state's identity file is the device protocol's ``{pid, sn}`` (plus the profile);
    one without a serial is refused with the protocol's reason, not a traceback."""
    gateway(tmp_path, *commands("show license udi"))
    path = tmp_path / "identity.json"
    assert (
        path.read_text() == '{"pid": "IXM-LPWA-900-16-K9", "sn": "FOC242145DW", "profile": "ixm"}'
    )
    path.write_text('{"pid": "IXM-LPWA-900-16-K9", "profile": "ixm"}')
    result = runner.invoke(app, ["--state", str(tmp_path), "-c", "show license udi"])
    assert result.exit_code != 0
    assert "udi.sn must be a string of 1-64 characters" in result.output
