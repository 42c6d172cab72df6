"""Finding 10 (issue 8): values that made the authority answer 500, some for good. Each is now
refused where it enters (``smartlic.formats.bounds``) with a clear reason, nothing stored
changes, and the device's later reads and reports still work."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from smartlic.crypto import Udi, sign_bytes
from smartlic.domain.products import DEFAULT_PROFILE
from smartlic.formats.bounds import MAX_OFFSET
from smartlic.formats.envelope import ALG
from smartlic.formats.rum import Measurement, RumReport, key_id_of, sign_report
from tests.authority.api import test_policy_mode_api as policy
from tests.authority.api.helpers import (
    ACCOUNT,
    DEVICE,
    TAG,
    V1,
    create_token,
    new_device,
    ok,
    pool_line,
    problem,
    register,
    snapshot,
)
from tests.authority.api.test_policy_mode_api import (
    VENDOR,
    World,
    complete,
    instance_id,
    report,
    token,
    vendor_body,
)
from tests.devices import PolicyDevice

# the policy-mode world: acme.example with Prod and Spare, and FOC1 trusted in Prod
world, trusted = policy.world, policy.trusted

HOUR = 3600


def signed(dev: PolicyDevice, report_id: int, start: int, end: int, value: int) -> dict[str, Any]:
    """A report signed by the device's own trust key, with whatever ids and times it says."""
    rum = RumReport(
        report_id, dev.udi, DEFAULT_PROFILE.software_tag, TAG, [Measurement(start, end, value)]
    )
    return sign_report(rum, dev.key)


def history(world: World, sn: str) -> list[dict[str, Any]]:
    got = ok(world.api.get(f"{ACCOUNT}/devices/{instance_id(world, sn)}/usage"))
    items: list[dict[str, Any]] = got["items"]
    return items


@pytest.mark.parametrize(
    ("report_id", "end", "reason"),
    [
        (2**63, None, "report_id must be an integer 1-9223372036854775807"),
        (2**64 + 5, None, "report_id must be an integer"),
        (None, 2**62, "end_time must be epoch seconds between 2000-01-01 and 9999-12-31"),
        (None, 2**70, "end_time must be epoch seconds"),
    ],
    ids=["id-2**63", "id-2**64", "end-2**62", "end-2**70"],
)
def test_out_of_range_report_ids_and_times_are_rejected_alone(
    world: World, trusted: PolicyDevice, report_id: int | None, end: int | None, reason: str
) -> None:
    """A stored end_time of 2**62 broke the device's usage history for good and froze its
    count; a report id of 2**63 answered 500. Now the report is rejected in the ACK with its
    reason, a good report in the same request is counted, and later reads work."""
    now = int(world.live.clock.now().timestamp())
    complete(
        world, world.anon, ok(report(world, world.anon, trusted.body(trusted.report(TAG, 2))), 202)
    )
    before = history(world, "FOC1")
    bad = signed(trusted, report_id or now, now - HOUR, end or now, 7)
    good = trusted.report(TAG, 3)
    done = complete(world, world.anon, ok(report(world, world.anon, trusted.body(bad, good)), 202))
    [item] = done["data"]["acknowledgements"]
    [rejected] = item["rejected"]
    assert rejected["reason"].startswith(reason), rejected
    assert len(item["acknowledged"]) == 1  # the good one
    after = history(world, "FOC1")
    assert len(after) == len(before) + 1 and all(r["end"] for r in after)
    assert pool_line(world.api, "Prod")["in_use"] == 3  # the good report's count, not 7
    later = trusted.report(TAG, 1)
    complete(world, world.anon, ok(report(world, world.anon, trusted.body(later)), 202))
    assert pool_line(world.api, "Prod")["in_use"] == 1  # the device's count still moves


