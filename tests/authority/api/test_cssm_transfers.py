"""CSSM license and device transfers over real HTTP: ``licenseType`` moves only holdings of
that kind, and the lines of one request are one transaction (a refused line, or device, leaves
every one unmoved)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import HoldingKind, Role
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import TAG, build_world, ok, snapshot
from tests.authority.api.test_cssm_management import ACCT, D, _bearer, _failed, _upload

MOVE = f"{ACCT}/virtual-accounts/Prod/licenses/transfer"
MOVE_DEVICES = f"{ACCT}/virtual-accounts/Prod/devices/transfer"


@pytest.fixture
def world(live_authority: LiveAuthority) -> LiveAuthority:
    """Prod: 10 perpetual and 4 term (a year) ``TAG`` licenses; Spare: 5 perpetual."""
    build_world(live_authority.client(), prod=10, spare=5)
    now = live_authority.clock.now()
    live_authority.services.licenses.add_holding(
        D, "Prod", tag=TAG, quantity=4, kind=HoldingKind.TERM, starts_at=now,
        ends_at=now + timedelta(days=365), subscription_id="SUB-1", scope=SYSTEM,
    )  # fmt: skip
    return live_authority


def _line(kind: str | None, quantity: int, target: str = "Spare") -> dict[str, Any]:
    line = {"license": "Device METROIPACCESS", "quantity": quantity, "targetVirtualAccount": target}
    return line | ({"licenseType": kind} if kind else {})


def _kinds(http: httpx.Client, va: str) -> dict[str, int]:
    """Quantity per licenseType of ``TAG`` in ``va``, from the vendor's licenses list."""
    found = ok(http.post(f"{ACCT}/licenses", json={"virtualAccounts": [va]}))["licenses"]
    out: dict[str, int] = {}
    for detail in found[0]["licenseDetails"]:
        out[detail["licenseType"]] = out.get(detail["licenseType"], 0) + detail["quantity"]
    return out


def _moves(live: LiveAuthority) -> int:
    return live.services.events.list_events(
        D, name_prefix="license.transferred", scope=SYSTEM
    ).total


def test_license_type_moves_only_holdings_of_that_kind(world: LiveAuthority) -> None:
    http = _bearer(world)
    ok(http.post(MOVE, json={"licenses": [_line("TERM", 3)]}))
    assert _kinds(http, "Prod") == {"PERPETUAL": 10, "TERM": 1}
    assert _kinds(http, "Spare") == {"PERPETUAL": 5, "TERM": 3}
    spare = ok(http.post(f"{ACCT}/license-subscriptions", json={"virtualAccounts": ["Spare"]}))
    [sub] = spare["licenseSubscriptions"]
    assert (sub["subscriptionId"], sub["quantity"]) == ("SUB-1", 3)  # the term travels with it
    ok(http.post(MOVE, json={"licenses": [_line("PERPETUAL", 2)]}))
    assert _kinds(http, "Prod") == {"PERPETUAL": 8, "TERM": 1}
    assert _kinds(http, "Spare") == {"PERPETUAL": 7, "TERM": 3}


def test_more_of_a_kind_than_held_is_refused_and_nothing_moves(world: LiveAuthority) -> None:
    http, admin = _bearer(world), world.client()
    before = snapshot(admin)
    # 14 licenses of the pool are free, but only 4 of them are term and none demo
    body = _failed(http.post(MOVE, json={"licenses": [_line("TERM", 5)]}), 409, "4 term")
    assert body["status"] == "FAILED"
    _failed(http.post(MOVE, json={"licenses": [_line("DEMO", 1)]}), 409, "0 demo")
    assert snapshot(admin) == before


def test_a_refused_line_leaves_every_line_unmoved(world: LiveAuthority) -> None:
    http, admin = _bearer(world), world.client()
    events = _moves(world)
    before = snapshot(admin)
    two = {"licenses": [_line("PERPETUAL", 2), _line("PERPETUAL", 9)]}  # 8 left after line 1
    body = _failed(http.post(MOVE, json=two), 409, "line 2")
    assert "8 perpetual" in body["statusMessage"]
    elsewhere = {"licenses": [_line("PERPETUAL", 2), _line(None, 1, target="Nowhere")]}
    _failed(http.post(MOVE, json=elsewhere), 404, "Nowhere")
    unknown = {"licenses": [_line("PERPETUAL", 2), _line(None, 1) | {"license": "No Such"}]}
    _failed(http.post(MOVE, json=unknown), 422, "No Such")
    assert snapshot(admin) == before
    assert _moves(world) == events  # no line was recorded as moved
    ok(http.post(MOVE, json={"licenses": [_line("PERPETUAL", 2), _line("TERM", 4)]}))
    assert _kinds(http, "Prod") == {"PERPETUAL": 8}
    assert _kinds(http, "Spare") == {"PERPETUAL": 7, "TERM": 4}


def _device(sn: str, target: str) -> dict[str, Any]:
    sudi = {"udiPid": "IXM-LPWA-900-16-K9", "udiSerialNumber": sn}
    return {"sudi": sudi, "productTagName": "", "targetVirtualAccount": target}


def _placed(http: httpx.Client) -> list[tuple[str, str]]:
    found = ok(http.post(f"{ACCT}/devices", json={"virtualAccounts": []}))["devices"]
    return sorted((d["sudi"]["udiSerialNumber"], d["virtualAccount"]) for d in found)


def test_a_refused_device_leaves_every_device_unmoved(world: LiveAuthority) -> None:
    for sn in ("SN1", "SN2"):
        _upload(world, "Prod", sn)
    http, admin = _bearer(world), world.client()
    before = snapshot(admin)
    nowhere = [_device("SN1", "Spare"), _device("SN2", "Nowhere")]
    _failed(http.post(MOVE_DEVICES, json={"productInstances": nowhere}), 404, "Nowhere")
    twice = [_device("SN1", "Spare"), _device("SN1", "DEFAULT")]
    _failed(http.post(MOVE_DEVICES, json={"productInstances": twice}), 422, "twice")
    va_admin = _bearer(world, Role.VIRTUAL_ACCOUNT_ADMIN, "Prod")
    mine = [_device("SN1", "Prod"), _device("SN2", "Spare")]  # Spare is not its to change
    _failed(va_admin.post(MOVE_DEVICES, json={"productInstances": mine}), 403, "Spare")
    assert snapshot(admin) == before
    assert _placed(http) == [("SN1", "Prod"), ("SN2", "Prod")]
    both = [_device("SN1", "Spare"), _device("SN2", "DEFAULT")]
    assert ok(http.post(MOVE_DEVICES, json={"productInstances": both}))["status"] == "SUCCESS"
    assert _placed(http) == [("SN1", "Spare"), ("SN2", "DEFAULT")]
