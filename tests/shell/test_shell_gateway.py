"""The second reference document's gateway in the shell, on a real LicenseManager in policy
mode: ``common-packet-forwarder profile``, ``cpf enable`` and its agreement, ``show
common-packet-forwarder status``, ``flash:`` files, and what bad input gets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.commands.gateway import AGREEMENT, QUESTION, STARTED
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.repl import run_interactive
from smartlic.agent.shell.session import Session
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse, genie_parse_unchecked

CAUGHT = "% Invalid input detected at '^' marker."


@pytest.fixture
def gateway(make_device: Callable[..., Device], tmp_path: Path) -> Console:
    device = make_device(tmp_path / "gw", profile="ixm", mode="policy", sn="FOC242145DW")
    return Console(Session(device, build_registry(device.profile), echo=True))


def enable_cpf(gateway: Console, answer: str = "y") -> str:
    gateway("configure terminal", "common-packet-forwarder profile")
    return gateway("ipaddr 172.27.166.121 port 6070", "cpf enable", answer, "end")


def cpf_status(gateway: Console) -> list[str]:
    return gateway("show common-packet-forwarder status").splitlines()


def test_a_new_gateway_runs_policy_mode(gateway: Console) -> None:
    assert gateway.session.prompt == "Gateway#"
    parsed = genie_parse("status", gateway("show license status"))
    assert parsed["smart_licensing_using_policy"] == {"status": "ENABLED"}
    assert parsed["transport"] == {
        "type": "cslu",
        "cslu_address": "<empty>",
        "proxy": "Not Configured",
        "vrf": "Not Configured",
    }
    assert parsed["policy"]["policy_in_use"] == "Merged from multiple sources."
    assert parsed["usage_reporting"]["reporting_push_interval"] == "30  days"
    assert genie_parse("udi", gateway("show license udi"))["udi_details"] == {
        "pid": "IXM-LPWA-900-16-K9",
        "sn": "FOC242145DW",
    }


def test_cpf_enable_asks_then_starts_the_forwarder(gateway: Console) -> None:
    gateway("configure terminal")
    assert gateway("common-packet-forwarder profile") == ""
    assert gateway.session.prompt == "Gateway(config-cpf-profile)#"
    assert gateway("cpf enable") == "".join(f"{line}\n" for line in AGREEMENT)
    assert gateway.session.prompt == QUESTION
    assert gateway("y") == f"{STARTED}\n\n"
    assert gateway.session.prompt == "Gateway(config-cpf-profile)#"
    gateway("exit")
    assert gateway.session.prompt == "Gateway(config)#"
    gateway("end")
    assert cpf_status(gateway) == [
        "Enabled : Yes",
        "Running : Yes",
        "NS Registration : Not Registered",
        "License Status: Reported - No, Acknowledged - No",
    ]
    usage = genie_parse("usage", gateway("show license usage"))["license_name"]
    assert usage["LORAWAN_CPF (LORAWAN_CPF):"]["status"] == "IN USE"
    summary = genie_parse("summary", gateway("show license summary"))["license_usage"]
    assert summary["LORAWAN_CPF"]["count"] == "1"


def test_answering_no_leaves_the_forwarder_stopped(gateway: Console) -> None:
    assert STARTED not in enable_cpf(gateway, "n")
    assert cpf_status(gateway)[:2] == ["Enabled : No", "Running : No"]
    assert "LORAWAN_CPF" not in gateway("show license usage")


def test_running_config_and_no_cpf_enable(gateway: Console) -> None:
    enable_cpf(gateway)
    assert cpf_status(gateway)[2] == "NS Registration : Successful"
    config = gateway("show running-config").splitlines()
    start = config.index("common-packet-forwarder profile")
    assert config[start + 1 : start + 3] == [" ipaddr 172.27.166.121 port 6070", " cpf enable"]
    gateway("configure terminal", "common-packet-forwarder profile", "no cpf enable", "end")
    assert cpf_status(gateway)[0] == "Enabled : No"
    usage = genie_parse("usage", gateway("show license usage")).get("license_name", {})
    assert usage.get("LORAWAN_CPF (LORAWAN_CPF):", {}).get("status") != "IN USE"


def test_global_commands_leave_the_profile(gateway: Console) -> None:
    gateway("configure terminal", "common-packet-forwarder profile")
    gateway("license smart transport off")
    assert gateway.session.prompt == "Gateway(config)#"
    assert "Type: Transport Off" in gateway("do show license status")


def test_save_usage_to_flash_marks_the_license_reported(
    gateway: Console, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    enable_cpf(gateway)
    gateway("configure terminal", "license smart transport off", "end")
    assert gateway("license smart save usage all file flash:report") == ""
    assert (tmp_path / "gw" / "flash" / "report").stat().st_size > 0
    assert cpf_status(gateway)[3] == "License Status: Reported - Yes, Acknowledged - No"
    status = genie_parse("status", gateway("show license status"))
    assert status["usage_reporting"]["last_report_file_write"] != "<none>"
    reports = genie_parse("rum_all", gateway("show license rum id all"))
    states = {r["state"] for r in reports["smart_license_usage_reports"].values()}
    assert "CLOSED" in states
    first = min(reports["smart_license_usage_reports"])
    detail = genie_parse("rum_detail", gateway(f"show license rum id {first} detail"))
    assert detail["report_id"][str(first)]["feature_name"] == "LORAWAN_CPF"
    assert detail["report_id"][str(first)]["udi"]["sn"] == "FOC242145DW"


def test_plain_paths_and_the_import_failure(gateway: Console, tmp_path: Path) -> None:
    target = tmp_path / "usage.txt"
    assert gateway(f"license smart save usage unreported file {target}") == ""
    assert target.exists()
    (tmp_path / "gw" / "flash").mkdir(exist_ok=True)
    (tmp_path / "gw" / "flash" / "junk").write_text("not a licensing file")
    out = gateway.session.execute("license smart import file flash: junk")
    assert out.failed and out.text.startswith("% ")
    out = gateway.session.execute("license smart import flash:../escape")
    assert out.failed and "outside flash:" in out.text


@pytest.mark.parametrize("days", ["0", "3651", "x"])
def test_usage_interval_out_of_range(gateway: Console, days: str) -> None:
    gateway("configure terminal")
    line = f"license smart usage interval {days}"
    out = gateway.session.execute(line)
    caret = " " * (len("Gateway(config)#") + line.index(days)) + "^"
    assert out.failed and out.text == f"{caret}\n{CAUGHT}\n\n"


def test_usage_interval_is_saved(gateway: Console) -> None:
    gateway("configure terminal", "license smart usage interval 7", "end")
    assert "license smart usage interval 7" in gateway("show running-config")


def test_unknown_feature_and_bad_address(gateway: Console) -> None:
    out = gateway.session.execute("license smart authorization request add hseck9 local")
    assert out.failed and CAUGHT in out.text
    gateway("configure terminal", "common-packet-forwarder profile")
    out = gateway.session.execute("ipaddr 300.1.1.1 port 6070")
    assert out.failed and CAUGHT in out.text
    out = gateway.session.execute("ipaddr 10.0.0.1 port 70000")
    assert out.failed and CAUGHT in out.text


def test_unenforced_license_needs_no_code(gateway: Console) -> None:
    out = gateway.session.execute("license smart authorization request add LORAWAN_CPF local")
    assert out.failed and "needs no authorization code" in out.text


def test_policy_only_views_and_eventlog(gateway: Console) -> None:
    assert genie_parse("authorization", gateway("show license authorization"))["status"] == (
        "NOT INSTALLED"
    )
    history = genie_parse("history", gateway("show license history message"))
    assert history["message_history"]["usage_reporting"] == "No past history"
    enable_cpf(gateway)
    log = genie_parse("eventlog", gateway("show license eventlog"))
    assert any("SAEVT_ENDPOINT_USAGE" in e["log_message"] for e in log["event_log"])
    assert genie_parse("all", gateway("show license all"))["agent_version"]
    assert "Communication Statistics:" in gateway("show license tech support")


def test_unknown_report_and_classic_mode(gateway: Console) -> None:
    out = gateway.session.execute("show license rum id 42 detail")
    assert out.failed and out.text == "% Report Id 42 not found\n"
    gateway("configure terminal", "license smart mode classic", "end")
    assert gateway("show license status") == "Smart Licensing is DISABLED\n"
    out = gateway.session.execute("show license rum id all")
    assert out.failed and "Smart Licensing Using Policy" in out.text
    gateway("configure terminal", "license smart mode policy", "end")
    assert "Smart Licensing Using Policy:" in gateway("show license status")


def test_transport_and_urls(gateway: Console) -> None:
    url = "http://172.27.164.116:8182/cslu/v1/pi"
    gateway("configure terminal", "license smart transport cslu", f"license smart url cslu {url}")
    gateway("end")
    parsed = genie_parse("status", gateway("show license status"))
    assert parsed["transport"]["cslu_address"] == url
    gateway("configure terminal", "license smart transport smart")
    gateway("license smart url smart http://127.0.0.1:9/licservice/license", "end")
    parsed = genie_parse("status", gateway("show license status"))
    assert parsed["transport"] == {
        "type": "Smart",
        "url": "http://127.0.0.1:9/licservice/license",
        "proxy": "Not Configured",
        "vrf": "Not Configured",
    }
    gateway("configure terminal", "license smart url default", "end")
    assert "license smart url" not in gateway("show running-config")


def test_missing_and_unwritable_files(gateway: Console) -> None:
    out = gateway.session.execute("license smart import flash:nothere")
    assert out.failed and out.text == "% Error opening flash:nothere (No such file or directory)\n"
    out = gateway.session.execute("license smart save usage all file /nonexistent/dir/report")
    assert out.failed and "% Error opening /nonexistent/dir/report (" in out.text


def test_sync_failure_shows_the_syslog_line(gateway: Console) -> None:
    enable_cpf(gateway)
    gateway("configure terminal", "license smart url cslu http://127.0.0.1:9/cslu/v1/pi", "end")
    out = gateway("license smart sync local")
    assert out.startswith(
        "%SMART_LIC-3-COMM_FAILED: Communications failure with the "
        "Cisco Smart License Utility (CSLU) : "
    )
    tech = genie_parse_unchecked("tech", gateway("show license tech support"))
    assert tech["communication_statistics"]["usage_reporting"]["attempts"] == (
        "Total=1, Success=0, Fail=1"
    )


def test_policy_transports_need_policy_mode(gateway: Console) -> None:
    gateway("configure terminal", "license smart mode classic")
    out = gateway.session.execute("license smart transport cslu")
    assert out.failed and "needs Smart Licensing Using Policy" in out.text


def test_the_question_is_the_interactive_prompt(gateway: Console) -> None:
    session = gateway.session
    typed = iter(["conf t", "common-packet-forwarder profile", "cpf enable", "y", "end", "exit"])
    prompts: list[str] = []
    output: list[str] = []

    def read(prompt: str) -> str:
        prompts.append(prompt)
        return next(typed)

    run_interactive(session, read, output.append)
    assert prompts[3:5] == [QUESTION, "Gateway(config-cpf-profile)#"]
    assert f"{STARTED}\n\n" in output
    assert session.device.config.cpf_enabled


def test_save_usage_selections(gateway: Console, tmp_path: Path) -> None:
    enable_cpf(gateway)
    gateway("lab clock advance 1d")
    reports = genie_parse("rum_all", gateway("show license rum id all"))
    open_id = next(
        i for i, r in reports["smart_license_usage_reports"].items() if r["state"] == "OPEN"
    )
    assert gateway(f"license smart save usage rum-id {open_id} file flash:one") == ""
    assert gateway("license smart save usage days 7 file flash:week") == ""
    assert gateway("license smart save usage unreported file flash:rest") == ""
    flash = tmp_path / "gw" / "flash"
    assert {p.name for p in flash.iterdir()} == {"one", "week", "rest"}
    detail = genie_parse("rum_detail", gateway(f"show license rum id {open_id} detail"))
    assert detail["report_id"][str(open_id)]["state"] == "CLOSED"
    out = gateway.session.execute("license smart save usage rum-id 1 file flash:none")
    assert out.failed and "No unacknowledged report 1" in out.text


@pytest.mark.parametrize(
    "line", ["license smart renew auth", "license smart renew id", "license smart deregister"]
)
def test_classic_commands_in_policy_mode(gateway: Console, line: str) -> None:
    out = gateway.session.execute(line)
    assert out.failed and out.text == (
        f"% {line} is classic Smart Licensing; this device runs Smart Licensing Using Policy "
        "(license smart mode classic to switch)\n"
    )


def test_eventlog_of_the_last_days(gateway: Console) -> None:
    enable_cpf(gateway)
    gateway("lab clock advance 3d")
    gateway.config("common-packet-forwarder profile", "no cpf enable")
    recent = genie_parse("eventlog", gateway("show license eventlog 1"))["event_log"]
    everything = genie_parse("eventlog", gateway("show license eventlog"))["event_log"]
    assert 0 < len(recent) < len(everything)
    assert all(
        'count="0"' in e["log_message"] for e in recent if "ENDPOINT_USAGE" in e["log_message"]
    )
