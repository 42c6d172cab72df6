"""Issue 9's done-when flow: a tool that speaks the vendor's API (raw ``httpx`` calls in the
vendor's field names, no smartlic client code) drives the authority over HTTPS on loopback,
trusting the authority's CA, and carries files for an air-gapped router running our shell.

token -> v2/accounts -> v2/accounts/search -> VA create / list / delete -> token create, list
(with text), revoke -> licenses list -> transfer by display name -> devices list and transfer
-> the router's saved usage file uploaded with header-less items and numeric ids -> poll ->
the ACK imported on the router -> an authorization request for the router by the API user
-> poll -> the code installed on the router."""

from __future__ import annotations

import base64
import json
import ssl
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services
from smartlic.clock import ManualClock
from smartlic.crypto import write_server_certificate
from smartlic.domain.enums import Role
from smartlic.formats.rum import read_report
from tests.e2e.conftest_agent import (
    ATM,
    DOMAIN,
    IPSEC,
    Authority,
    _world,
    serve,
    stop_authority,
)
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse

pytestmark = pytest.mark.e2e

SA = "/services/api/smart-accounts-and-licensing"
ACCT = f"{SA}/v1/accounts/{DOMAIN}"
SN = "FOX2201QRST"


@pytest.fixture
def https_authority(
    services: Services, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path
) -> Iterator[Authority]:
    _world(services)
    cert, key = write_server_certificate(
        keys.ca, ["localhost", "127.0.0.1"], clock.now(), tmp_path / "tls"
    )
    served = serve(services, clock, tmp_path, ssl_certfile=str(cert), ssl_keyfile=str(key))
    live = Authority(services, clock, keys, served, tmp_path)
    try:
        yield live
    finally:
        stop_authority(live)


def _tool(live: Authority, tmp_path: Path) -> httpx.Client:
    """What a tool's operator sets up: the authority's CA as the trusted bundle."""
    bundle = tmp_path / "authority-ca.pem"
    bundle.write_text(live.keys.ca_pem)
    assert live.url.startswith("https://")
    return httpx.Client(base_url=live.url, verify=ssl.create_default_context(cafile=str(bundle)))


@pytest.fixture
def tool(https_authority: Authority, tmp_path: Path) -> Iterator[httpx.Client]:
    with _tool(https_authority, tmp_path) as http:  # closed: no TLS socket left to the GC
        yield http


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _ok_poll(answer: dict[str, Any], nonce: str, action: str) -> int:
    assert set(answer) == {"status", "message_code", "message", "timestamp", "nonce", "type",
                           "poll_id", "poll_interval", "action"}  # fmt: skip
    assert (answer["status"], answer["message_code"], answer["message"]) == ("OK_POLL", None, None)
    assert (answer["nonce"], answer["type"], answer["action"]) == (nonce, None, action)
    assert answer["poll_interval"] == 300 and isinstance(answer["timestamp"], int)
    poll_id: int = answer["poll_id"]
    return poll_id


def _poll(http: httpx.Client, poll_id: int, headers: dict[str, str]) -> dict[str, Any]:
    body = {"data": {"timestamp": 0, "nonce": uuid.uuid4().hex, "poll_id": poll_id}}
    done: dict[str, Any] = _ok(http.post(f"{SA}/v2/accounts/poll", json=body, headers=headers))
    assert done["status"] == "COMPLETE" and done["poll_id"] == poll_id
    return done


