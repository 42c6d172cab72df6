"""Where the vendor device API acts for an authenticated caller, over real HTTP: the virtual
account an ``authrequest`` names in ``data.license_pool_id`` (issue 9), and the scope of a
caller carrying device-signed ``reportusage`` reports (the same rule as the ``/api/v1``
usage-file upload). Each refusal is an attack: the vendor's failure shape, nothing stored
changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import Role
from smartlic.formats.envelope import timestamp_ms
from smartlic.formats.rum import usage_file
from tests.authority.api.helpers import ACCOUNT, DOMAIN, TAG, V1, ok, pool_line, problem, snapshot
from tests.authority.api.test_policy_mode_api import (  # noqa: F401 - fixtures
    HSEC,
    PID,
    VENDOR,
    World,
    complete,
    trusted,
    vendor_body,
    world,
)
from tests.devices import PolicyDevice

AUTHREQUEST = f"{VENDOR}/v2/devices/authrequest"
REPORTUSAGE = f"{VENDOR}/v2/devices/reportusage"


def _numbers(w: World) -> dict[str, str]:
    """Virtual account name -> its numeric id (as ``v2/accounts/search`` shows it)."""
    vas = w.live.services.accounts.list_virtual_accounts(DOMAIN, scope=SYSTEM)
    return {va.name: str(va.number) for va in vas}


def _key(w: World, role: Role, va: str | None = None) -> httpx.Client:
    created = w.live.services.api_keys.create_api_key(
        name=f"{role.value}-{va}", role=role, smart_account=DOMAIN, virtual_account=va, actor="t"
    )
    return w.live.client(created.text)


def _ask(w: World, pool: Any, **extra: Any) -> dict[str, Any]:
    sudi = {"udi_pid": PID, "udi_serial_number": "FOC1"}
    line = {"sudi": sudi, "hostname": "r1", "keys": [{"entitlement": HSEC, "count": 1}]}
    return vendor_body(w, license_pool_id=pool, licenses=[line], **extra)


@pytest.mark.usefixtures("trusted")
def test_license_pool_id_names_the_virtual_account(world: World) -> None:  # noqa: F811
    ids = _numbers(world)
    admin = _key(world, Role.SMART_ACCOUNT_ADMIN)
    only_account = {"X-CSW-SMART-ACCOUNT-ID": "1"}
    answer = ok(admin.post(AUTHREQUEST, json=_ask(world, ids["Prod"]), headers=only_account), 202)
    [item] = complete(world, admin, answer)["data"]["authorizations"]
    assert item["status"] == "SUCCESS", item
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 1
    # a name is taken as the headers take it, and an integer as the vendor's JSON sends it
    for pool in ("Prod", int(ids["Prod"])):
        again = ok(admin.post(AUTHREQUEST, json=_ask(world, pool), headers=only_account), 202)
        [item] = complete(world, admin, again)["data"]["authorizations"]
        assert item["error_code"] == "insufficient-licenses"  # asked of Prod: its one is taken


def test_a_license_pool_id_against_the_headers_or_the_callers_scope_is_refused(
    world: World,  # noqa: F811
    trusted: PolicyDevice,  # noqa: F811
) -> None:
    ids = _numbers(world)
    admin = _key(world, Role.SMART_ACCOUNT_ADMIN)
    prod = {"X-CSW-SMART-ACCOUNT-ID": "1", "X-CSW-VIRTUAL-ACCOUNT-ID": ids["Prod"]}
    only_account = {"X-CSW-SMART-ACCOUNT-ID": "1"}
    prod_admin = _key(world, Role.VIRTUAL_ACCOUNT_ADMIN, "Prod")
    reader = _key(world, Role.SMART_ACCOUNT_USER)
    before = snapshot(world.api)
    for client, pool, headers, status, code, words in (
        (admin, ids["Spare"], prod, 422, "invalid-input", "X-CSW-VIRTUAL-ACCOUNT-ID names"),
        (admin, "99", only_account, 404, "not-found", "no virtual account 99"),
        (admin, 10**12, only_account, 404, "not-found", "no virtual account 1000000000000"),
        (admin, [2], only_account, 422, "invalid-input", "license_pool_id"),
        (prod_admin, ids["Spare"], only_account, 404, "not-found", "no virtual account"),
        (reader, ids["Prod"], only_account, 403, "forbidden", "read-only"),
    ):
        # with a device's own request beside: refused before it too, so nothing is issued
        body = _ask(world, pool, requests=[trusted.auth_request({HSEC: 1})])
        refused = client.post(AUTHREQUEST, json=body, headers=headers)
        assert words in problem(refused, status, code)["message"]
    assert snapshot(world.api) == before
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 0


def test_a_carrier_reports_only_for_virtual_accounts_it_may_change(
    world: World,  # noqa: F811
    trusted: PolicyDevice,  # noqa: F811
) -> None:
    """A device's signed reports carried by an authenticated caller (a tool, with the
    file's days-old timestamp) count only when the caller may change the device's virtual
    account, as the ``/api/v1`` upload requires: a read-only caller, or one of another
    virtual account, is refused whole, with or without headers, nothing stored."""
    body = trusted.body(trusted.report(TAG, 2))
    body["data"]["timestamp"] = timestamp_ms(world.live.clock.now()) - 3 * 86_400_000
    spare = {"X-CSW-SMART-ACCOUNT-ID": "1", "X-CSW-VIRTUAL-ACCOUNT-ID": "Spare"}
    spare_admin = _key(world, Role.VIRTUAL_ACCOUNT_ADMIN, "Spare")
    before = snapshot(world.api)
    for client, headers, words in (
        (_key(world, Role.SMART_ACCOUNT_USER), {}, "may not report usage"),  # read-only
        (_key(world, Role.VIRTUAL_ACCOUNT_USER, "Prod"), {}, "read-only in virtual account"),
        (spare_admin, {}, "may not report usage"),  # another virtual account's
        (spare_admin, spare, "may not report usage"),
    ):
        refused = client.post(REPORTUSAGE, json=body, headers=headers)
        assert words in problem(refused, 403, "forbidden")["message"]
    # the same rule for a usage file carrying the device's report into another account
    carried = usage_file([trusted.report(TAG, 3)])
    path = f"{ACCOUNT}/virtual-accounts/Spare/usage-files"
    problem(spare_admin.post(path, files={"file": ("u.xml", carried)}), 403, "forbidden")
    assert snapshot(world.api) == before
    prod_admin = _key(world, Role.VIRTUAL_ACCOUNT_ADMIN, "Prod")
    done = complete(world, prod_admin, ok(prod_admin.post(REPORTUSAGE, json=body), 202))
    [ack] = done["data"]["acknowledgements"]
    assert len(ack["acknowledged"]) == 1 and ack["rejected"] == []
    assert pool_line(world.api, "Prod")["in_use"] == 2


def test_another_accounts_carrier_counts_nothing(
    world: World,  # noqa: F811
    trusted: PolicyDevice,  # noqa: F811
) -> None:
    """A key of another smart account without headers: the device is refused as another
    account's (no ACK, which would name it), its report not counted (it was counted)."""
    ok(world.api.post(f"{V1}/accounts", json={"name": "Rival", "domain": "rival.example"}), 201)
    created = world.live.services.api_keys.create_api_key(
        name="rival", role=Role.SMART_ACCOUNT_ADMIN, smart_account="rival.example", actor="t"
    )
    rival = world.live.client(created.text)
    before = snapshot(world.api)
    answer = ok(rival.post(REPORTUSAGE, json=trusted.body(trusted.report(TAG, 2))), 202)
    done = complete(world, rival, answer)["data"]
    assert done["acknowledgements"] == []
    [error] = done["errors"]
    assert error["rejected"][0]["code"] == "ownership-not-proven", error
    assert snapshot(world.api) == before


