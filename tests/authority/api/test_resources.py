"""Each management resource's happy path over HTTP: shapes, status codes, pagination."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import (
    ACCOUNT,
    TAG,
    V1,
    authorize,
    build_world,
    create_token,
    new_device,
    ok,
    pool_line,
    problem,
    register,
    va_path,
)


def test_accounts_and_virtual_accounts(live_authority: LiveAuthority) -> None:
    api = live_authority.client()
    created = ok(api.post(f"{V1}/accounts", json={"name": " Acme ", "domain": "acme.example"}), 201)
    assert created["name"] == "Acme" and created["domain"] == "acme.example"
    assert ok(api.get(ACCOUNT)) == created
    assert ok(api.get(f"{V1}/accounts"))["total"] == 1
    va = ok(api.post(f"{ACCOUNT}/virtual-accounts", json={"name": "Lab", "description": "x"}), 201)
    assert va["is_default"] is False and va["smart_account"] == "acme.example"
    renamed = ok(api.patch(va_path("Lab"), json={"name": "Lab-2"}))
    assert renamed["name"] == "Lab-2" and renamed["id"] == va["id"]
    ok(api.delete(va_path("Lab-2")), 204)
    names = [v["name"] for v in ok(api.get(f"{ACCOUNT}/virtual-accounts"))["items"]]
    assert names == ["DEFAULT"]
    problem(api.patch(va_path("DEFAULT"), json={"name": "x", "extra": 1}), 422, "invalid-input")


def test_catalogue_holdings_and_the_compliance_view(live_authority: LiveAuthority) -> None:
    api = live_authority.client()
    build_world(api)
    catalogue = ok(api.get(f"{V1}/licenses"))
    assert catalogue["total"] == 2
    assert {lic["name"] for lic in catalogue["items"]} == {"metroipaccess", "1588"}
    view = ok(api.get(va_path("Prod", "/licenses")))
    assert view["smart_account"] == "acme.example" and view["virtual_account"] == "Prod"
    line = pool_line(api, "Prod")
    expected = {"purchased": 10, "in_use": 0, "reserved": 0, "available": 10}
    assert {k: line[k] for k in expected} == expected
    assert line["status"] == "In Compliance" and line["display_name"] == "Device METROIPACCESS"
    assert [(h["kind"], h["quantity"], h["active"]) for h in line["holdings"]] == [
        ("perpetual", 10, True)
    ]


def test_tokens(live_authority: LiveAuthority) -> None:
    api = live_authority.client()
    build_world(api)
    created = create_token(
        api, description="lab", expires_after_days=7, max_uses=2, export_controlled_allowed=False
    )
    token = created["token"]
    assert created["text"] and token["status"] == "active" and token["max_uses"] == 2
    assert token["export_controlled_allowed"] is False and token["virtual_account"] == "Prod"
    assert token["created_by"] == "apikey:test-admin"
    listed = ok(api.get(va_path("Prod", "/tokens")))
    assert listed["total"] == 1 and listed["items"][0]["text"] is None  # only with_text=true
    revoked = ok(api.post(f"{ACCOUNT}/tokens/{token['id']}/actions/revoke"))
    assert revoked["status"] == "revoked" and revoked["revoked_at"]


def test_devices_search_transfer_and_remove(live_authority: LiveAuthority) -> None:
    live, api = live_authority, live_authority.client()
    build_world(api)
    token = create_token(api)["text"]
    devices = [new_device(live, n) for n in range(3)]
    for device in devices:
        register(live, api, device, token)
        authorize(live, api, device, {TAG: 1})
    page = ok(api.get(f"{ACCOUNT}/devices", params={"limit": 2, "offset": 2}))
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 2, 1)
    found = ok(api.get(f"{ACCOUNT}/devices", params={"search": "FOX00001"}))["items"]
    assert [d["udi_sn"] for d in found] == ["FOX00001"]
    one = ok(api.get(f"{ACCOUNT}/devices/{found[0]['id']}"))
    assert one["hostname"] == "router1" and one["usage"][0]["tag"] == TAG
    moved = ok(
        api.post(f"{ACCOUNT}/devices/{one['id']}/actions/transfer", json={"target": "Spare"})
    )
    assert moved["virtual_account"] == "Spare"
    assert pool_line(api, "Prod")["in_use"] == 2 and pool_line(api, "Spare")["in_use"] == 1
    spare = ok(api.get(f"{ACCOUNT}/devices", params={"virtual_account": "Spare"}))
    assert spare["total"] == 1
    ok(api.delete(f"{ACCOUNT}/devices/{one['id']}"), 204)
    assert pool_line(api, "Spare")["in_use"] == 0


def test_events_are_paged_and_filtered(live_authority: LiveAuthority) -> None:
    api = live_authority.client()
    build_world(api)
    everything = ok(api.get(f"{ACCOUNT}/events"))
    assert everything["total"] >= 5
    first = ok(api.get(f"{ACCOUNT}/events", params={"limit": 2}))
    second = ok(api.get(f"{ACCOUNT}/events", params={"limit": 2, "offset": 2}))
    assert [e["id"] for e in first["items"] + second["items"]] == [
        e["id"] for e in everything["items"][:4]
    ]
    vas = ok(api.get(f"{ACCOUNT}/events", params={"name_prefix": "virtual_account."}))
    assert {e["name"] for e in vas["items"]} == {"virtual_account.created"}
    assert all(e["actor"] == "apikey:test-admin" for e in vas["items"])
    capped = ok(api.get(f"{V1}/events", params={"limit": 10_000}))
    assert capped["limit"] <= 500
    problem(api.get(f"{V1}/accounts/nobody.example/events"), 404, "not-found")


def _walk(api: httpx.Client, first: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item from ``first`` on, following the ``next`` links."""
    items, page = list(first["items"]), first
    while page["next"]:
        page = ok(api.get(page["next"]))
        assert page["total"] is None and page["offset"] == 0
        items += page["items"]
    return items


