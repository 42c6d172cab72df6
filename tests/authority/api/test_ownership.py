"""Device ownership (issue 8, findings 1, 3 and 4; docs/security.md "Device ownership"): a UDI
is not a secret, so moving a device, re-keying it or introducing it needs proof. Each attack
runs over real HTTP with real signatures, is refused with a stable code, changes nothing
stored (every table but the logs, read straight from the database) and lands in the log of
the account that holds the device."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smartlic.crypto import Udi
from smartlic.domain.enums import Role
from smartlic.domain.products import make_tag
from smartlic.formats.device_v1 import REGISTER_PROOF, register_binding
from smartlic.formats.envelope import make_nonce, seal_with_key, timestamp_ms
from smartlic.formats.rum import usage_file
from smartlic.storage.models import Base
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import (
    ACCOUNT,
    DEVICE,
    DOMAIN,
    TAG,
    V1,
    authorize,
    build_world,
    new_device,
    ok,
    open_response,
    pool_line,
    problem,
    register,
)
from tests.devices import PolicyDevice, TestDevice

RIVAL = "rival.example"
VENDOR = "/services/api/smart-accounts-and-licensing/v2"
LOGS = {"events", "seen_nonces", "poll_tasks"}  # what a refusal may write: its log, its answer


@dataclass
class Ownership:
    live: LiveAuthority
    api: httpx.Client  # the authority admin
    anon: httpx.Client  # a device talking directly
    rival: httpx.Client  # an admin key of rival.example (the attacker's own account)

    def token(self, domain: str = DOMAIN, va: str = "Prod") -> str:
        path = f"{V1}/accounts/{domain}/virtual-accounts/{va}/tokens"
        text: str = ok(self.api.post(path, json={}), 201)["text"]
        return text

    def store(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table but the logs, straight from the database."""
        engine = self.live.services.usage.engine
        with engine.connect() as conn:
            return {
                t.name: sorted(map(tuple, conn.execute(select(t))), key=repr)
                for t in Base.metadata.sorted_tables
                if t.name not in LOGS
            }

    def events(self, domain: str, prefix: str = "") -> list[dict[str, Any]]:
        path = f"{V1}/accounts/{domain}/events"
        items: list[dict[str, Any]] = ok(self.api.get(path, params={"name_prefix": prefix}))[
            "items"
        ]
        return items

    def collector(self, domain: str, va: str) -> tuple[httpx.Client, dict[str, str]]:
        key = self.live.api_key(Role.SMART_ACCOUNT_ADMIN, domain)
        headers = {"X-CSW-SMART-ACCOUNT-ID": domain, "X-CSW-VIRTUAL-ACCOUNT-ID": va}
        return self.live.client(key), headers


@pytest.fixture
def world(live_authority: LiveAuthority) -> Ownership:
    api = live_authority.client()
    build_world(api)
    ok(api.post(f"{V1}/accounts", json={"name": "Rival", "domain": RIVAL}), 201)
    ok(api.post(f"{V1}/accounts/{RIVAL}/virtual-accounts", json={"name": "Loot"}), 201)
    rival = live_authority.client(live_authority.api_key(Role.SMART_ACCOUNT_ADMIN, RIVAL))
    return Ownership(live_authority, api, live_authority.client(auth=False), rival)


def refused_unchanged(world: Ownership, call: Any, status: int, code: str) -> dict[str, Any]:
    before = world.store()
    body = problem(call(), status, code)
    assert world.store() == before
    return body


def only_refusal(world: Ownership, domain: str, name: str) -> dict[str, Any]:
    [event] = [e for e in world.events(domain) if e["name"] == name]
    return event


def with_proof(device: TestDevice, request: dict[str, Any]) -> dict[str, Any]:
    """The register request signed for by the device's current identity."""
    binding = register_binding(request["token"], request["csr"])
    return {**request, "proof": device.signed(REGISTER_PROOF, **binding)}


# ---------------------------------------------------------------- finding 1: classic register


