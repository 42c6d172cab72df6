"""Traditional (node-locked) licensing on the 16.x ASR-903 against a live authority on
loopback: license files signed with the authority's key, installed with ``license install``,
a boot level enforced at ``reload``, ``show license`` read back by Genie's ``ShowLicense``;
smart mode disabling the traditional commands; device-led conversion reported to the
authority once and shown by ``show license all`` / ``show license data conversion``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from smartlic.crypto import Udi
from smartlic.domain.products import PROFILES
from smartlic.formats.envelope import seal
from smartlic.formats.license_file import license_payload, new_serial, write_license_file
from tests.authority.api.conftest import LiveAuthority, live_authority  # noqa: F401 - fixture
from tests.authority.api.helpers import build_world, create_token, pool_line
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse

pytestmark = pytest.mark.e2e

SN = "FOX1616TRAD"
UDI = Udi("ASR-903", SN)
LEVEL = "metroipaccess"
SMART_MODE = "% Traditional licensing commands are disabled: Smart Licensing is enabled\n"


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "authority.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def api(live_authority: LiveAuthority) -> httpx.Client:  # noqa: F811
    client = live_authority.client()
    build_world(client, prod=1, spare=1)
    return client


@pytest.fixture
def device(
    live_authority: LiveAuthority,  # noqa: F811
    make_device: Callable[..., Device],
) -> Device:
    made = make_device(
        sn=SN,
        profile="asr903-16",
        mode="traditional",
        authority=live_authority.url,
        authority_ca=live_authority.keys.ca_pem,
    )
    assert made.flash_dir is not None
    made.flash_dir.mkdir(exist_ok=True)
    return made


@pytest.fixture
def router(device: Device) -> Console:
    return Console(Session(device, build_registry(PROFILES["asr903-16"])))


def issue(
    authority: LiveAuthority,
    device: Device,
    name: str,
    feature: str = LEVEL,
    *,
    udi: Udi = UDI,
    eval_days: int | None = None,
    count: int | None = None,
) -> bytes:
    """A license file signed by the live authority's key, written to the device's flash."""
    payload = license_payload(
        udi,
        feature,
        count=count,
        eval_days=eval_days,
        serial=new_serial(),
        now=authority.clock.now(),
    )
    data = write_license_file(seal(payload, authority.keys.signer, with_certificate=True))
    assert device.flash_dir is not None
    (device.flash_dir / name).write_bytes(data)
    return data


def feature_entries(router: Console, feature: str) -> list[dict[str, Any]]:
    parsed = genie_parse("traditional", router("show license"))
    return [e for e in parsed["licenses"].values() if e["feature"] == feature]


def test_a_boot_level_without_a_license_is_refused_at_reload_and_runs_once_installed(
    live_authority: LiveAuthority,  # noqa: F811
    device: Device,
    router: Console,
) -> None:
    assert device.traditional_mode
    [rtu] = feature_entries(router, LEVEL)
    assert rtu["period_left"] == "Not Activated" and rtu["license_type"] == "EvalRightToUse"
    assert rtu["license_state"] == "Active, Not in Use, EULA not accepted"

    notice = router.config(f"license boot level {LEVEL}")
    assert "take effect on next boot" in notice
    refused = router("reload")
    assert f"License boot level {LEVEL} refused at reload" in refused
    assert device.running_boot_level is None

    issue(live_authority, device, "metro.lic")
    out = router("license install flash:metro.lic")
    assert 'Installing licenses from "flash:metro.lic"' in out
    assert f"Installing...Feature:{LEVEL}...Successful:Supported" in out
    assert "1/1 licenses were successfully installed" in out
    assert "Next reboot level = metroipaccess and License = metroipaccess" in router("reload")
    assert device.running_boot_level == LEVEL

    permanent, builtin = feature_entries(router, LEVEL)
    assert permanent == {
        "feature": LEVEL,
        "period_left": "Life time",
        "license_type": "Permanent",
        "license_state": "Active, In Use",
        "count": "Non-Counted",
        "license_priority": "Medium",
    }
    assert builtin["license_state"] == "Active, Not in Use, EULA not accepted"
    assert "Store Name: Primary License Storage" in router("show license detail")
    assert f"{LEVEL:<25}yes" in router("show license feature")


def test_refused_files_change_nothing(
    live_authority: LiveAuthority,  # noqa: F811
    device: Device,
    router: Console,
) -> None:
    issue(live_authority, device, "other.lic", udi=Udi("ASR-903", "FOXELSEWHERE"))
    data = issue(live_authority, device, "tampered.lic", eval_days=30)
    assert device.flash_dir is not None
    (device.flash_dir / "tampered.lic").write_bytes(data.replace(b"<period>30<", b"<period>90<"))
    issue(live_authority, device, "short.lic", eval_days=1)
    before = router("show license file")
    live_authority.clock.advance(days=2)

    assert "(wrong-device)." in router("license install flash:other.lic")
    assert "% The license file was altered (tampered).\n" in router(
        "license install flash:tampered.lic"
    )
    assert "(expired)." in router("license install flash:short.lic")
    assert "% Error opening flash:none.lic (No such file" in router(
        "license install flash:none.lic"
    )
    assert "% No installed license of feature atm (not-found).\n" in router("license clear atm")
    assert router("show license file") == before


def test_evaluation_needs_the_agreement_and_counts_down_in_use(
    live_authority: LiveAuthority,  # noqa: F811
    device: Device,
    router: Console,
) -> None:
    refused = router.config("license feature atm")
    assert "No valid license for feature atm" in refused and "(no-license)" in refused
    router.config("license accept end user agreement", "license feature atm")
    assert "atm" in device.config.features
    live_authority.clock.advance(days=3)
    out = router("show license")
    block = out[out.index("Feature: atm") :].split("Index")[0]
    assert "Period left: 8  weeks 1  days" in block and "License Type: EvalRightToUse" in block
    assert "License State: Active, In Use" in block and "License Priority: Low" in block


def test_smart_mode_disables_the_traditional_commands_and_no_smart_enable_restores_them(
    live_authority: LiveAuthority,  # noqa: F811
    device: Device,
    router: Console,
) -> None:
    issue(live_authority, device, "metro.lic")
    router.config("license smart enable")
    assert device.manager.mode == "classic"
    assert router("license install flash:metro.lic") == SMART_MODE
    assert router("license clear metroipaccess") == SMART_MODE
    assert router("license save flash:all.lic") == SMART_MODE
    assert router.config("license accept end user agreement").endswith(SMART_MODE)
    assert device.manager.traditional.lines()[0].serial is None  # nothing was installed

    router.config("no license smart enable")
    assert device.manager.mode == "traditional"
    assert "1/1 licenses were successfully installed" in router("license install flash:metro.lic")
    assert "license lines saved" in router("license save flash:all.lic")
    assert "0/1 licenses were successfully installed" in router("license install flash:all.lic")
    cleared = router("license clear metroipaccess")
    assert "cleared successfully" in cleared
    assert "1/1 licenses were successfully installed" in router("license install flash:all.lic")


def test_conversion_reaches_the_authority_once(
    live_authority: LiveAuthority,  # noqa: F811
    api: httpx.Client,
    device: Device,
    router: Console,
) -> None:
    issue(live_authority, device, "metro.lic", count=3)
    router("license install flash:metro.lic")
    assert "Conversion status: Not started" in router("show license data conversion")
    router.config("license smart enable")
    token = create_token(api, "Prod", description="dlc", expires_after_days=30)["text"]
    router(f"license smart register idtoken {token}")
    assert pool_line(api, "Prod")["purchased"] == 1

    out = router("license smart conversion start")
    assert "1 license(s) converted" in out
    assert pool_line(api, "Prod")["purchased"] == 4
    shown = router("show license all")
    assert "License Conversion:\n  Automatic Conversion Enabled: False\n" in shown
    assert "  Status: Successful on " in shown
    assert "  Converted licenses: 1" in router("show license data conversion")

    again = router("license smart conversion start")
    assert again == "% License conversion: Already converted (already-converted).\n"
    assert pool_line(api, "Prod")["purchased"] == 4
    assert "No license conversion is in progress" in router("license smart conversion stop")


def test_the_authority_converts_a_license_file_once(
    live_authority: LiveAuthority,  # noqa: F811
    api: httpx.Client,
    device: Device,
    router: Console,
) -> None:
    """A device that forgot (or lies about) its conversion sends the same file again: the
    authority refuses it, nothing is added, and the device records the failure."""
    issue(live_authority, device, "metro.lic")
    router("license install flash:metro.lic")
    router.config("license smart enable")
    router(f"license smart register idtoken {create_token(api, 'Prod')['text']}")
    assert "1 license(s) converted" in router("license smart conversion start")
    record = device.manager._ctx.state.traditional.conversion  # white-box: forget it
    record.status, record.converted = "NOT STARTED", []

    refused = router("license smart conversion start")
    assert "was converted already (already-converted)." in refused
    assert pool_line(api, "Prod")["purchased"] == 2
    assert "Conversion status: Failed on" in router("show license data conversion")
    assert "Conversion process is stopped" in router("license smart conversion stop")
    assert "Conversion status: Stopped" in router("show license data conversion")