def test_request_timestamps_out_of_range_are_invalid_input(
    world: World, trusted: PolicyDevice
) -> None:
    """``"timestamp": 10**400`` made register and reportusage answer 500 (float overflow)."""
    api = world.api
    request = new_device(world.live, 7).register_request(create_token(api)["text"])
    before = snapshot(api)
    for stamp in (10**400, 2**63, -1, 1.5e12, "1767225600000"):
        got = api.post(f"{DEVICE}/register", json=request | {"timestamp": stamp})
        assert problem(got, 422, "invalid-input")["pointer"] == "/timestamp"
        vendor = trusted.body(trusted.report(TAG, 1))
        vendor["data"]["timestamp"] = stamp
        refused = problem(report(world, world.anon, vendor), 422, "invalid-input")
        assert "timestamp" in refused["detail"]
    assert snapshot(api) == before


def post_json(client: httpx.Client, url: str, body: Any) -> httpx.Response:
    """JSON as ``json.dumps`` writes it: a lone surrogate travels as the escape ``\\ud800``
    (valid JSON; httpx's own encoder cannot send it)."""
    headers = {"Content-Type": "application/json"}
    return client.post(url, content=json.dumps(body), headers=headers)


def ascii_signed(dev: PolicyDevice, payload: dict[str, Any]) -> dict[str, Any]:
    """A trust request signed by its device, its payload escaped to ASCII by ``json.dumps``."""
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    pub = dev.key.public_key()
    signature = {"alg": ALG, "key_id": key_id_of(pub), "value": sign_bytes(dev.key, text.encode())}
    return {"payload": text, "signature": signature}


@pytest.mark.parametrize(
    "bad",
    ["\ud800", "FOX\udfff1", "A\x00B", "X" * 65],
    ids=["lone-high", "lone-low", "nul", "too-long"],
)
def test_udis_that_are_not_valid_text_are_refused(
    world: World, trusted: PolicyDevice, bad: str
) -> None:
    """A lone surrogate in a UDI (valid JSON: ``"\\ud800"``) answered 500 when stored."""
    api = world.api
    request = new_device(world.live, 8).register_request(create_token(api)["text"])
    request["udi"]["sn"] = bad
    stranger = PolicyDevice(Udi(trusted.udi.pid, "FOC2"), world.live.clock)
    trust = json.loads(stranger.trust_request(token(world))["payload"])
    trust["udi"]["sn"] = bad
    body = stranger.body(stranger.report(TAG, 1))
    body["data"]["reports"][0]["sudi"]["udi_serial_number"] = bad
    before = snapshot(api)
    got = problem(post_json(api, f"{DEVICE}/register", request), 422, "invalid-input")
    assert got["pointer"] == "/udi/sn"
    url = f"{VENDOR}/v2/devices/reportusage"
    refused = problem(post_json(world.anon, url, body), 422, "invalid-input")
    assert refused["pointer"] == "/data/reports/0/sudi/udi_serial_number"
    signed_trust = ascii_signed(stranger, trust)
    trusting = post_json(world.anon, f"{DEVICE}/trust", signed_trust)
    assert problem(trusting, 422, "invalid-input")["pointer"] == "/udi/sn"
    assert snapshot(api) == before
    assert ok(api.get(f"{ACCOUNT}/devices"))["total"] == 1  # FOC1 alone


def test_page_offsets_are_bounded(world: World) -> None:
    """``?offset=9223372036854775808`` answered 500 (the database's integer overflowed)."""
    for path in (
        f"{ACCOUNT}/devices",
        f"{ACCOUNT}/events",
        f"{V1}/events",
        f"{ACCOUNT}/usage-files",
        f"{ACCOUNT}/reports",  # its own ge=0 alone: 2**63 was a 500
    ):
        for offset in (2**63, MAX_OFFSET + 1, -1):
            got = world.api.get(path, params={"offset": offset})
            assert problem(got, 422, "invalid-input")["parameter"] == "offset"
        assert ok(world.api.get(path, params={"offset": MAX_OFFSET}))["items"] == []


