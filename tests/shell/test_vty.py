"""The virtual terminal line the SSH server runs: keystrokes in, IOS screen text out.

No network here (tests/shell/test_ssh.py and tests/e2e/test_automation_tools.py put SSH and
the real tools in front of it): each test types into a ``Vty`` and reads the screen.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from smartlic.agent.shell.vty import MAX_LINE, MORE, Vty

SECRET = "s3cret"


class Terminal:
    """Types into a Vty the way the SSH server does and keeps the screen (CRLF -> LF)."""

    def __init__(self, session: Session) -> None:
        self.vty = Vty(session)
        self.screen = self.vty.start()

    def type(self, keys: str) -> str:
        before = len(self.screen)
        self.vty.receive(keys)
        while True:
            text, line = self.vty.step()
            self.screen += text
            if line is None:
                break
            self.screen += self.vty.run(line)
        return self.screen[before:].replace("\r\n", "\n")


@pytest.fixture
def term(make_device: Callable[..., Device]) -> Terminal:
    device = make_device()
    session = Session(device, build_registry(), echo=True, privileged=False,
                      enable_secret=lambda typed: typed == SECRET)  # fmt: skip
    return Terminal(session)


def enabled(term: Terminal) -> Terminal:
    term.type(f"enable\r{SECRET}\r")
    assert term.vty.session.prompt == "Device#"
    return term


def test_a_session_starts_in_user_exec_and_enable_takes_the_secret(term: Terminal) -> None:
    assert term.screen == "Device>"
    out = term.type(f"enable\r{SECRET}\r")
    assert out == "enable\nPassword: \nDevice#"  # the secret is not echoed
    assert SECRET not in term.screen


def test_three_wrong_secrets_are_refused(term: Terminal) -> None:
    out = term.type("enable\rguess1\rguess2\rguess3\r")
    assert out == "enable\nPassword: \nPassword: \nPassword: \n% Bad secrets\nDevice>"
    assert term.vty.session.mode == "user"


def test_user_exec_shows_but_does_not_configure(term: Terminal) -> None:
    assert "Smart Licensing is DISABLED" in term.type("show license summary\r")
    refused = term.type("configure terminal\r")
    assert "% Invalid input detected at '^' marker." in refused
    assert "% Invalid input" in term.type("show running-config\r")
    assert term.vty.session.mode == "user"


def test_cr_lf_and_crlf_are_one_enter_each(term: Terminal) -> None:
    out = term.type("terminal length 0\rterminal width 512\nterminal length 0\r\n")
    assert out.count("Device>") == 3
    assert "Invalid" not in out
    assert term.vty.session.width == 512


def test_type_ahead_is_echoed_in_turn_with_each_answer(term: Terminal) -> None:
    enabled(term)
    out = term.type("show clock\rshow license udi\r")
    clock_at, udi_at = out.index("show clock\n"), out.index("show license udi\n")
    assert clock_at < out.index("UTC") < udi_at  # the clock's answer before the next echo


def test_long_output_pages_at_the_terminal_length(term: Terminal) -> None:
    enabled(term)
    term.type("terminal length 5\r")
    out = term.type("show license all\r")
    assert out.endswith(MORE)
    assert out.count("\n") == 1 + 4  # the echo, then length - 1 lines
    one_more = term.type("\r")  # Enter: one line more
    assert one_more.count("\n") == 1 and one_more.endswith(MORE)
    page = term.type(" ")  # Space: the next page
    assert page.count("\n") == 4
    assert term.type("q").endswith("Device#")  # any other key ends the output
    term.type("terminal length 0\r")
    assert MORE not in term.type("show license all\r")


def test_question_mark_answers_at_once_and_keeps_the_line(term: Terminal) -> None:
    enabled(term)
    out = term.type("show license s?")
    assert out == "show license s?\nstatus  summary  \nDevice#show license s"
    assert term.type("ummary\r").startswith("ummary\nSmart Licensing is DISABLED\n")


def test_user_exec_completes_and_helps_with_what_it_may_run(term: Terminal) -> None:
    assert term.type("conf\t") == "conf"  # no configure in user EXEC: nothing added
    term.type("\x03")
    assert term.type("sh\tlic\tsum\t") == "show license summary "
    term.type("\x03")
    assert "  license" in term.type("show ?")


def test_tab_completes_a_unique_keyword(term: Terminal) -> None:
    enabled(term)
    out = term.type("sh\tlic\tsumm\t\r")
    assert out.startswith("show license summary \n")
    assert "Smart Licensing is DISABLED" in out


def test_backspace_arrows_and_ctrl_c_edit_the_line(term: Terminal) -> None:
    enabled(term)
    out = term.type("show clocx\x7fk\x1b[A\x1b[D\r")
    assert out.startswith("show clocx\b \bk\n")
    assert "UTC" in out
    assert term.type("conf t\rhostname R2\x03") == (
        "conf t\nEnter configuration commands, one per line.  End with CNTL/Z.\n"
        "Device(config)#hostname R2^C\nDevice#"
    )
    assert term.vty.session.device.config.hostname == "Device"  # the dropped line did not run


def test_ctrl_z_runs_the_line_and_leaves_configuration_mode(term: Terminal) -> None:
    enabled(term)
    out = term.type("configure terminal\rhostname R2\x1a")
    assert out.endswith("Device(config)#hostname R2^Z\nR2#")


def test_unicon_line_settings_are_accepted(term: Terminal) -> None:
    enabled(term)
    lines = ["configure terminal", "no logging console", "line console 0", "exec-timeout 0",
             "line vty 0 4", "exec-timeout 0 0", "end"]  # fmt: skip
    out = term.type("\r".join(lines) + "\r")
    assert "%" not in out
    assert out.endswith("Device(config-line)#end\nDevice#")


def test_exit_closes_the_line(term: Terminal) -> None:
    term.type("exit\r")
    assert term.vty.closed
    assert term.screen.endswith("Device>exit\r\n")


def test_an_endless_line_stops_growing_and_rings_the_bell(term: Terminal) -> None:
    out = term.type("x" * (MAX_LINE + 100))
    assert out.count("\a") == 100
    assert out.count("x") == MAX_LINE  # only those were taken (and echoed)
    assert "% Invalid input" in term.type("\r")  # the line still runs, as typed so far


def test_show_version_identifies_an_ios_xe_router(term: Terminal) -> None:
    """netmiko's autodetect looks for "Cisco IOS XE Software"; Genie's ShowVersion parses it."""
    from genie.libs.parser.iosxe.show_platform import ShowVersion

    out = term.type("terminal length 0\rshow version\r")
    assert "\nCisco IOS XE Software, Version 17.09.04a\n" in out
    text = out.split("show version\n", 1)[1].rsplit("\n", 1)[0]
    parsed = ShowVersion(device=None).parse(output=text)["version"]
    assert (parsed["os"], parsed["xe_version"], parsed["chassis"]) == (
        "IOS-XE",
        "17.09.04a",
        "ASR-903",
    )
    assert (parsed["hostname"], parsed["chassis_sn"]) == ("Device", "FOX1234ABCD")
    assert parsed["router_operating_mode"] == "Autonomous"  # unicon: not controller-managed