def test_forced_register_with_another_accounts_token_is_refused(world: Ownership) -> None:
    victim = new_device(world.live, 1)
    register(world.live, world.api, victim, world.token())
    authorize(world.live, world.api, victim, {TAG: 2})
    attacker = TestDevice(victim.udi, world.live.clock)  # a fresh key, the victim's UDI
    request = attacker.register_request(world.token(RIVAL, "Loot"), force=True)

    body = refused_unchanged(
        world,
        lambda: world.anon.post(f"{DEVICE}/register", json=request),
        409,
        "ownership-not-proven",
    )
    assert DOMAIN not in body["detail"]  # the attacker learns nothing of the holder
    event = only_refusal(world, DOMAIN, "instance.registration.refused")
    assert event["subject"] == str(victim.udi)
    assert event["properties"]["code"] == "ownership-not-proven"
    assert event["properties"]["claimed_by"] == RIVAL
    assert world.events(RIVAL, "instance.") == []
    # the real device carries on, its usage where it was
    authorize(world.live, world.api, victim, {TAG: 2})
    assert pool_line(world.api, "Prod")["in_use"] == 2


def test_the_owner_re_registers_a_wiped_device_with_its_own_token(world: Ownership) -> None:
    device = new_device(world.live, 2)
    register(world.live, world.api, device, world.token())
    wiped = TestDevice(device.udi, world.live.clock)  # new key, no proof: the account's token
    request = wiped.register_request(world.token(DOMAIN, "Spare"), force=True)
    open_response(world.live, world.anon.post(f"{DEVICE}/register", json=request))
    [moved] = ok(world.api.get(f"{ACCOUNT}/devices"))["items"]
    assert moved["virtual_account"] == "Spare"


def test_a_device_moves_itself_to_another_account_with_proof(world: Ownership) -> None:
    device = new_device(world.live, 3)
    register(world.live, world.api, device, world.token())
    request = with_proof(device, device.register_request(world.token(RIVAL, "Loot"), force=True))
    payload = open_response(world.live, world.anon.post(f"{DEVICE}/register", json=request))
    assert payload["smart_account"] == "Rival"
    assert ok(world.api.get(f"{ACCOUNT}/devices"))["total"] == 0
    assert only_refusal(world, DOMAIN, "instance.moved_away")["subject"] == str(device.udi)


def test_a_proof_is_bound_to_its_device_token_and_csr(world: Ownership) -> None:
    victim, other = new_device(world.live, 4), new_device(world.live, 5)
    register(world.live, world.api, victim, world.token())
    register(world.live, world.api, other, world.token(RIVAL, "Loot"))
    loot = world.token(RIVAL, "Loot")
    attacker = TestDevice(victim.udi, world.live.clock)
    # a proof signed by another registered device (the attacker's own)
    request = attacker.register_request(loot, force=True)
    binding = register_binding(request["token"], request["csr"])
    forged = {**request, "proof": _signed_as(other, victim.udi, binding)}
    refused_unchanged(
        world, lambda: world.anon.post(f"{DEVICE}/register", json=forged), 401, "bad-signature"
    )
    # the victim's genuine proof, lifted onto the attacker's CSR
    genuine = with_proof(victim, victim.register_request(loot, force=True))
    lifted = {**attacker.register_request(loot, force=True), "proof": genuine["proof"]}
    refused_unchanged(
        world, lambda: world.anon.post(f"{DEVICE}/register", json=lifted), 401, "bad-proof"
    )


def _signed_as(signer: TestDevice, udi: Udi, binding: dict[str, str]) -> dict[str, Any]:
    """An envelope signed by ``signer``'s identity that claims ``udi``."""
    payload = {
        "type": REGISTER_PROOF,
        "udi": {"pid": udi.pid, "sn": udi.sn},
        "timestamp": timestamp_ms(signer.clock.now()),
        "nonce": make_nonce(),
        **binding,
    }
    return seal_with_key(payload, signer.key, signer.key_id)


# ---------------------------------------------------------------- finding 1: policy-mode trust


def test_forced_trust_with_another_accounts_token_is_refused(world: Ownership) -> None:
    victim = PolicyDevice(Udi("IR1101-K9", "FCW1"), world.live.clock)
    ok(world.anon.post(f"{DEVICE}/trust", json=victim.trust_request(world.token())))
    ok(
        world.anon.post(f"{VENDOR}/devices/reportusage", json=victim.body(victim.report(TAG, 3))),
        202,
    )
    attacker = PolicyDevice(victim.udi, world.live.clock)  # another key
    request = attacker.trust_request(world.token(RIVAL, "Loot"), force=True)
    refused_unchanged(
        world,
        lambda: world.anon.post(f"{DEVICE}/trust", json=request),
        409,
        "ownership-not-proven",
    )
    event = only_refusal(world, DOMAIN, "instance.trust.refused")
    assert event["properties"]["claimed_by"] == RIVAL
    assert pool_line(world.api, "Prod")["in_use"] == 3