def test_a_pool_the_caller_cannot_read_answers_as_one_that_does_not_exist(
    world: World,  # noqa: F811
) -> None:
    """By name as by number: the refusal of an existing virtual account the caller cannot
    read is the very answer of a name that names none (it quoted only the missing name)."""
    ids = _numbers(world)
    prod_admin = _key(world, Role.VIRTUAL_ACCOUNT_ADMIN, "Prod")
    only_account = {"X-CSW-SMART-ACCOUNT-ID": "1"}
    before = snapshot(world.api)
    answers = []
    for pool in ("Spare", "Nowhere", ids["Spare"], "99"):
        refused = prod_admin.post(AUTHREQUEST, json=_ask(world, pool), headers=only_account)
        message = problem(refused, 404, "not-found")["message"]
        answers.append(message.replace(str(pool), "<pool>"))
    assert len(set(answers)) == 1, answers
    assert snapshot(world.api) == before


def test_a_license_pool_id_of_odd_digits_names_nothing(world: World) -> None:  # noqa: F811
    """Text ``str.isdigit`` takes for digits but ``int`` does not read (a superscript, more
    than 4300 digits) answered 500; other scripts' digits named the account of that number.
    All name no virtual account: not found, nothing stored."""
    admin = _key(world, Role.SMART_ACCOUNT_ADMIN)
    only_account = {"X-CSW-SMART-ACCOUNT-ID": "1"}
    before = snapshot(world.api)
    for pool in ("\u00b2", "9" * 5000, "\u0661"):  # '²', 5000 nines, ARABIC-INDIC DIGIT ONE
        refused = admin.post(AUTHREQUEST, json=_ask(world, pool), headers=only_account)
        assert "no virtual account" in problem(refused, 404, "not-found")["message"]
    assert snapshot(world.api) == before
