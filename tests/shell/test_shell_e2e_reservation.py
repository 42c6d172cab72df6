"""Issue 11's reservation flows over loopback: a router running our shell, an authority served
by uvicorn, codes carried by hand between them (the router never talks to the authority).

SLR: request code -> Reserve Licenses at the authority (/api/v1, and the vendor's
``reserve-licenses``) -> install -> licenses authorized with the authority switched off, months
later -> return -> the instance removed with the return code -> counts freed. PLR the same way
with ``UNIVERSAL``. An SLR router upgraded to Smart Licensing Using Policy keeps its
authorization. Each refusal is an attack: a clear message, nothing stored changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import Role
from tests.e2e.conftest_agent import (  # noqa: F401 - the authority fixture
    ATM,
    DOMAIN,
    IPSEC,
    Authority,
    authority_fixture,
)
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse

pytestmark = pytest.mark.e2e

SN = "FOX2134L0RN"
V1 = f"/api/v1/accounts/{DOMAIN}"
CSSM = f"/services/api/smart-accounts-and-licensing/v2/accounts/{DOMAIN}/virtual-accounts/DEFAULT"


@pytest.fixture
def api(authority: Authority) -> Iterator[httpx.Client]:
    key = authority.services.api_keys.create_api_key(
        name="e2e", role=Role.ADMIN, smart_account=None, virtual_account=None, actor="t"
    )
    headers = {"Authorization": f"Bearer {key.text}"}
    with httpx.Client(base_url=authority.url, headers=headers, timeout=30) as client:
        yield client


def router(make_device: Callable[..., Device], tmp_path: Path, authority: Authority,
           sn: str = SN) -> Console:  # fmt: skip
    """An air-gapped ASR-903 in classic mode: the authority's root is built in, no URL."""
    device = make_device(tmp_path / sn, sn=sn, authority_ca=authority.keys.ca_pem)
    console = Console(Session(device, build_registry(device.profile)))
    console.config("license smart enable", "license smart reservation")
    return console


def request_code(console: Console) -> str:
    out = console("license smart reservation request local").splitlines()
    assert out[0] == "Enter this request code in the Cisco Smart Software Manager portal:"
    return out[1]


def reserved(authority: Authority, tag: str) -> int:
    lines = authority.services.licenses.compliance(DOMAIN, "DEFAULT", scope=SYSTEM).lines
    return next((line.reserved for line in lines if line.tag == tag), 0)


def stored(authority: Authority, api: httpx.Client) -> dict[str, Any]:
    """What a refused request could have changed at the authority."""
    return {
        "reservations": api.get(f"{V1}/reservations").json(),
        "devices": api.get(f"{V1}/devices").json(),
        "compliance": [
            (ln.tag, ln.in_use, ln.reserved)
            for ln in authority.services.licenses.compliance(DOMAIN, "DEFAULT", scope=SYSTEM).lines
        ],
    }


def summary_status(console: Console, name: str) -> str:
    out = console("show license summary")
    row = next(line for line in out.splitlines() if f"({name})" in line)
    return row.split(f"({name})", 1)[1].split(None, 1)[1].strip()  # after the count


def return_code(console: Console) -> str:
    out = console("license smart reservation return local", "yes").splitlines()
    assert "Do you want to continue? [yes/no]: " in "\n".join(out)
    assert out[-2] == "Enter this return code in Cisco Smart Software Manager portal:"
    return out[-1]


