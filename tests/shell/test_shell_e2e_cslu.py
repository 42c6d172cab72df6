"""The second reference document's "CSLU Has Access to CSSM" topology: the gateway's shell
on transport cslu, pushing to a live collector (CSLU) that forwards to a live authority; the
ACK comes back on the gateway's next poll. Read back through the Genie parsers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.fmt import ios_time
from smartlic.agent.shell.session import Session
from smartlic.domain.products import GATEWAY_PROFILE
from tests.authority.api.helpers import V1, ok, va_path
from tests.collector.conftest import (  # noqa: F401 - fixtures
    PI,
    Collector,
    World,
    collector,
    db_url,
    live_authority,
    world,
)
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse

pytestmark = pytest.mark.e2e

CPF = GATEWAY_PROFILE.license("LORAWAN_CPF")


def buy_cpf(world: World) -> None:  # noqa: F811 - the fixture's name
    body = {"tag": CPF.tag, "name": CPF.name, "display_name": CPF.display_name}
    ok(world.api.post(f"{V1}/licenses", json=body), 201)
    ok(world.api.post(va_path("Prod", "/licenses"), json={"tag": CPF.tag, "quantity": 5}), 201)


def test_gateway_reports_through_cslu_and_gets_its_ack(
    world: World,  # noqa: F811
    collector: Collector,  # noqa: F811
    make_device: Callable[..., Device],
    tmp_path: Path,
) -> None:
    buy_cpf(world)
    device = make_device(
        tmp_path / "gw",
        profile="ixm",
        mode="policy",
        sn="FOC242145DW",
        authority_ca=world.live.keys.ca_pem,
    )
    console = Console(Session(device, build_registry(device.profile), assume_yes=True))
    url = f"{collector.pi_url}{PI}"
    console.config("license smart transport cslu", f"license smart url cslu {url}")
    console.config("common-packet-forwarder profile", "ipaddr 172.27.166.121 port 6070")
    console.config("common-packet-forwarder profile", "cpf enable")
    assert console("license smart sync local") == ""  # the report reaches the CSLU
    status = genie_parse("status", console("show license status"))
    assert status["transport"] == {"type": "cslu", "cslu_address": url, "proxy": "Not Configured",
                                   "vrf": "Not Configured"}  # fmt: skip
    assert status["usage_reporting"]["last_report_push"] == ios_time(world.live.clock.now())
    assert status["usage_reporting"]["last_ack_received"] == "<none>"
    collector.services.forwarder.sync()  # the CSLU uploads to the authority, gets the ACK
    console("license smart sync local")  # the gateway polls the CSLU for its ACK
    status = genie_parse("status", console("show license status"))
    assert status["usage_reporting"]["last_ack_received"] == ios_time(world.live.clock.now())
    assert console("show common-packet-forwarder status").splitlines() == [
        "Enabled : Yes",
        "Running : Yes",
        "NS Registration : Successful",
        "License Status: Reported - Yes, Acknowledged - Yes",
    ]
    summary = genie_parse("all", console("show license all"))["usage_report_summary"]
    assert summary["total_acknowledged_received"] != "0"
