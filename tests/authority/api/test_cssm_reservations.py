"""CSSM ``devices/remove`` over real HTTP: the devices of one request go as one transaction
(``instances.remove_instances``): a reserved device with a wrong or missing ``returnCode``
leaves every device of the request in place, each refusal in the vendor's failure shape."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from smartlic.authority.services.scope import SYSTEM
from smartlic.crypto import Udi, generate_key
from smartlic.formats.reservation import RequestCode, make_return_code
from smartlic.storage.models import LicenseReservation
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import TAG, build_world, ok, snapshot
from tests.authority.api.test_cssm_management import ACCT, D, _bearer, _failed, _upload

REMOVE = f"{ACCT.replace('/v1/', '/v2/')}/virtual-accounts/Prod/devices/remove"
RESERVED = Udi("ASR-903", "RSV1")


@pytest.fixture
def world(live_authority: LiveAuthority) -> LiveAuthority:
    build_world(live_authority.client(), prod=10, spare=5)
    return live_authority


def _reserve(live: LiveAuthority, key: Ed25519PrivateKey) -> str:
    """Reserve 2 ``TAG`` in Prod for ``RESERVED`` (its reservation key ``key``): the
    reservation's code id, what its return code is signed for."""
    code = RequestCode.new(RESERVED, key.public_key()).text
    live.services.reservations.reserve(D, "Prod", code, licenses={TAG: 2}, scope=SYSTEM)
    with live.services.engine.connect() as c:
        code_id = c.scalar(select(LicenseReservation.code_id))
    assert code_id is not None
    return code_id


def _removal(udi: Udi, return_code: str = "") -> dict[str, Any]:
    sudi = {"udiPid": udi.pid, "udiSerialNumber": udi.sn}
    return {"sudi": sudi, "productTagName": "", "returnCode": return_code}


def _devices(live: LiveAuthority) -> list[str]:
    found = ok(_bearer(live).post(f"{ACCT}/devices", json={"virtualAccounts": []}))["devices"]
    return sorted(d["sudi"]["udiSerialNumber"] for d in found)


def test_a_refused_return_code_leaves_every_device_in_place(world: LiveAuthority) -> None:
    _upload(world, "Prod", "SN1")
    key = generate_key()
    code_id = _reserve(world, key)
    genuine = make_return_code(key, code_id, RESERVED)
    forged = make_return_code(generate_key(), code_id, RESERVED)  # not the device's key
    http, admin = _bearer(world), world.client()
    before = snapshot(admin)
    plain = _removal(Udi("IXM-LPWA-900-16-K9", "SN1"))
    for reserved, status, words in (
        (_removal(RESERVED, forged), 422, "return code"),
        (_removal(RESERVED), 409, "return code"),
    ):
        body = {"productInstacesRemoveRequests": [plain, reserved]}
        _failed(http.post(REMOVE, json=body), status, words)
        assert snapshot(admin) == before  # SN1 is still there, and the pool unchanged
    assert _devices(world) == ["RSV1", "SN1"]
    body = {"productInstacesRemoveRequests": [plain, _removal(RESERVED, genuine)]}
    assert ok(http.post(REMOVE, json=body)) == {"status": "SUCCESS"}
    assert _devices(world) == []
    [line] = ok(http.post(f"{ACCT}/licenses", json={"virtualAccounts": ["Prod"]}))["licenses"]
    assert (line["inUse"], line["reserved"], line["available"]) == (0, 0, 10)


@pytest.mark.parametrize("quantity", ["\u00b2", "1" * 5000, "\u0663", "0", "-1", 10**7])
def test_a_reservation_quantity_is_a_plain_number(world: LiveAuthority, quantity: Any) -> None:
    """The tools send ``quantity`` as a string: ASCII digits only, 1-1000000. A superscript or
    more than 4300 digits made ``int`` raise (a 500); another script's digits were read as a
    number. Each is refused in the vendor's shape, nothing reserved."""
    http, admin = _bearer(world), world.client()
    before = snapshot(admin)
    code = RequestCode.new(RESERVED, generate_key().public_key()).text
    line = {"entitlementTag": TAG, "quantity": quantity, "precedence": "LONGEST_TERM_FIRST"}
    request = {"reservationCode": code, "reservationType": "SPECIFIC", "licenses": [line]}
    url = f"{REMOVE.removesuffix('/devices/remove')}/reserve-licenses"
    _failed(http.post(url, json={"reservationRequests": [request]}), 422, "quantity")
    assert snapshot(admin) == before


def test_a_reserved_device_takes_its_reservation_along_when_transferred(
    world: LiveAuthority,
) -> None:
    """As the vendor's manager does: the licenses a device has reserved move with it to the
    other virtual account (held there, freed there by its return code)."""
    key = generate_key()
    code_id = _reserve(world, key)
    http = _bearer(world)

    def reserved(va: str) -> int:
        lines = ok(http.post(f"{ACCT}/licenses", json={"virtualAccounts": [va]}))["licenses"]
        return sum(line["reserved"] for line in lines)

    assert (reserved("Prod"), reserved("Spare")) == (2, 0)
    sudi = {"udiPid": RESERVED.pid, "udiSerialNumber": RESERVED.sn}
    move = {"productInstances": [
        {"sudi": sudi, "productTagName": "", "targetVirtualAccount": "Spare"}
    ]}  # fmt: skip
    [inst] = world.services.instances.list_instances(D, "Prod", scope=SYSTEM).items
    preview = world.services.instances.preview_transfer(D, inst.id, target="Spare", scope=SYSTEM)
    assert [(ln.tag, ln.moving) for ln in preview.lines] == [(TAG, 2)]  # the portal shows it
    transfer = f"{ACCT}/virtual-accounts/Prod/devices/transfer"
    assert ok(http.post(transfer, json=move))["status"] == "SUCCESS"
    assert (reserved("Prod"), reserved("Spare")) == (0, 2)
    [row] = world.services.reservations.list_reservations(D, "Spare", scope=SYSTEM)
    assert row.virtual_account == "Spare"
    assert world.services.reservations.list_reservations(D, "Prod", scope=SYSTEM) == []
    remove = REMOVE.replace("/Prod/", "/Spare/")
    genuine = make_return_code(key, code_id, RESERVED)
    body = {"productInstacesRemoveRequests": [_removal(RESERVED, genuine)]}
    assert ok(http.post(remove, json=body)) == {"status": "SUCCESS"}
    assert (reserved("Prod"), reserved("Spare")) == (0, 0)