def test_slr_request_reserve_install_use_offline_return_and_remove(
    authority: Authority, api: httpx.Client, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    authority.buy(ATM.tag, 5)
    console = router(make_device, tmp_path, authority)
    code = request_code(console)
    assert re.fullmatch(rf"CB-ZASR-903:{SN}-[A-Za-z0-9]+-[0-9A-F]{{2}}", code)
    assert request_code(console) == code  # asked again: the same outstanding request

    made = api.post(f"{V1}/virtual-accounts/DEFAULT/reservations",
                    json={"request_code": code, "licenses": {"atm": 2}})  # fmt: skip
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["reservation_type"], body["licenses"], body["udi"]) == (
        "SPECIFIC", {ATM.tag: 2}, f"PID:ASR-903,SN:{SN}")  # fmt: skip
    assert reserved(authority, ATM.tag) == 2  # counted against the pool in compliance

    authority.served.stop()  # from here on the router has no way to reach the authority
    out = console(f'license smart reservation install "{body["authorization_code"]}"')
    assert f"Last Confirmation code {body['confirmation_code']}" in out
    assert ("%SMART_LIC-6-RESERVED_INSTALLED: Specific License Reservation Authorization code "
            f"installed for udi PID:ASR-903,SN:{SN}") in out  # fmt: skip
    console.config("license feature atm")
    console("lab clock advance 120d")  # past any classic authorization period
    assert summary_status(console, "atm") == "AUTHORIZED - RESERVED"
    status = console("show license status")
    assert "  Status: REGISTERED - SPECIFIC LICENSE RESERVATION\n" in status
    assert "  Status: AUTHORIZED - RESERVED on " in status
    shown = console("show license reservation")
    assert shown.startswith("License reservation: ENABLED\n")
    assert "    Reservation status: SPECIFIC INSTALLED on " in shown
    assert "    Total reserved count: 2\n" in shown
    assert "Reservation status: SPECIFIC INSTALLED" in console("show license tech support")
    console.config("license feature gnss")  # not in the reservation
    assert summary_status(console, "gnss") == "NOT AUTHORIZED"
    console.config("no license feature gnss")

    ret = return_code(console)
    assert "Reservation status: NOT INSTALLED" in console("show license reservation")
    assert f"Last return code: {ret}" in console("show license reservation")
    assert summary_status(console, "atm") == "EVAL MODE"

    authority.served.start()
    before = stored(authority, api)
    wrong = api.delete(f"{V1}/devices/{_instance(api)}", params={"return_code": _forged(ret)})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "wrong-return-code")
    without = api.delete(f"{V1}/devices/{_instance(api)}")
    assert without.json()["code"] == "return-code-required"
    assert stored(authority, api) == before
    done = api.delete(f"{V1}/devices/{_instance(api)}", params={"return_code": ret})
    assert done.status_code == 204, done.text
    assert reserved(authority, ATM.tag) == 0 and authority.instances() == []


def _instance(api: httpx.Client) -> str:
    [device] = api.get(f"{V1}/devices", params={"search": SN}).json()["items"]
    instance_id: str = device["id"]
    return instance_id


def _forged(code: str) -> str:
    """The return code with one character changed (base58, still well-formed)."""
    i = len(code) // 2
    return code[:i] + ("2" if code[i] != "2" else "3") + code[i + 1 :]