def test_forced_trust_cannot_take_a_classic_device(world: Ownership) -> None:
    victim = new_device(world.live, 6)
    register(world.live, world.api, victim, world.token())
    attacker = PolicyDevice(victim.udi, world.live.clock)
    request = attacker.trust_request(world.token(RIVAL, "Loot"), force=True)
    refused_unchanged(
        world,
        lambda: world.anon.post(f"{DEVICE}/trust", json=request),
        409,
        "ownership-not-proven",
    )
    authorize(world.live, world.api, victim, {TAG: 1})  # still its own


def test_a_trusted_device_moves_itself_with_its_key(world: Ownership) -> None:
    device = PolicyDevice(Udi("IR1101-K9", "FCW2"), world.live.clock)
    ok(world.anon.post(f"{DEVICE}/trust", json=device.trust_request(world.token())))
    ok(world.anon.post(f"{DEVICE}/trust", json=device.trust_request(
        world.token(RIVAL, "Loot"), force=True
    )))  # fmt: skip
    assert ok(world.api.get(f"{ACCOUNT}/devices"))["total"] == 0
    assert only_refusal(world, DOMAIN, "instance.moved_away")["subject"] == str(device.udi)


# ---------------------------------------------------------------- finding 3: one key, two devices


def test_a_key_shared_by_two_new_devices_refuses_only_the_second(world: Ownership) -> None:
    client, headers = world.collector(DOMAIN, "Prod")
    first = PolicyDevice(Udi("IR1101-K9", "DUP1"), world.live.clock)
    second = PolicyDevice(Udi("IR1101-K9", "DUP2"), world.live.clock, key=first.key)
    good = PolicyDevice(Udi("IR1101-K9", "GOOD"), world.live.clock)
    reports = {d.udi.sn: d.report(TAG, 1) for d in (first, second, good)}
    body = good.body()
    body["data"]["reports"] = [
        {"sudi": {"udi_pid": d.udi.pid, "udi_serial_number": d.udi.sn}, "usage": [reports[sn]]}
        for sn, d in (("DUP1", first), ("DUP2", second), ("GOOD", good))
    ]
    answer = ok(client.post(f"{VENDOR}/devices/reportusage", json=body, headers=headers), 202)
    done = _complete(world, client, answer)
    acked = {a["sudi"]["udi_serial_number"]: a for a in done["data"]["acknowledgements"]}
    assert set(acked) == {"DUP1", "GOOD"} and acked["GOOD"]["acknowledged"]
    [error] = done["data"]["errors"]
    assert error["sudi"]["udi_serial_number"] == "DUP2"
    assert error["rejected"][0]["code"] == "key-in-use"
    assert pool_line(world.api, "Prod")["in_use"] == 2
    # over /trust too: a key another device holds is refused, never a 500
    request = second.trust_request(world.token())
    refused_unchanged(
        world, lambda: world.anon.post(f"{DEVICE}/trust", json=request), 409, "key-in-use"
    )


def _complete(world: Ownership, client: httpx.Client, answer: dict[str, Any]) -> dict[str, Any]:
    now = timestamp_ms(world.live.clock.now())
    data = {"timestamp": now, "nonce": make_nonce(), "poll_id": answer["poll_id"]}
    done: dict[str, Any] = ok(client.post(f"{VENDOR}/accounts/poll", json={"data": data}))
    assert done["status"] == "COMPLETE", done
    return done


# ---------------------------------------------------------------- finding 4: collector channels


def _forged_report(world: Ownership, udi: Udi, value: int) -> tuple[PolicyDevice, dict[str, Any]]:
    forger = PolicyDevice(udi, world.live.clock)
    return forger, forger.body(forger.report(TAG, value))


@pytest.mark.parametrize("domain,va", [(DOMAIN, "Prod"), (RIVAL, "Loot")])
def test_a_collector_cannot_key_a_classic_device(world: Ownership, domain: str, va: str) -> None:
    victim = new_device(world.live, 7)
    register(world.live, world.api, victim, world.token())
    authorize(world.live, world.api, victim, {TAG: 1})
    client, headers = world.collector(domain, va)
    _, body = _forged_report(world, victim.udi, 9)
    before = world.store()
    answer = ok(client.post(f"{VENDOR}/devices/reportusage", json=body, headers=headers), 202)
    done = _complete(world, client, answer)
    assert world.store() == before
    assert done["data"]["acknowledgements"] == []  # no ACK naming the holder's accounts
    [error] = done["data"]["errors"]
    assert error["rejected"][0]["code"] == "ownership-not-proven"
    [event] = world.events(DOMAIN, "usage.report.rejected")
    assert event["subject"] == str(victim.udi)
    assert pool_line(world.api, "Prod")["in_use"] == 1


