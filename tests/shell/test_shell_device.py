"""The shell driving a real LicenseManager: an unregistered device, no authority.

Evaluation counts down only while licenses are in use (YANG ``seconds-left``: "if no licenses
are in use the evaluation period stops counting down", domain-notes 1.2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.config import CONFIG_FILE
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from smartlic.crypto import make_token_text
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse, genie_parse_unchecked

DOC_CONFIG = (
    "license smart enable",
    "license boot level metroipaccess",
    "license feature ptp",
    "license feature atm",
    "license feature upoe",
    "license feature gnss",
    "license feature port",
)


def remaining(console: Console) -> str:
    tech = genie_parse_unchecked("tech", console("show license tech support"))
    value: str = tech["smart_licensing_status"]["miscellaneous"]["evaluation_period_remaining"]
    return value


def test_fresh_device_is_disabled(console: Console) -> None:
    assert console("show license status") == "Smart Licensing is DISABLED\n"
    assert console.session.prompt == "Device#"


def test_modes_and_prompts(console: Console) -> None:
    console("configure terminal")
    assert console.session.prompt == "Device(config)#"
    console("exit")
    assert console.session.prompt == "Device#"
    console("conf t")
    console.session.execute("license smart enable\x1a")  # Ctrl-Z ends configuration mode
    assert console.session.mode == "exec"
    console("conf t", "hostname R1")
    assert console.session.prompt == "R1(config)#"
    console("end")
    assert console.session.prompt == "R1#"


def test_exec_commands_are_not_config_commands(console: Console) -> None:
    outcome = console.session.execute("license boot level metroipaccess")
    assert outcome.failed
    assert "% Invalid input detected at '^' marker." in outcome.text
    console("configure terminal")
    assert console.session.execute("show license summary").failed
    assert console("do show license udi") == "UDI: PID:ASR-903,SN:FOX1234ABCD\n"


def test_feature_atm_unregistered_is_eval_mode(console: Console) -> None:
    console.config("license smart enable", "license smart transport off", "license feature atm")
    summary = console("show license summary")
    assert "  Status: EVAL MODE\n" in summary
    assert genie_parse("summary", summary)["license_usage"] == {
        "atm": {"license": "Device ATM", "entitlement": "atm", "count": "1", "status": "EVAL MODE"}
    }
    assert genie_parse("status", console("show license status"))["transport"] == {
        "type": "Transport Off"
    }
    assert remaining(console) == "90 days, 0 hours, 0 minutes, 0 seconds"


def test_evaluation_counts_down_only_while_in_use(console: Console) -> None:
    console.config("license smart enable", "license smart transport off", "license feature atm")
    assert console("lab clock advance 30d") == "12:00:00.000 UTC Sat Jan 31 2026\n"
    assert remaining(console) == "60 days, 0 hours, 0 minutes, 0 seconds"
    console.config("no license feature atm")
    assert "  Status: No Licenses in Use\n" in console("show license status")
    console("lab clock advance 12h", "lab clock advance 10d")
    assert remaining(console) == "60 days, 0 hours, 0 minutes, 0 seconds"
    console.config("license feature atm")
    console("lab clock advance 59d")
    usage = genie_parse_unchecked("usage", console("show license usage"))
    assert usage["license_authorization"] == {"status": "EVAL MODE"}
    assert remaining(console) == "1 days, 0 hours, 0 minutes, 0 seconds"
    assert "Evaluation Period Remaining: 1 days, 0 hours" in console("sh lic sum | i Remaining")


def test_evaluation_expires(console: Console) -> None:
    console.config("license smart enable", "license smart transport off", "license feature atm")
    console("lab clock advance 91d")
    status = console("show license status")
    assert "  Status: EVAL EXPIRED on Apr 01 12:00:00 2026 UTC\n" in status


def test_default_profile_reproduces_the_document_usage(console: Console) -> None:
    console.config(*DOC_CONFIG)
    rows = genie_parse("summary", console("show license summary"))["license_usage"]
    assert [(tag, row["license"], row["count"]) for tag, row in rows.items()] == [
        ("metroipaccess", "Device METRO IP ACCESS", "1"),
        ("1588", "Device 1588", "1"),
        ("atm", "Device ATM", "1"),
        ("upoe", "Device UPOE", "1"),
        ("gnss", "Device GNSS", "1"),
        ("1GEupgradelicense", "Device 6-1GE PORT L...", "2"),
        ("10GEupgradelicense", "Device 2-10G PORT L...", "2"),
    ]
    usage = genie_parse_unchecked("usage", console("show license usage"))["license_name"]
    assert usage["Device 2-10G PORT LICENSE (10GEupgradelicense):"]["count"] == 2
    parsed_all = genie_parse("all", console("show license all"))
    assert len(parsed_all["license_usage"]["license_name"]) == 7


def test_boot_level_change_swaps_the_license(console: Console) -> None:
    console.config("license smart enable", "license boot level metroipaccess")
    console.config("license boot level advancedmetroipaccess")
    rows = genie_parse("summary", console("show license summary"))["license_usage"]
    assert list(rows) == ["advancedmetroipaccess"]
    console.config("no license boot level advancedmetroipaccess")
    assert console("show license summary").endswith("License Usage:\n  No licenses in use\n")


def test_running_config_and_filters(console: Console) -> None:
    console.config(
        "license smart enable",
        "license feature gnss",
        "license smart transport smart",
        "license smart url http://127.0.0.1:9",
        "license smart proxy address 127.0.0.1",
        "license smart proxy port 3128",
    )
    assert console("show running-config | include license") == (
        "license feature gnss\n"
        "license smart enable\n"
        "license smart transport smart\n"
        "license smart url http://127.0.0.1:9\n"
        "license smart proxy address 127.0.0.1\n"
        "license smart proxy port 3128\n"
    )
    status = console("show license status")
    assert genie_parse("status", status)["transport"]["url"] == "http://127.0.0.1:9"
    assert "    Address: 127.0.0.1\n    Port: 3128\n" in status
    assert console("show license status | section Transport") == (
        "Transport:\n  Type: Smart\n  URL: http://127.0.0.1:9\n  Proxy:\n"
        "    Address: 127.0.0.1\n    Port: 3128\n"
    )
    assert console("sh lic status | begin Export Auth").startswith("Export Authorization Key:\n")
    console.config("no license smart proxy port", "no license smart url")
    console.config("no license smart transport", "no license smart proxy address")
    assert console("show running-config | include smart") == "license smart enable\n"


def test_configuration_persists_and_is_reapplied(
    make_device: Callable[..., Device], tmp_path: Path
) -> None:
    first = Console(Session(make_device(), build_registry()))
    first.config("hostname R1", *DOC_CONFIG)
    before = first("show license summary")
    first.session.device.close()
    assert (tmp_path / "r1" / CONFIG_FILE).exists()

    again = Console(Session(make_device(), build_registry()))
    assert again.session.prompt == "R1#"
    assert again("show license summary") == before
    assert "license feature port\n" in again("show running-config")


def test_refused_operations_fail_with_a_message(console: Console) -> None:
    outcome = console.session.execute("license smart register idtoken abc")
    assert outcome.failed
    assert outcome.text.startswith("% ")
    console.config("license smart enable")
    outcome = console.session.execute("license smart deregister")
    assert outcome.failed and "not registered" in outcome.text


def test_lab_clock_rejects_bad_durations(console: Console) -> None:
    outcome = console.session.execute("lab clock advance soon")
    assert outcome.failed
    assert outcome.text.startswith("                  ^\n")


def test_show_clock(console: Console) -> None:
    assert console("show clock") == "12:00:00.000 UTC Thu Jan 1 2026\n"


def test_do_runs_exec_commands_with_the_caret_in_place(console: Console) -> None:
    console("configure terminal")
    assert console("do show running-config | include hostname") == "hostname Device\n"
    outcome = console.session.execute("do show licnese udi")
    assert outcome.failed
    assert outcome.text.splitlines()[0] == " " * len("do show lic") + "^"
    assert console.session.mode == "config"


def test_no_boot_level_only_removes_the_configured_level(console: Console) -> None:
    console.config("license smart enable", "license boot level metroaccess")
    console.config("no license boot level metroipaccess")
    assert "license boot level metroaccess\n" in console("show running-config")
    console.config("no license boot level metroaccess")
    assert "license boot level" not in console("show running-config")


def test_registration_with_no_authority_answering_is_retried(console: Console) -> None:
    console.config(
        "license smart enable",
        "license smart transport smart",
        "license smart url http://127.0.0.1:9",  # nothing listens on port 9
        "license feature atm",
    )
    outcome = console.session.execute(
        f"license smart register idtoken {make_token_text('00' * 32)}"
    )
    assert outcome.failed
    assert outcome.text.startswith("% ")
    status = console("show license status")
    assert "  Status: UNREGISTERED - REGISTRATION FAILED\n" in status
    assert "  Initial Registration: FAILED on Jan 01 12:00:00 2026 UTC\n" in status
    assert "  Next Registration Attempt: Jan 01 12:15:00 2026 UTC\n" in status
    assert "  Status: EVAL MODE\n" in status


def test_hostname_change_keeps_the_licenses_in_use(console: Console) -> None:
    console.config(*DOC_CONFIG)
    before = genie_parse("summary", console("show license summary"))["license_usage"]
    console.config("hostname R2")
    assert console.session.device.manager.hostname == "R2"
    after = genie_parse("summary", console("show license summary"))["license_usage"]
    assert after == before