def test_plr_through_the_vendor_paths(
    authority: Authority, api: httpx.Client, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    console = router(make_device, tmp_path, authority)
    body = {"reservationRequests": [{"reservationCode": request_code(console),
                                     "reservationType": "UNIVERSAL", "licenses": []}]}  # fmt: skip
    answer = api.post(f"{CSSM}/reserve-licenses", json=body)
    assert answer.status_code == 200, answer.text
    [code] = answer.json()["authorizationCodes"]
    assert answer.json()["status"] == "SUCCESS" and code["authorizationCode"].startswith(
        "<universalPLR>")  # fmt: skip
    flash = tmp_path / SN / "flash"
    flash.mkdir(parents=True, exist_ok=True)
    (flash / f"AC_{SN}.xml").write_text(code["authorizationCode"])
    out = console(f"license smart reservation install file flash:AC_{SN}.xml")
    assert out.startswith("Reservation install file successful\n"), out
    assert "Universal License Reservation Authorization code installed" in out
    console.config("license feature atm", "license feature gnss")
    assert summary_status(console, "gnss") == "AUTHORIZED - RESERVED"
    assert "Reservation status: UNIVERSAL INSTALLED on " in console("show license reservation")
    assert "REGISTERED - UNIVERSAL LICENSE RESERVATION" in console("show license status")

    ret = return_code(console)
    remove = {"productInstacesRemoveRequests": [{
        "sudi": {"udiPid": "ASR-903", "udiSerialNumber": SN}, "productTagName": "",
        "returnCode": _forged(ret)}]}  # fmt: skip
    refused = api.post(f"{CSSM}/devices/remove", json=remove)
    assert refused.status_code == 422, refused.text
    assert refused.json()["status"] == "FAILED" and refused.json()["statusMessage"]
    assert len(authority.instances()) == 1
    remove["productInstacesRemoveRequests"][0]["returnCode"] = ret
    removed = api.post(f"{CSSM}/devices/remove", json=remove)
    assert removed.json() == {"status": "SUCCESS"}
    assert authority.instances() == []


def test_slr_kept_after_the_upgrade_to_policy(
    authority: Authority, api: httpx.Client, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    authority.buy(IPSEC.tag, 1)
    console = router(make_device, tmp_path, authority)
    body = {"request_code": request_code(console), "licenses": {"ipsec": 1}}
    made = api.post(f"{V1}/virtual-accounts/DEFAULT/reservations", json=body)
    console(f'license smart reservation install "{made.json()["authorization_code"]}"')
    authority.served.stop()
    console.config("license smart mode policy")  # the software upgrade to SLUP (lab command)
    console.config("license feature ipsec")  # export-controlled: the SLR code alone allows it
    out = console("show license authorization")
    parsed = genie_parse("authorization", out)
    assert parsed["status"] == "SPECIFIC INSTALLED"
    assert "Specified license reservations:" in out and "Total reserved count: 1" in out
    usage = console("show license usage")
    assert "ipsec (Device IPSEC):" in usage and "  Status: IN USE\n" in usage
    assert "NOT AUTHORIZED" not in usage


def test_refusals_at_the_authority_change_nothing(
    authority: Authority, api: httpx.Client, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    authority.buy(ATM.tag, 2)
    console = router(make_device, tmp_path, authority)
    code = request_code(console)
    path = f"{V1}/virtual-accounts/DEFAULT/reservations"
    before = stored(authority, api)
    too_many = api.post(path, json={"request_code": code, "licenses": {"atm": 3}})
    assert (too_many.status_code, too_many.json()["code"]) == (409, "insufficient-licenses")
    mistyped = api.post(path, json={"request_code": code[:-2] + "00", "licenses": {"atm": 1}})
    assert (mistyped.status_code, mistyped.json()["code"]) == (422, "bad-request-code")
    assert stored(authority, api) == before

    assert api.post(path, json={"request_code": code, "licenses": {"atm": 1}}).status_code == 201
    before = stored(authority, api)
    reused = api.post(path, json={"request_code": code, "licenses": {"atm": 1}})
    assert (reused.status_code, reused.json()["code"]) == (409, "reservation-code-used")
    again = api.post(path, json={"request_code": request_code_of(tmp_path, make_device,
                                 authority, SN + "2"), "licenses": {"atm": 5}})  # fmt: skip
    assert again.json()["code"] == "insufficient-licenses"
    vendor = api.post(f"{CSSM}/reserve-licenses", json={"reservationRequests": [{
        "reservationCode": code, "reservationType": "SPECIFIC",
        "licenses": [{"entitlementTag": ATM.tag, "quantity": "1"}]}]})  # fmt: skip
    assert vendor.status_code == 409 and vendor.json()["status"] == "FAILED"
    assert stored(authority, api) == before


def request_code_of(tmp_path: Path, make_device: Callable[..., Device], authority: Authority,
                    sn: str) -> str:  # fmt: skip
    return request_code(router(make_device, tmp_path, authority, sn))


def reserve(api: httpx.Client, path: str, code: str) -> str:
    made = api.post(path, json={"request_code": code, "licenses": {"atm": 1}})
    text: str = made.json()["authorization_code"]
    return text


def test_refusals_on_the_device_change_nothing(
    authority: Authority, api: httpx.Client, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    authority.buy(ATM.tag, 5)
    mine = router(make_device, tmp_path, authority)
    other = router(make_device, tmp_path, authority, "FOX9999ZZZ")
    path = f"{V1}/virtual-accounts/DEFAULT/reservations"
    code_mine = request_code(mine)
    for_other = reserve(api, path, request_code(other))
    mine_auth = reserve(api, path, code_mine)
    before = mine("show license reservation")
    out = mine(f'license smart reservation install "{for_other}"')
    assert out.startswith("% Reservation install failed: ") and "(wrong-device)" in out
    tampered = mine_auth.replace("<specificPLR>", "<universalPLR>").replace(
        "</specificPLR>", "</universalPLR>")  # fmt: skip
    assert mine(f'license smart reservation install "{tampered}"').startswith("% ")
    assert mine('license smart reservation install "<specificPLR>x</specificPLR>"').startswith(
        "% ")  # fmt: skip
    assert mine("show license reservation") == before
    assert "Request code: " + code_mine in before

    mine(f'license smart reservation install "{mine_auth}"')
    return_code(mine)
    after_return = mine("show license reservation")
    new_request = request_code(mine)
    reused = mine(f'license smart reservation install "{mine_auth}"')
    assert reused.startswith("% Reservation install failed: ") and "reused" in reused
    assert "RESERVATION IN PROGRESS" in mine("show license reservation")
    assert new_request in mine("show license reservation") and after_return
    assert mine("license smart reservation cancel") == ""
    assert "Reservation status: NOT INSTALLED" in mine("show license reservation")