@pytest.mark.parametrize("delivery", [2**63, 2**64, -(2**63) - 1, 0, -1])
def test_webhook_delivery_ids_beyond_the_id_range_are_refused(world: World, delivery: int) -> None:
    """``/webhook-deliveries/9223372036854775808`` (read, or replayed) answered 500: the id
    went to the database as it came (``formats.bounds.check_id``)."""
    before = snapshot(world.api)
    base = f"{ACCOUNT}/webhook-deliveries/{delivery}"
    for got in (world.api.get(base), world.api.post(f"{base}/actions/replay")):
        assert problem(got, 422, "invalid-input")["pointer"] == "/delivery_id"
    assert snapshot(world.api) == before
    assert ok(world.api.get(f"{ACCOUNT}/webhook-deliveries")) == []


@pytest.mark.parametrize(
    "url",
    [
        f"{V1}/accounts/acme%00example",
        f"{ACCOUNT}/virtual-accounts/Pr%00od/licenses",
        f"{ACCOUNT}/devices/FOC%001",
        f"{ACCOUNT}/devices?search=FOC%001",
        f"{ACCOUNT}/reports?virtual_account=%00",
        f"{V1}/events?name_prefix=a%00b",
        f"{VENDOR}/v1/accounts/acme%00example/virtual-accounts",
    ],
)
def test_a_nul_in_the_path_or_query_is_refused(world: World, url: str) -> None:
    """A NUL (``%00``) in an account, virtual account, device, search or filter answered 500
    on PostgreSQL (which takes no NUL in a parameter) on every route; now 422 before any
    route reads it, in the vendor's shape on vendor paths."""
    before = snapshot(world.api)
    assert problem(world.api.get(url), 422, "invalid-input")["detail"].endswith("NUL character")
    assert snapshot(world.api) == before
    assert ok(world.api.get(f"{ACCOUNT}/devices"))["total"] == 0


@pytest.mark.parametrize("key_id", ["\ud800", "a\x00b", "f" * 129])
def test_signature_key_ids_that_are_no_text_are_refused(world: World, key_id: str) -> None:
    """A ``signature.key_id`` holding a lone surrogate or a NUL was looked up as it came: a
    500 on authorize and deregister (UTF-8 could not encode it, PostgreSQL takes no NUL)."""
    api = world.api
    dev = new_device(world.live, 9)
    register(world.live, api, dev, create_token(api)["text"])
    before = snapshot(api)
    for path, request in (("authorize", dev.authorize({TAG: 1})), ("deregister", dev.deregister())):
        request["signature"]["key_id"] = key_id
        got = problem(post_json(api, f"{DEVICE}/{path}", request), 422, "invalid-input")
        assert got["pointer"] == "/signature/key_id"
    assert snapshot(api) == before
    ok(api.post(f"{DEVICE}/authorize", json=dev.authorize({TAG: 1})))  # the device goes on


@pytest.mark.parametrize("request_", ["", 1, [1], None], ids=["text", "number", "list", "null"])
def test_authorization_requests_that_are_no_envelope_are_refused(
    world: World, trusted: PolicyDevice, request_: Any
) -> None:
    """``"requests": [""]`` answered 500: the refusal looked for the device's UDI in the
    envelope it had just refused for being none."""
    before = snapshot(world.api)
    body = vendor_body(world, requests=[request_])
    answer = ok(world.anon.post(f"{VENDOR}/v2/devices/authrequest", json=body), 202)
    done = complete(world, world.anon, answer)
    assert done["data"]["authorizations"][0]["status"] == "FAILED", done
    assert snapshot(world.api) == before


def test_a_nonce_that_is_no_text_is_not_echoed(world: World, trusted: PolicyDevice) -> None:
    """``"nonce": "\\ud800"`` answered 500: the answer echoed it, and no UTF-8 holds it."""
    body = vendor_body(world, requests=[trusted.auth_request({TAG: 1})])
    body["data"]["nonce"] = "\ud800"
    got = ok(post_json(world.anon, f"{VENDOR}/v2/devices/authrequest", body), 202)
    assert got["nonce"] != "\ud800"
    complete(world, world.anon, got)
