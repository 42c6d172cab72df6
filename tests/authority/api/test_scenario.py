"""Issue 2's "done when" scenario, end to end over real HTTP on loopback."""

from __future__ import annotations

from datetime import timedelta

from smartlic.formats.envelope import iso
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import (
    ACCOUNT,
    DEVICE,
    OTHER,
    TAG,
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


def test_twelve_instances_on_ten_licenses_then_a_transfer_restores_compliance(
    live_authority: LiveAuthority,
) -> None:
    live, api = live_authority, live_authority.client()
    build_world(api, prod=10, spare=5)
    token = create_token(api, "Prod", description="scenario", expires_after_days=30)["text"]

    devices = [new_device(live, n) for n in range(12)]
    answers = []
    for device in devices:
        registration = register(live, api, device, token)
        assert registration["virtual_account"] == "Prod"
        answers.append(authorize(live, api, device, {TAG: 1})["status"])
        if len(answers) == 10:
            assert ok(api.get(va_path("Prod", "/licenses")))["status"] == "In Compliance"
        if len(answers) == 11:
            assert ok(api.get(va_path("Prod", "/licenses")))["status"] == "Out of Compliance"
    assert answers[:10] == ["AUTHORIZED"] * 10
    assert answers[10:] == ["OUT OF COMPLIANCE"] * 2
    line = pool_line(api, "Prod")
    assert (line["purchased"], line["in_use"], line["available"]) == (10, 12, -2)
    assert line["status"] == "Out of Compliance"

    transfer = {"tag": TAG, "quantity": 5, "target": "Prod"}
    ok(api.post(va_path("Spare", "/licenses/actions/transfer"), json=transfer))
    view = ok(api.get(va_path("Prod", "/licenses")))
    assert view["status"] == "In Compliance"
    assert pool_line(api, "Prod")["purchased"] == 15
    assert pool_line(api, "Spare")["purchased"] == 0

    listed = ok(api.get(f"{ACCOUNT}/devices", params={"virtual_account": "Prod", "limit": 5}))
    assert listed["total"] == 12 and len(listed["items"]) == 5
    victim = listed["items"][0]["id"]
    ok(api.delete(f"{ACCOUNT}/devices/{victim}"), 204)
    assert pool_line(api, "Prod")["in_use"] == 11
    problem(api.get(f"{ACCOUNT}/devices/{victim}"), 404, "not-found")


def test_a_term_license_past_its_end_stops_counting(live_authority: LiveAuthority) -> None:
    live, api = live_authority, live_authority.client()
    build_world(api)
    ends = live.clock.now() + timedelta(days=30)
    term = {"tag": OTHER, "quantity": 2, "kind": "term", "ends_at": iso(ends)}
    holding = ok(api.post(va_path("Prod", "/licenses"), json=term), 201)
    assert holding["active"] is True and holding["kind"] == "term"
    device = new_device(live, 1)
    register(live, api, device, create_token(api)["text"])
    assert authorize(live, api, device, {TAG: 1, OTHER: 2})["status"] == "AUTHORIZED"
    assert pool_line(api, "Prod", OTHER)["status"] == "In Compliance"

    live.clock.advance(days=31)
    line = pool_line(api, "Prod", OTHER)
    assert (line["purchased"], line["in_use"]) == (0, 2)
    assert line["status"] == "Out of Compliance"
    assert [h["active"] for h in line["holdings"]] == [False]
    assert authorize(live, api, device, {TAG: 1, OTHER: 2})["status"] == "OUT OF COMPLIANCE"


def test_revoked_and_expired_tokens_are_refused(live_authority: LiveAuthority) -> None:
    live, api = live_authority, live_authority.client()
    build_world(api)
    revoked = create_token(api, description="to revoke")
    ok(api.post(f"{ACCOUNT}/tokens/{revoked['token']['id']}/actions/revoke"))
    short = create_token(api, expires_after_days=1)
    device = new_device(live, 7)
    reply = api.post(f"{DEVICE}/register", json=device.register_request(revoked["text"]))
    problem(reply, 403, "token-revoked")
    live.clock.advance(days=2)
    reply = api.post(f"{DEVICE}/register", json=device.register_request(short["text"]))
    problem(reply, 403, "token-expired")
    statuses = {t["id"]: t["status"] for t in ok(api.get(va_path("Prod", "/tokens")))["items"]}
    assert statuses == {revoked["token"]["id"]: "revoked", short["token"]["id"]: "expired"}
    assert ok(api.get(f"{ACCOUNT}/devices"))["total"] == 0


def test_deregistration_frees_usage_and_is_logged(live_authority: LiveAuthority) -> None:
    live, api = live_authority, live_authority.client()
    build_world(api)
    device = new_device(live, 3)
    register(live, api, device, create_token(api)["text"])
    authorize(live, api, device, {TAG: 3})
    assert pool_line(api, "Prod")["in_use"] == 3
    ok(api.post(f"{DEVICE}/deregister", json=device.deregister()))
    assert pool_line(api, "Prod")["in_use"] == 0
    names = [e["name"] for e in ok(api.get(f"{ACCOUNT}/events"))["items"]]
    assert "instance.registered" in names and "instance.deregistered" in names
    everywhere = ok(api.get("/api/v1/events", params={"name_prefix": "instance."}))
    assert {e["name"] for e in everywhere["items"]} >= {"instance.registered"}
