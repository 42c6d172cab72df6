"""Bad input: every refusal is a 4xx problem with a stable code AND nothing stored changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from smartlic.crypto import generate_key, make_token_text
from smartlic.formats.envelope import iso, seal_with_key
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import (
    ACCOUNT,
    DEVICE,
    TAG,
    V1,
    authorize,
    build_world,
    create_token,
    new_device,
    ok,
    open_response,
    pool_line,
    problem,
    register,
    snapshot,
    va_path,
)


@pytest.fixture
def world(live_authority: LiveAuthority) -> LiveAuthority:
    build_world(live_authority.client())
    return live_authority


def refused(
    api: httpx.Client, call: Callable[[], httpx.Response], status: int, code: str
) -> dict[str, Any]:
    """Run ``call``; it must be refused with ``status``/``code`` and change nothing stored."""
    before = snapshot(api)
    body = problem(call(), status, code)
    assert snapshot(api) == before
    return body


def test_unknown_and_malformed_tokens(world: LiveAuthority) -> None:
    api, device = world.client(), new_device(world, 1)
    unknown = make_token_text(world.keys.ca_fingerprint)
    for text in (unknown, "not-a-token"):
        request = device.register_request(text)
        refused(api, lambda r=request: api.post(f"{DEVICE}/register", json=r), 403, "token-unknown")


def test_revoked_and_expired_tokens(world: LiveAuthority) -> None:
    api, device = world.client(), new_device(world, 1)
    revoked = create_token(api)
    ok(api.post(f"{ACCOUNT}/tokens/{revoked['token']['id']}/actions/revoke"))
    request = device.register_request(revoked["text"])
    refused(api, lambda: api.post(f"{DEVICE}/register", json=request), 403, "token-revoked")
    expiring = create_token(api, expires_after_days=1)["text"]
    world.clock.advance(days=1, seconds=1)
    request = device.register_request(expiring)
    refused(api, lambda: api.post(f"{DEVICE}/register", json=request), 403, "token-expired")


def test_used_up_token(world: LiveAuthority) -> None:
    api = world.client()
    token = create_token(api, max_uses=1)["text"]
    register(world, api, new_device(world, 1), token)
    request = new_device(world, 2).register_request(token)
    refused(api, lambda: api.post(f"{DEVICE}/register", json=request), 403, "token-used-up")


def test_re_registration_needs_force(world: LiveAuthority) -> None:
    api, device = world.client(), new_device(world, 1)
    token = create_token(api)["text"]
    first = register(world, api, device, token)
    request = device.register_request(token)
    refused(api, lambda: api.post(f"{DEVICE}/register", json=request), 409, "already-registered")
    forced = device.register_request(token, force=True)
    again = open_response(world, api.post(f"{DEVICE}/register", json=forced))
    assert again["instance_id"] != first["instance_id"]
    assert ok(api.get(f"{ACCOUNT}/devices"))["total"] == 1


def test_a_request_signed_with_the_wrong_key(world: LiveAuthority) -> None:
    api, device = world.client(), new_device(world, 1)
    register(world, api, device, create_token(api)["text"])
    honest = device.authorize({TAG: 1})
    forged = seal_with_key(
        {**_payload(honest), "nonce": "forgedforged0001"}, generate_key(), device.key_id
    )
    refused(api, lambda: api.post(f"{DEVICE}/authorize", json=forged), 401, "bad-signature")


def test_a_replayed_request(world: LiveAuthority) -> None:
    api, device = world.client(), new_device(world, 1)
    register(world, api, device, create_token(api)["text"])
    envelope = device.authorize({TAG: 1})
    ok(api.post(f"{DEVICE}/authorize", json=envelope))
    refused(api, lambda: api.post(f"{DEVICE}/authorize", json=envelope), 409, "replay")


def test_unknown_tags(world: LiveAuthority) -> None:
    api = world.client()
    bogus = TAG.replace("metroipaccess", "nosuchthing")
    body = refused(
        api,
        lambda: api.post(va_path("Prod", "/licenses"), json={"tag": bogus, "quantity": 1}),
        422,
        "unknown-tag",
    )
    assert body["pointer"] == "/tag"
    move = {"tag": bogus, "quantity": 1, "target": "Spare"}
    transfer = va_path("Prod", "/licenses/actions/transfer")
    refused(api, lambda: api.post(transfer, json=move), 422, "unknown-tag")


def test_a_device_asking_for_an_unknown_tag_is_told_so(world: LiveAuthority) -> None:
    api, device = world.client(), new_device(world, 1)
    register(world, api, device, create_token(api)["text"])
    bogus = TAG.replace("metroipaccess", "nosuchthing")
    answer = authorize(world, api, device, {bogus: 1})
    assert [e["status"] for e in answer["entitlements"]] == ["INVALID TAG"]


@pytest.mark.parametrize("quantity", [-1, 0, 10**8, "5", 1.5, None])
def test_bad_quantities(world: LiveAuthority, quantity: object) -> None:
    api = world.client()
    body = refused(
        api,
        lambda: api.post(va_path("Prod", "/licenses"), json={"tag": TAG, "quantity": quantity}),
        422,
        "invalid-input",
    )
    assert body["pointer"] == "/quantity"
    move = {"tag": TAG, "quantity": quantity, "target": "Spare"}
    transfer = va_path("Prod", "/licenses/actions/transfer")
    assert refused(api, lambda: api.post(transfer, json=move), 422, "invalid-input")["pointer"] == (
        "/quantity"
    )


def test_transfer_of_more_than_available(world: LiveAuthority) -> None:
    api = world.client()
    move = {"tag": TAG, "quantity": 11, "target": "Spare"}
    transfer = va_path("Prod", "/licenses/actions/transfer")
    refused(api, lambda: api.post(transfer, json=move), 409, "insufficient-licenses")
    refused(
        api,
        lambda: api.post(transfer, json={**move, "quantity": 1, "target": "Nowhere"}),
        404,
        "not-found",
    )


def test_a_transfer_of_one_kind_moves_only_holdings_of_that_kind(world: LiveAuthority) -> None:
    api = world.client()
    ends = iso(world.clock.now() + timedelta(days=90))
    term = {"tag": TAG, "quantity": 3, "kind": "term", "ends_at": ends}
    ok(api.post(va_path("Prod", "/licenses"), json=term), 201)  # Prod: 10 perpetual + 3 term
    move = {"tag": TAG, "quantity": 2, "target": "Spare", "kind": "term"}
    done = ok(api.post(va_path("Prod", "/licenses/actions/transfer"), json=move))
    assert (done["kind"], done["quantity"], done["target"]) == ("term", 2, "Spare")
    prod = {h["kind"]: h["quantity"] for h in pool_line(api, "Prod")["holdings"]}
    spare = sorted((h["kind"], h["quantity"]) for h in pool_line(api, "Spare")["holdings"])
    assert prod == {"perpetual": 10, "term": 1}  # the perpetual holding did not move
    assert spare == [("perpetual", 5), ("term", 2)]
    ends_at = {va: _term_end(api, va) for va in ("Prod", "Spare")}
    assert ends_at["Prod"] == ends_at["Spare"] is not None  # the term goes with its dates


def _term_end(api: httpx.Client, va: str) -> str | None:
    return next(h["ends_at"] for h in pool_line(api, va)["holdings"] if h["kind"] == "term")


def test_a_transfer_of_an_unknown_or_missing_kind_moves_nothing(world: LiveAuthority) -> None:
    api = world.client()
    transfer = va_path("Prod", "/licenses/actions/transfer")
    move = {"tag": TAG, "quantity": 1, "target": "Spare"}
    for kind in ("lifetime", "TERM", 1, ""):
        body = refused(api, lambda k=kind: api.post(transfer, json={**move, "kind": k}), 422,
                       "invalid-input")  # fmt: skip
        assert body["pointer"] == "/kind"
    # Prod holds 10 perpetual and no term: a term transfer is refused, the perpetual stay
    body = refused(
        api, lambda: api.post(transfer, json={**move, "kind": "term"}), 409, "insufficient-licenses"
    )
    assert "0 term metroipaccess available" in body["detail"]


@pytest.mark.parametrize(
    "path",
    [f"{V1}/accounts", va_path("Prod", "/licenses"), f"{DEVICE}/register", f"{DEVICE}/authorize"],
)
def test_malformed_json(world: LiveAuthority, path: str) -> None:
    api = world.client()
    headers = {"content-type": "application/json"}
    refused(
        api,
        lambda: api.post(path, content=b'{"name": "x",', headers=headers),
        400,
        "malformed-json",
    )


def test_validation_errors_point_at_the_field(world: LiveAuthority) -> None:
    api = world.client()
    body = refused(
        api,
        lambda: api.post(f"{V1}/accounts", json={"name": "X", "domain": "NOT A DOMAIN"}),
        422,
        "invalid-input",
    )
    assert body["pointer"] == "/domain"
    body = refused(
        api, lambda: api.post(f"{V1}/accounts", json={"name": "X"}), 422, "invalid-input"
    )
    assert body["pointer"] == "/domain"
    body = refused(
        api, lambda: api.get(f"{ACCOUNT}/devices", params={"limit": -1}), 422, "invalid-input"
    )
    assert body["parameter"] == "limit" and "pointer" not in body
    body = refused(
        api,
        lambda: api.post(va_path("Prod", "/tokens"), json={"expires_after_days": 400}),
        422,
        "invalid-input",
    )
    assert body["pointer"] == "/expires_after_days"
    bad_udi = {"token": "x", "udi": {"pid": "A"}, "csr": "x", "timestamp": 1, "nonce": "n"}
    body = refused(api, lambda: api.post(f"{DEVICE}/register", json=bad_udi), 422, "invalid-input")
    assert body["pointer"] == "/udi/sn"


def test_conflicts_and_missing_things(world: LiveAuthority) -> None:
    api = world.client()
    refused(
        api,
        lambda: api.post(f"{V1}/accounts", json={"name": "Again", "domain": "acme.example"}),
        409,
        "conflict",
    )
    refused(
        api, lambda: api.post(f"{ACCOUNT}/virtual-accounts", json={"name": "Prod"}), 409, "conflict"
    )
    refused(api, lambda: api.delete(va_path("Prod")), 409, "not-empty")
    refused(api, lambda: api.delete(va_path("DEFAULT")), 409, "is-default")
    refused(api, lambda: api.get(f"{V1}/accounts/nobody.example"), 404, "not-found")
    refused(api, lambda: api.get(va_path("Nowhere", "/licenses")), 404, "not-found")
    refused(api, lambda: api.post(f"{ACCOUNT}/tokens/nope/actions/revoke"), 404, "not-found")
    refused(api, lambda: api.get("/api/v1/nothing-here"), 404, "not-found")
    body = refused(api, lambda: api.put(f"{V1}/accounts"), 405, "method-not-allowed")
    assert "PUT" in body["detail"]


def _payload(envelope: dict[str, Any]) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(envelope["payload"])
    return data
