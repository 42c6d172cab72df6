"""Issue 10, divergence 10: the commands automation and engineers type that the shell lacked -
``show version``'s license lines, ``show call-home smart-licensing``, bare ``show license``,
``show license data conversion|reservation|rum feature``, the ``license smart`` settings,
``write memory``, ``copy running-config startup-config``, ``dir flash:``, ``more flash:``,
``| count``. Outputs with a Genie parser are parsed schema-checked and compared with the real
output's key set (tests/shell/fidelity.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from genie.libs.parser.iosxe.show_platform import ShowVersion

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.commands.system import MORE_LIMIT
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from tests.shell.conftest import Console
from tests.shell.fidelity import real, structure
from tests.shell.genie_parsers import genie_parse

LEVEL = "license boot level network-advantage addon dna-advantage"


@pytest.fixture
def switch(make_device: Callable[..., Device], tmp_path: Path) -> Console:
    device = make_device(tmp_path / "sw", profile="c9300", mode="policy")
    console = Console(Session(device, build_registry(device.profile), assume_yes=True))
    console.config(LEVEL)
    return console


def test_show_version_lists_the_technology_packages_and_the_license_udi(switch: Console) -> None:
    parsed = ShowVersion(device=None).parse(output=switch("show version"))["version"]
    packages = parsed["license_package"]
    assert packages["network-advantage"]["license_type"] == "Smart License"
    assert packages["dna-advantage"]["license_type"] == "Subscription Smart License"
    assert parsed["license_udi"]["device_num"]["*0"] == {"pid": "C9300-24UX", "sn": "FOX1234ABCD"}
    assert parsed["xe_version"] == "17.12.03"  # the profile's release
    assert "Smart Licensing Status: Smart Licensing Using Policy" in switch("show version")


def test_call_home_smart_licensing_matches_the_real_one(switch: Console) -> None:
    reference = real("call_home", "show_call-home_smart-licensing__golden_output")
    assert structure("call_home", switch("show call-home smart-licensing")) == reference
    switch.config("license smart transport callhome")
    parsed = genie_parse("call_home", switch("show call-home smart-licensing"))
    assert parsed["smart_licensing_settings"]["smart_license_messages"] == "enabled"


def test_bare_show_license_is_the_traditional_listing(switch: Console) -> None:
    ours = structure("traditional", switch("show license"))
    reference = real("traditional", "show_license__golden_output1")
    # The real ISR also has a counted license (count_in_use / count_violation); ours has none.
    assert ours == {p for p in reference if "/count_" not in p}
    licenses = genie_parse("traditional", switch("show license"))["licenses"]
    states = {entry["feature"]: entry["license_state"] for entry in licenses.values()}
    assert states["network-advantage"] == "Active, In Use"
    assert states["hseck9"] == "Active, Not in Use"


def test_reservation_conversion_and_rum_feature(switch: Console) -> None:
    reservation = switch("show license reservation")
    assert reservation.startswith("License reservation: DISABLED\n")
    assert "    Reservation status: NOT INSTALLED\n" in reservation
    conversion = switch("show license data conversion")
    assert "  Automatic Conversion Enabled: False\n" in conversion
    switch("lab clock advance 1d")
    table = switch("show license rum feature dna-advantage").splitlines()
    assert table[2] == "Report Id,          State,    Flag, Feature Name"
    assert table[3:] and all(line.endswith("dna-advantage") for line in table[3:])
    detail = switch("show license rum feature dna-advantage detail")
    parsed = genie_parse("rum_detail", detail)["report_id"]
    assert {r["feature_name"] for r in parsed.values()} == {"dna-advantage"}
    assert (
        switch("show license rum feature nothing") == table[0] + "\n" + "\n".join(table[1:3]) + "\n"
    )


def test_license_smart_settings_are_shown_and_kept(switch: Console) -> None:
    switch.config(
        "license smart privacy all",
        "license smart vrf Mgmt-vrf",
        "no license smart server-identity-check",
        "license smart utility",
        "license smart custom_id LAB-7",
        "license smart usage customer-tags tag1 building 7",
        "license smart transport smart",
    )
    config = switch("show running-config | section license")
    for line in ("license smart privacy hostname", "license smart privacy version",
                 "license smart vrf Mgmt-vrf", "no license smart server-identity-check",
                 "license smart utility", "license smart custom_id LAB-7",
                 "license smart usage customer-tags tag1 building 7"):  # fmt: skip
        assert f"{line}\n" in config
    parsed = genie_parse("tech", switch("show license tech support"))["smart_licensing_status"]
    assert parsed["data_privacy"]["sending_hostname"] == "no"
    assert parsed["data_privacy"]["version_privacy"] == "ENABLED"
    assert parsed["transport"]["vrf"] == "Mgmt-vrf"
    assert parsed["transport"]["server_identity_check"] == "False"
    assert parsed["utility"]["status"] == "ENABLED"
    assert parsed["miscellaneous"]["custom_id"] == "LAB-7"
    switch.config("no license smart privacy all", "no license smart custom_id")
    status = genie_parse("status", switch("show license status"))
    assert status["data_privacy"]["sending_hostname"] == "yes"
    assert status["miscellaneous"]["custom_id"] == "<empty>"


def test_write_memory_and_copy_save_the_startup_config(switch: Console) -> None:
    assert switch("show startup-config") == "startup-config is not present\n"
    assert switch("write memory") == "Building configuration...\n[OK]\n"
    startup = switch("show startup-config")
    assert startup.startswith("Using ") and f"{LEVEL}\n" in startup
    switch.config("license smart custom_id LAB-7")
    out = switch("copy running-config startup-config")  # assume_yes answers the question
    assert out.endswith("Building configuration...\n[OK]\n")
    assert "license smart custom_id LAB-7\n" in switch("show startup-config")
    assert switch("show running-config | count license") == (
        "Number of lines which match regexp = 2\n"
    )


def test_dir_and_more_read_flash_only(switch: Console) -> None:
    switch("license smart save usage all file flash:report")
    listing = switch("dir flash:").splitlines()
    assert listing[0] == "Directory of flash:/"
    assert listing[2].split()[1:3][0] == "-rw-" and listing[2].endswith("  report")
    assert listing[-1].endswith(" bytes free)")
    assert switch("more flash:report").startswith("<")  # the saved usage file's XML
    refused = switch.session.execute("more flash:../running-config.json")
    assert refused.failed and "outside flash:" in refused.text
    missing = switch.session.execute("more flash:nothing")
    assert missing.failed and missing.text == (
        "% Error opening flash:nothing (No such file or directory)\n"
    )
    big = switch.session.device.flash_dir / "big"  # type: ignore[operator]
    big.write_bytes(b"x" * (MORE_LIMIT + 10))
    assert switch("more flash:big").endswith(f"% Output cut at {MORE_LIMIT} bytes\n")


def test_sl_infra_shows_what_the_platform_requests(switch: Console) -> None:
    lines = switch("show platform software sl-infra current").splitlines()
    assert "  Boot level: network-advantage addon dna-advantage" in lines
    assert lines[-2:] == ["    network-advantage: 1", "    dna-advantage: 1"]


def test_user_exec_cannot_write_or_read_files(make_device: Callable[..., Device]) -> None:
    session = Session(make_device(), build_registry(), privileged=False)
    for line in ("write memory", "dir flash:", "show startup-config"):
        refused = session.execute(line)
        assert refused.failed and "% Invalid input" in refused.text, line


@pytest.mark.parametrize(
    "line",
    [
        "show license eventlog \u00b2",  # str.isdigit takes a superscript; int refuses it
        "show license eventlog " + "1" * 5000,  # int refuses more than 4300 digits
        "show license eventlog \u0663",  # an Arabic-Indic three is no IOS number
        "license smart usage interval \u00b2",
    ],
)
def test_a_number_argument_takes_ascii_digits_only(switch: Console, line: str) -> None:
    out = switch(line) if line.startswith("show") else switch.config(line)
    assert "% Invalid input detected at '^' marker." in out
    assert "Smart Licensing Status" in switch("show version")  # the session goes on


@pytest.mark.parametrize(
    "duration",
    [str(2**64), "99999999999999999999999d", "5000000000w", "9" * 400, "36526", "\u0663d"],
)
def test_lab_clock_advance_refuses_durations_past_a_century(switch: Console, duration: str) -> None:
    """``lab clock advance 18446744073709551616`` raised OverflowError out of the session
    (timedelta holds no such span; 400 digits are infinity as a float)."""
    before = switch("show clock")
    out = switch(f"lab clock advance {duration}")
    assert "% Invalid input detected at '^' marker." in out
    assert switch("show clock") == before  # the clock did not move, the session goes on
    assert switch("lab clock advance 36525") != before


@pytest.mark.parametrize("value", ["R\udcffX", "R\x00X"], ids=["undecodable-byte", "nul"])
def test_a_line_that_is_no_text_is_invalid_input(switch: Console, value: str) -> None:
    """A byte stdin could not decode (a lone surrogate under surrogateescape) or a NUL in a
    config value was taken, and ``write memory`` then raised UnicodeEncodeError out of the
    session; in a file name it raised ValueError. Now the line is refused where it enters."""
    out = switch.config(f"hostname {value}")
    assert out.count("% Invalid input detected at '^' marker.") == 1
    assert " " * len("hostname R") + "^" in out
    assert "% Invalid input detected" in switch(f"more flash:{value}")
    assert "[OK]" in switch("write memory")
    assert "hostname Switch" in switch("show running-config | include hostname")


def test_a_file_name_longer_than_the_file_system_takes_is_refused(switch: Console) -> None:
    """``more flash:`` and 300 characters raised OSError (ENAMETOOLONG) out of the session."""
    for line in (f"more flash:{'x' * 300}", f"license smart import file flash:{'x' * 300}"):
        out = switch(line)
        assert "% Not a file name" in out, out
    assert "Smart Licensing Status" in switch("show version")  # the session goes on