def test_a_collector_cannot_key_a_device_of_another_account_for_slac(world: Ownership) -> None:
    enforced = make_tag("dna-enforced")
    body = {
        "tag": enforced,
        "name": "dna-enforced",
        "display_name": "DNA",
        "enforcement": "enforced",
    }
    ok(world.api.post(f"{V1}/licenses", json=body), 201)
    ok(
        world.api.post(
            f"{ACCOUNT}/virtual-accounts/Prod/licenses", json={"tag": enforced, "quantity": 2}
        ),
        201,
    )
    victim = new_device(world.live, 8)
    register(world.live, world.api, victim, world.token())
    client, headers = world.collector(RIVAL, "Loot")
    forger = PolicyDevice(victim.udi, world.live.clock)  # would spend the victim's pool
    now = timestamp_ms(world.live.clock.now())
    request = forger.auth_request({enforced: 1})
    data = {"timestamp": now, "nonce": make_nonce(), "requests": [request]}
    before = world.store()
    answer = ok(
        client.post(f"{VENDOR}/devices/authrequest", json={"data": data}, headers=headers), 202
    )
    [item] = _complete(world, client, answer)["data"]["authorizations"]
    assert (item["status"], item["error_code"]) == ("FAILED", "ownership-not-proven")
    assert world.store() == before
    event = only_refusal(world, DOMAIN, "license.authorization.refused")
    assert event["properties"]["code"] == "ownership-not-proven"


def test_a_pinned_key_is_never_replaced_through_a_collector(world: Ownership) -> None:
    device = PolicyDevice(Udi("IR1101-K9", "PIN1"), world.live.clock)
    ok(world.anon.post(f"{DEVICE}/trust", json=device.trust_request(world.token())))
    client, headers = world.collector(DOMAIN, "Prod")
    _, body = _forged_report(world, device.udi, 5)
    before = world.store()
    answer = ok(client.post(f"{VENDOR}/devices/reportusage", json=body, headers=headers), 202)
    [item] = _complete(world, client, answer)["data"]["acknowledgements"]
    assert item["acknowledged"] == [] and item["rejected"][0]["code"] == "bad-signature"
    assert world.store() == before
    assert base64.b64decode(item["smart_license"])  # its own account's collector: an ACK


def test_a_usage_file_cannot_claim_another_accounts_device(world: Ownership) -> None:
    victim = PolicyDevice(Udi("IR1101-K9", "FILE1"), world.live.clock)
    ok(world.anon.post(f"{DEVICE}/trust", json=victim.trust_request(world.token())))
    classic = new_device(world.live, 9)
    register(world.live, world.api, classic, world.token())
    forged = [PolicyDevice(u, world.live.clock).report(TAG, 7) for u in (victim.udi, classic.udi)]
    before = world.store()
    path = f"{V1}/accounts/{RIVAL}/virtual-accounts/Loot/usage-files"
    created = ok(world.rival.post(path, files={"file": ("u.xml", usage_file(forged))}), 201)
    assert (created["status"], created["instances"], created["acknowledgement"]) == (
        "Rejected",
        0,
        "None",
    )
    after = world.store()
    assert {k: v for k, v in after.items() if k != "usage_files"} == {
        k: v for k, v in before.items() if k != "usage_files"
    }
    rejected = world.events(DOMAIN, "usage.report.rejected")
    assert {e["subject"] for e in rejected} == {str(victim.udi), str(classic.udi)}


def test_one_key_trusted_by_two_devices_at_once(world: Ownership) -> None:
    """Two trust requests racing with one key (on PostgreSQL they can overlap; the unique
    index decides): one device gets the key, the other 409 key-in-use, never a 500."""
    first = PolicyDevice(Udi("IR1101-K9", "RACE1"), world.live.clock)
    second = PolicyDevice(Udi("IR1101-K9", "RACE2"), world.live.clock, key=first.key)
    requests = [d.trust_request(world.token()) for d in (first, second)]
    start = threading.Barrier(2)

    def send(request: dict[str, Any]) -> httpx.Response:
        start.wait()
        return world.anon.post(f"{DEVICE}/trust", json=request)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, requests))
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    [lost] = [r for r in answers if r.status_code == 409]
    problem(lost, 409, "key-in-use")
    assert ok(world.api.get(f"{ACCOUNT}/devices"))["total"] == 1