def test_device_list_keyset_pages(live_authority: LiveAuthority) -> None:
    # the lab clock stands still: every instance has the same registered_at, so the pages
    # are told apart by the id half of the key alone
    live, api = live_authority, live_authority.client()
    build_world(api)
    token = create_token(api)["text"]
    for n in range(5):
        register(live, api, new_device(live, n), token)
    everything = ok(api.get(f"{ACCOUNT}/devices"))
    assert everything["total"] == 5 and everything["next"] is None
    first = ok(api.get(f"{ACCOUNT}/devices", params={"cursor": "", "limit": 2}))
    assert first["total"] is None and first["next_cursor"] and "cursor=" in first["next"]
    assert _walk(api, first) == everything["items"]
    # an offset page hands out the cursor of its end too, and the filters ride along
    offset_page = ok(api.get(f"{ACCOUNT}/devices", params={"limit": 2, "offset": 1}))
    after = ok(api.get(f"{ACCOUNT}/devices", params={"cursor": offset_page["next_cursor"]}))
    assert after["items"] == everything["items"][3:]
    va_first = ok(api.get(f"{ACCOUNT}/devices", params={"virtual_account": "Prod", "limit": 4}))
    assert "virtual_account=Prod" in va_first["next"]
    assert len(_walk(api, va_first)) == 5


def test_event_log_keyset_pages(live_authority: LiveAuthority) -> None:
    api = live_authority.client()
    build_world(api)
    everything = ok(api.get(f"{ACCOUNT}/events"))
    first = ok(api.get(f"{ACCOUNT}/events", params={"cursor": "", "limit": 2}))
    assert _walk(api, first) == everything["items"]
    wide = ok(api.get(f"{V1}/events", params={"cursor": "", "limit": 3}))
    assert [e["id"] for e in _walk(api, wide)] == [
        e["id"] for e in ok(api.get(f"{V1}/events"))["items"]
    ]
    named = ok(api.get(f"{ACCOUNT}/events", params={"name_prefix": "holding", "limit": 1}))
    assert {e["name"] for e in _walk(api, named)} <= {"holding.added"}


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # [] : the wrong shape
        {"cursor": "WyJ4Il0"},  # ["x"] : text where an id or a time is due
        {"cursor": "x" * 201},
        {"cursor": "", "offset": 3},
    ],
)
def test_bad_cursors_are_refused(live_authority: LiveAuthority, params: dict[str, Any]) -> None:
    api = live_authority.client()
    build_world(api)
    before = ok(api.get(f"{ACCOUNT}/events"))
    for path in (f"{ACCOUNT}/devices", f"{ACCOUNT}/events", f"{V1}/events"):
        problem(api.get(path, params=params), 422, "invalid-input")
    assert ok(api.get(f"{ACCOUNT}/events")) == before


def test_license_file_udi_in_either_typed_form(live_authority: LiveAuthority) -> None:
    """The ``udi`` of a license file request takes what ``Udi.parse`` takes (the long form and
    the short ``<pid>:<serial>``, however short); what it refuses is a 422 and issues nothing."""
    api = live_authority.client()
    build_world(api)
    files = va_path("Prod", "/license-files")
    for udi, expected in (("PID:ASR-903,SN:LF1", "PID:ASR-903,SN:LF1"), ("A:1", "PID:A,SN:1")):
        issued = ok(api.post(files, json={"udi": udi, "feature": TAG, "count": 1}), 201)
        assert issued["udi"] == expected
    before = pool_line(api, "Prod")
    for udi in ("A:", "PID:ASR-903", "nonsense"):
        refused = api.post(files, json={"udi": udi, "feature": TAG, "count": 1})
        problem(refused, 422, "invalid-input")
    assert pool_line(api, "Prod") == before