def test_a_vendor_tool_runs_the_whole_flow_over_https(
    https_authority: Authority,
    make_device: Callable[..., Device],
    tool: httpx.Client,
    tmp_path: Path,
) -> None:
    live = https_authority
    live.buy(ATM.tag, 10)
    live.buy(IPSEC.tag, 3)
    client = live.services.api_clients.create_client(
        DOMAIN, role=Role.SMART_ACCOUNT_ADMIN, actor="t"
    )
    http = tool

    # OAuth2, then Bearer everywhere
    grant = {"grant_type": "client_credentials", "client_id": client.client_id,
             "client_secret": client.client_secret}  # fmt: skip
    token = _ok(http.post("/as/token.oauth2", data=grant))
    assert (token["token_type"], token["expires_in"]) == ("Bearer", 3599)
    http.headers["Authorization"] = f"Bearer {token['access_token']}"

    [account] = _ok(http.get(f"{SA}/v2/accounts"))["accounts"]
    assert (account["accountDomain"], account["accountName"]) == (DOMAIN, "Example Corp")
    assert account["roles"] == [{"role": "Smart Account Administrator", "virtualAccount": None}]
    search = _ok(http.get(f"{SA}/v2/accounts/search"))
    [found] = search["accounts"]
    account_id = found["account_id"]
    assert account_id.isdigit() and found["domain"] == DOMAIN
    [default] = found["virtual_accounts"]
    assert default["name"] == "DEFAULT" and default["default"] is True
    default_id = default["virtual_account_id"]

    # virtual accounts
    for name in ("Spare", "Temp"):
        made = _ok(http.post(f"{ACCT}/virtual-accounts", json={"name": name, "description": name}))
        assert (made["name"], made["isDefault"], made["status"]) == (name, "false", "SUCCESS")
    vas = _ok(http.get(f"{ACCT}/virtual-accounts"))["virtualAccounts"]
    assert [(v["name"], v["isDefault"]) for v in vas] == [
        ("DEFAULT", "true"), ("Spare", "false"), ("Temp", "false")
    ]  # fmt: skip
    assert _ok(http.post(f"{ACCT}/virtual-accounts/Temp/delete"))["status"] == "SUCCESS"
    assert "Temp" not in str(_ok(http.get(f"{ACCT}/virtual-accounts")))

    # registration tokens: create, list with the text, revoke by text
    body = {"expiresAfterDays": 7, "description": "ansible", "exportControlled": "Allowed"}
    made = _ok(http.post(f"{ACCT}/virtual-accounts/DEFAULT/tokens", json=body))["tokenInfo"]
    [listed] = _ok(http.get(f"{ACCT}/virtual-accounts/DEFAULT/tokens"))["tokens"]
    assert listed["token"] == made["token"] and listed["description"] == "ansible"
    assert listed["exportControlled"] == "Allowed" and listed["status"] == "ACTIVE"
    assert listed["expirationDate"].startswith(str((live.clock.now() + timedelta(days=7)).date()))
    revoke = {"tokens": [made["token"]]}
    assert (
        _ok(http.post(f"{ACCT}/virtual-accounts/DEFAULT/tokens/revoke", json=revoke))["status"]
        == "SUCCESS"
    )
    [listed] = _ok(http.get(f"{ACCT}/virtual-accounts/DEFAULT/tokens"))["tokens"]
    assert listed["status"] == "REVOKED"

    # licenses and a transfer by display name
    lines = _ok(
        http.post(
            f"{ACCT}/licenses", json={"virtualAccounts": ["DEFAULT"], "limit": 10, "offset": 0}
        )
    )
    by_name = {x["license"]: x for x in lines["licenses"]}
    assert lines["totalRecords"] == 2 and set(by_name) == {"Device ATM", "Device IPSEC"}
    assert (by_name["Device ATM"]["quantity"], by_name["Device ATM"]["status"]) == (
        10,
        "In Compliance",
    )
    move = {"licenses": [{"license": "Device ATM", "licenseType": "PERPETUAL", "quantity": 4,
                          "targetVirtualAccount": "Spare"}]}  # fmt: skip
    moved = _ok(http.post(f"{ACCT}/virtual-accounts/DEFAULT/licenses/transfer", json=move))
    assert moved["status"] == "SUCCESS"
    spare = _ok(http.post(f"{ACCT}/licenses", json={"virtualAccounts": ["Spare"]}))["licenses"]
    assert [(x["license"], x["quantity"], x["available"]) for x in spare] == [("Device ATM", 4, 4)]

    # the air-gapped router: saves its usage, the tool uploads it with numeric ids
    router = make_device(tmp_path / "r1", mode="policy", sn=SN, authority_ca=live.keys.ca_pem)
    console = Console(Session(router, build_registry(router.profile), assume_yes=True))
    console.config("license smart transport off")
    console.config("license feature atm")
    console("lab clock advance 3d")
    flash = tmp_path / "r1" / "flash"
    assert console("license smart save usage all file flash:usage") == ""
    saved = ET.fromstring((flash / "usage").read_bytes())
    items = [json.loads(el.text or "") for el in saved.iter("RUMReport")]
    assert items
    # the file's <smartLicenseSystemInfo>, as tools read it (xmltodict: ...["data"])
    info = json.loads(saved.findtext("smartLicenseSystemInfo/data") or "")
    sudi = {"udi_pid": "ASR-903", "udi_serial_number": SN}
    assert (info["sudi"], info["hostname"]) == (sudi, router.config.hostname)
    assert info["software_tag_identifier"] == read_report(items[0]).software_tag
    console("lab clock advance 2d")  # the file travels for two days
    # days on, the tool's access token has expired: it asks for a new one
    assert http.get(f"{SA}/v2/accounts").status_code == 401
    token = _ok(http.post("/oauth2/default/v1/token", data=grant))
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    for item in items:
        item.pop("header", None)  # as the tools send them
    # the tools copy the file's timestamp (two days old) and nonce into the request
    stale, nonce = info["timestamp"], info["nonce"]
    assert live.clock.now() - datetime.fromtimestamp(stale / 1000, UTC) == timedelta(days=2)
    report = {
        "data": {"timestamp": stale, "nonce": nonce, "reports": [{"sudi": sudi, "usage": items}]}
    }
    ids = {"X-CSW-SMART-ACCOUNT-ID": account_id, "X-CSW-VIRTUAL-ACCOUNT-ID": default_id,
           "X-CSW-REQUESTING-SYSTEM": json.dumps({"pid": "TOOL", "sn": "1"})}  # fmt: skip
    poll_id = _ok_poll(
        _ok(http.post(f"{SA}/v2/devices/reportusage", json=report, headers=ids), 202),
        nonce,
        "acknowledgements",
    )
    again = http.post(f"{SA}/v2/devices/reportusage", json=report, headers=ids)  # the same nonce
    assert again.status_code == 409 and again.json()["status"] == "FAILED"
    done = _poll(http, poll_id, ids)
    [ack] = done["data"]["acknowledgements"]
    assert ack["sudi"] == sudi and ack["smart_license"]
    (flash / "ACK_usage").write_bytes(base64.b64decode(ack["smart_license"]))
    assert console("license smart import file flash: ACK_usage") == "Import Data Successful\n"

    # devices: list, then transfer and back
    devices = _ok(http.get(f"{ACCT}/virtual-accounts/DEFAULT/devices"))
    [dev] = devices["devices"]
    assert devices["totalRecords"] == 1 and dev["sudi"]["udiSerialNumber"] == SN
    assert dev["sudi"]["udiPid"] == "ASR-903" and dev["virtualAccount"] == "DEFAULT"
    assert {"license": "Device ATM", "quantity": 1} in dev["licenseUsage"]
    for source, target in (("DEFAULT", "Spare"), ("Spare", "DEFAULT")):
        pi = {"sudi": {"udiPid": "ASR-903", "udiSerialNumber": SN},
              "productTagName": dev["productTagName"], "targetVirtualAccount": target}  # fmt: skip
        url = f"{ACCT}/virtual-accounts/{source}/devices/transfer"
        assert _ok(http.post(url, json={"productInstances": [pi]}))["status"] == "SUCCESS"
        listed = _ok(http.post(f"{ACCT}/devices", json={"virtualAccounts": [target]}))
        assert [d["sudi"]["udiSerialNumber"] for d in listed["devices"]] == [SN]

    # an authorization code for the router, asked by the API user, installed on the router
    nonce = uuid.uuid4().hex
    wanted = {"sudi": sudi, "hostname": "r1", "keys": [{"entitlement": IPSEC.tag, "count": 1}]}
    ask = {"data": {"timestamp": stale, "nonce": nonce, "licenses": [wanted]}}
    answer = _ok(http.post(f"{SA}/v2/devices/authrequest", json=ask, headers=ids), 202)
    done = _poll(http, _ok_poll(answer, nonce, "authorizations"), ids)
    [auth] = done["data"]["authorizations"]
    assert (auth["sudi"], auth["status"], auth["status_message"], auth["error_code"]) == (
        sudi,
        "SUCCESS",
        None,
        None,
    )
    assert auth["product_instance_identifier"] == dev_id(live) and auth["correlation_id"]
    (flash / "code").write_bytes(base64.b64decode(auth["smart_license"]))
    assert console("license smart import file flash: code") == "Import Data Successful\n"
    assert (
        genie_parse("authorization", console("show license authorization"))["status"]
        == "SMART AUTHORIZATION"
    )
    console.config("license feature ipsec")  # the code covers it now
    usage = genie_parse("usage", console("show license usage"))["license_name"]
    assert next(v for k, v in usage.items() if k.startswith("ipsec "))["status"] == "IN USE"
    ipsec = _ok(http.post(f"{ACCT}/licenses", json={"virtualAccounts": ["DEFAULT"]}))["licenses"]
    assert {x["license"]: x["reserved"] for x in ipsec}["Device IPSEC"] == 1


def dev_id(live: Authority) -> str:
    [inst] = live.instances()
    return str(inst.id)
