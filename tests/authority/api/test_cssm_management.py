"""The CSSM management API over real HTTP, with raw ``httpx`` calls in the vendor's field names:
an OAuth2 token, then accounts, virtual accounts, tokens (with their text), licenses and devices,
each answer checked field by field; refusals in the vendor's error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smartlic.crypto import Udi, hash_secret
from smartlic.domain.enums import Role
from smartlic.formats.rum import usage_file
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import TAG, build_world, ok
from tests.devices import PolicyDevice

D = "acme.example"
SA = "/services/api/smart-accounts-and-licensing"
ACCT = f"{SA}/v1/accounts/{D}"


def _bearer(
    live: LiveAuthority, role: Role = Role.SMART_ACCOUNT_ADMIN, va: str | None = None
) -> httpx.Client:
    created = live.services.api_clients.create_client(D, role=role, virtual_account=va, actor="t")
    http = live.client(auth=False)
    fields = {
        "grant_type": "client_credentials",
        "client_id": created.client_id,
        "client_secret": created.client_secret,
    }
    token = ok(http.post("/as/token.oauth2", data=fields))["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def _failed(response: httpx.Response, status: int, words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "FAILED" and words in body["statusMessage"], body
    assert body["message"] == body["statusMessage"]
    return body


@pytest.fixture
def world(live_authority: LiveAuthority) -> LiveAuthority:
    build_world(live_authority.client(), prod=10, spare=5)
    return live_authority


def _upload(live: LiveAuthority, va: str, sn: str) -> None:
    dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", sn), live.clock, hostname=f"gw-{sn}")
    files = {"file": ("u.xml", usage_file([dev.report(TAG, 2)]))}
    path = f"/api/v1/accounts/{D}/virtual-accounts/{va}/usage-files"
    ok(live.client().post(path, files=files), 201)


def test_accounts_and_virtual_accounts_in_vendor_shapes(world: LiveAuthority) -> None:
    http = _bearer(world)
    accounts = ok(http.get(f"{SA}/v2/accounts"))
    assert accounts == {
        "accounts": [
            {
                "accountDomain": D,
                "accountName": "Acme",
                "accountStatus": "Active",
                "accountType": "CUSTOMER",
                "roles": [{"role": "Smart Account Administrator", "virtualAccount": None}],
            }
        ],
        "status": "SUCCESS",
        "statusMessage": "",
    }
    v1 = ok(http.get(f"{SA}/v1/accounts/search", params={"domain": D}))
    assert v1 == {
        "totalRecords": 1,
        "accounts": [
            {"domain": D, "name": "Acme", "id": "1", "type": "CUSTOMER", "status": "Active"}
        ],
    }
    # as tools write it: //services/api (a full URL: httpx reads "//x" as a host) and a slash
    v2 = ok(http.get(f"{world.url}/{SA}/v2/accounts/search/"))
    assert v2["status"] == "COMPLETE" and (v2["message_code"], v2["message"]) == ("", "")
    [account] = v2["accounts"]
    assert (account["account_id"], account["domain"], account["name"]) == ("1", D, "Acme")
    assert account["virtual_accounts"] == [
        {"default": True, "name": "DEFAULT", "virtual_account_id": "1"},
        {"default": False, "name": "Prod", "virtual_account_id": "2"},
        {"default": False, "name": "Spare", "virtual_account_id": "3"},
    ]
    created = ok(http.post(f"{ACCT}/virtual-accounts", json={"name": "Lab", "description": "x"}))
    assert created == {
        "name": "Lab",
        "description": "x",
        "isDefault": "false",
        "commerceAccessLevel": "FULL",
        "status": "SUCCESS",
        "statusMessage": "Virtual account Lab created",
    }
    listing = ok(http.get(f"{ACCT}/customer/virtual-accounts"))["virtualAccounts"]
    assert [(v["name"], v["isDefault"]) for v in listing] == [
        ("DEFAULT", "true"),
        ("Lab", "false"),
        ("Prod", "false"),
        ("Spare", "false"),
    ]
    assert ok(http.post(f"{ACCT}/virtual-accounts/Lab/delete")) == {
        "status": "SUCCESS",
        "statusMessage": "Virtual account Lab deleted",
    }
    names = [v["name"] for v in ok(http.get(f"{ACCT}/virtual-accounts"))["virtualAccounts"]]
    assert names == ["DEFAULT", "Prod", "Spare"]
    _failed(http.post(f"{ACCT}/virtual-accounts/Prod/delete"), 409, "Prod")
    _failed(http.get(f"{SA}/v1/accounts/rival.example/virtual-accounts"), 403, "no access")


def test_tokens_with_text_licenses_and_devices(world: LiveAuthority) -> None:
    http = _bearer(world)
    body = {"expiresAfterDays": 10, "description": "ansible", "exportControlled": "Not Allowed"}
    created = ok(http.post(f"{ACCT}/virtual-accounts/Prod/tokens", json=body))
    info = created.pop("tokenInfo")
    assert created == {"status": "SUCCESS", "statusMessage": "Token created"}
    text = info["token"]
    assert {"token", "description", "expirationDate", "exportControlled", "createdBy"} <= set(info)
    assert info["description"] == "ansible" and info["exportControlled"] == "Not Allowed"
    assert info["status"] == "ACTIVE" and info["createdBy"].startswith("apikey:client:")
    [listed] = ok(http.get(f"{ACCT}/virtual-accounts/Prod/tokens"))["tokens"]
    assert listed == info  # the text again, from its sealed copy
    with world.services.engine.connect() as c:
        stored = str(c.exec_driver_sql("SELECT * FROM registration_tokens").all())
    assert text not in stored and hash_secret(text) in stored
    reader = _bearer(world, Role.SMART_ACCOUNT_USER)
    [seen] = ok(reader.get(f"{ACCT}/virtual-accounts/Prod/tokens"))["tokens"]
    assert seen["token"] is None and seen["description"] == "ansible"
    _failed(
        reader.post(f"{ACCT}/virtual-accounts/Prod/tokens/revoke", json={"tokens": [text]}),
        403,
        "read-only",
    )
    revoked = http.post(f"{ACCT}/virtual-accounts/Prod/tokens/revoke", json={"tokens": [text]})
    assert ok(revoked) == {"status": "SUCCESS", "statusMessage": "1 token(s) revoked"}
    [listed] = ok(http.get(f"{ACCT}/virtual-accounts/Prod/tokens"))["tokens"]
    assert listed["status"] == "REVOKED"
    _failed(
        http.post(f"{ACCT}/virtual-accounts/Prod/tokens/revoke", json={"tokens": ["nope"]}),
        404,
        "no such token",
    )

    _upload(world, "Prod", "SN001")
    licenses = ok(
        http.post(f"{ACCT}/licenses", json={"virtualAccounts": ["Prod"], "limit": 50, "offset": 0})
    )
    assert licenses["totalRecords"] == 1
    [line] = licenses["licenses"]
    detail = line.pop("licenseDetails")
    assert line == {
        "license": "Device METROIPACCESS",
        "virtualAccount": "Prod",
        "quantity": 10,
        "inUse": 2,
        "available": 8,
        "reserved": 0,
        "pendingQuantity": 0,
        "status": "In Compliance",
        "billingType": "PREPAID",
        "isPortable": False,
        "ahaApps": False,
        "licenseSubstitutions": [],
    }
    assert [(d["licenseType"], d["quantity"], d["status"]) for d in detail] == [
        ("PERPETUAL", 10, "ACTIVE")
    ]
    move = {
        "licenses": [
            {
                "license": "Device METROIPACCESS",
                "licenseType": "PERPETUAL",
                "quantity": 8,
                "targetVirtualAccount": "Spare",
            }
        ]
    }
    assert (
        ok(http.post(f"{ACCT}/virtual-accounts/Prod/licenses/transfer", json=move))["status"]
        == "SUCCESS"
    )
    after = ok(http.post(f"{ACCT}/licenses", json={"virtualAccounts": []}))["licenses"]
    assert [(x["virtualAccount"], x["quantity"], x["status"]) for x in after] == [
        ("Prod", 2, "In Compliance"),
        ("Spare", 13, "In Compliance"),
    ]
    _failed(
        http.post(f"{ACCT}/virtual-accounts/Prod/licenses/transfer", json=move), 409, "available"
    )
    bad = move | {"licenses": [move["licenses"][0] | {"license": "No Such License"}]}
    _failed(http.post(f"{ACCT}/virtual-accounts/Prod/licenses/transfer", json=bad), 422, "No Such")

    devices = ok(http.get(f"{ACCT}/virtual-accounts/Prod/devices"))
    assert (devices["totalRecords"], devices["status"]) == (1, "SUCCESS")
    [dev] = devices["devices"]
    assert set(dev) == {
        "hostName", "displayName", "sudi", "productTagName", "productName", "productDescription",
        "productType", "virtualAccount", "registrationDate", "lastContactDate", "status",
        "licenseUsage",
    }  # fmt: skip
    assert dev["sudi"] == {
        "udiPid": "IXM-LPWA-900-16-K9", "udiSerialNumber": "SN001", "udiVid": None, "uuid": None,
        "suvi": None, "hostIdentifier": None, "macAddress": None,
    }  # fmt: skip
    assert dev["hostName"] == "gw-SN001" and dev["virtualAccount"] == "Prod"
    assert dev["licenseUsage"] == [{"license": "Device METROIPACCESS", "quantity": 2}]
    assert (
        ok(http.post(f"{ACCT}/devices", json={"virtualAccounts": ["Spare"]}))["totalRecords"] == 0
    )
    transfer = {
        "productInstances": [
            {
                "sudi": {"udiPid": "IXM-LPWA-900-16-K9", "udiSerialNumber": "SN001"},
                "productTagName": dev["productTagName"],
                "targetVirtualAccount": "Spare",
            }
        ]
    }
    assert (
        ok(http.post(f"{ACCT}/virtual-accounts/Prod/devices/transfer", json=transfer))["status"]
        == "SUCCESS"
    )
    moved = ok(http.post(f"{ACCT}/devices", json={"virtualAccounts": ["Prod", "Spare"]}))
    assert [(d["virtualAccount"], d["sudi"]["udiSerialNumber"]) for d in moved["devices"]] == [
        ("Spare", "SN001")
    ]


def test_virtual_account_clients_are_refused_in_the_vendor_shape(world: LiveAuthority) -> None:
    before = ok(world.client().get(f"/api/v1/accounts/{D}/virtual-accounts/Spare/tokens"))
    va_user = _bearer(world, Role.VIRTUAL_ACCOUNT_USER, "Prod")
    names = [v["name"] for v in ok(va_user.get(f"{ACCT}/virtual-accounts"))["virtualAccounts"]]
    assert names == ["Prod"]
    _failed(va_user.post(f"{ACCT}/virtual-accounts/Prod/tokens", json={}), 403, "read-only")
    _failed(va_user.get(f"{ACCT}/virtual-accounts/Spare/tokens"), 403, "no access")
    _failed(va_user.post(f"{ACCT}/licenses", json={"virtualAccounts": ["Spare"]}), 403, "no access")
    _failed(va_user.post(f"{ACCT}/virtual-accounts", json={"name": "X"}), 403, "may not change")
    va_admin = _bearer(world, Role.VIRTUAL_ACCOUNT_ADMIN, "Prod")
    _failed(va_admin.post(f"{ACCT}/virtual-accounts/Spare/tokens", json={}), 403, "no access")
    assert ok(world.client().get(f"/api/v1/accounts/{D}/virtual-accounts/Spare/tokens")) == before
    _failed(world.client(auth=False).get(f"{SA}/v2/accounts"), 401, "required")
    json_type = {"Content-Type": "application/json"}
    assert _failed(va_user.post(f"{ACCT}/licenses", content=b"{", headers=json_type), 400, "JSON")


def test_license_summary_by_numeric_ids(world: LiveAuthority) -> None:
    _upload(world, "Prod", "SN002")
    http = _bearer(world, Role.SMART_ACCOUNT_USER)
    ids = {"X-CSW-SMART-ACCOUNT-ID": "1", "X-CSW-VIRTUAL-ACCOUNT-ID": "2"}  # Prod
    body = {"data": {"timestamp": 0, "nonce": "n", "tags": []}}
    answer = ok(http.post(f"{SA}/v3/licenses/summary", json=body, headers=ids))
    [line] = answer.pop("summary")
    assert answer == {"status": "SUCCESS"}
    assert line.pop("license_details")[0]["quantity"] == 10
    assert line == {
        "tag": TAG,
        "display_name": "Device METROIPACCESS",
        "compliance_status": "In Compliance",
        "enforced": False,
        "export_restricted": False,
        "prepaid_entitled": 10,
        "prepaid_inuse": 2,
        "prepaid_reserved": 0,
    }
    whole = ok(
        http.post(f"{SA}/v3/licenses/summary", json=body, headers={"X-CSW-SMART-ACCOUNT-ID": "1"})
    )
    assert whole["summary"][0]["prepaid_entitled"] == 15  # Prod and Spare
    _failed(
        http.post(f"{SA}/v3/licenses/summary", json=body, headers={"X-CSW-SMART-ACCOUNT-ID": "99"}),
        404,
        "99",
    )
    va_user = _bearer(world, Role.VIRTUAL_ACCOUNT_USER, "Spare")
    _failed(va_user.post(f"{SA}/v3/licenses/summary", json=body, headers=ids), 403, "no access")


def test_a_deleted_virtual_accounts_id_answers_not_found(world: LiveAuthority) -> None:
    """A tool still sending a deleted virtual account's id lands nowhere, never in the
    account created after it (ids are never reused: 0013_number_counters)."""
    http = _bearer(world)

    def ids() -> dict[str, str]:
        [account] = ok(http.get(f"{SA}/v2/accounts/search"))["accounts"]
        return {v["name"]: v["virtual_account_id"] for v in account["virtual_accounts"]}

    ok(http.post(f"{ACCT}/virtual-accounts", json={"name": "Temp"}))
    temp = ids()["Temp"]
    ok(http.post(f"{ACCT}/virtual-accounts/Temp/delete"))
    ok(http.post(f"{ACCT}/virtual-accounts", json={"name": "Lab"}))
    assert (temp, ids()["Lab"]) == ("4", "5")
    body = {"data": {"timestamp": 0, "nonce": "n", "tags": []}}
    gone = {"X-CSW-SMART-ACCOUNT-ID": "1", "X-CSW-VIRTUAL-ACCOUNT-ID": temp}
    _failed(http.post(f"{SA}/v3/licenses/summary", json=body, headers=gone), 404, "4")
    # ids beyond the column's range name nothing (PostgreSQL refused the parameter: a 500)
    huge = "9" * 12
    for ids in ({"X-CSW-SMART-ACCOUNT-ID": huge}, gone | {"X-CSW-VIRTUAL-ACCOUNT-ID": huge}):
        _failed(http.post(f"{SA}/v3/licenses/summary", json=body, headers=ids), 404, huge)
