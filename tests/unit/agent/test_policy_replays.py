"""Issue 8, findings 6 and 9 on the device: replayed authority files and edited state.

Real authority keys sign real files (``FileSigner``); the state is edited as an owner would,
with the HMAC recomputed from the key beside it."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from smartlic.agent import LicenseManager
from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import ManualClock
from smartlic.domain.policy import CISCO_DEFAULT
from smartlic.domain.policy import Policy as PolicyDoc
from smartlic.errors import Forbidden, ReplayDetected
from smartlic.formats.rum import parse_usage_file, read_report
from smartlic.formats.slp import write_file
from tests.unit.agent.policy_helpers import CPF, IPSEC, Files, Make


def _ids(manager: LicenseManager, path: Path) -> list[int]:
    manager.save_usage(path)
    return [read_report(e).report_id for e in parse_usage_file(path.read_bytes())]


def _reporting(manager: LicenseManager) -> Any:
    status = manager.status().policy
    assert status is not None
    return status.usage_reporting


def _state(tmp_path: Path) -> dict[str, Any]:
    outer = json.loads((tmp_path / "device" / "state.json").read_bytes())
    data: dict[str, Any] = json.loads(outer["data"])
    return data


def _forge_state(tmp_path: Path, edit: Any) -> None:
    """Edit the state as its owner can: change the data, recompute the HMAC with the key."""
    directory = tmp_path / "device"
    data = _state(tmp_path)
    edit(data)
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    key = (directory / "state.key").read_bytes()
    mac = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    outer = {"version": 1, "data": text, "hmac": mac}
    (directory / "state.json").write_text(json.dumps(outer))


def test_an_older_ack_changes_nothing(
    make_policy: Make, clock: ManualClock, tmp_path: Path, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    manager.request(CPF)
    files = Files(authority, clock)
    first = files.ack(_ids(manager, tmp_path / "u1.xml"))  # an old, genuine ACK
    clock.advance(days=30)
    manager.tick()
    manager.import_data(files.ack(_ids(manager, tmp_path / "u2.xml")))
    clock.advance(days=80)  # 110 days after the first ACK, 80 after the second
    manager.tick()
    before = _reporting(manager)
    state_before = _state(tmp_path)["policy"]
    with pytest.raises(ReplayDetected) as err:
        manager.import_data(first)
    assert err.value.detail == "ACK is older than the last one imported"
    after = _reporting(manager)
    assert after.last_ack_received == before.last_ack_received
    assert after.next_ack_deadline == before.next_ack_deadline
    policy = _state(tmp_path)["policy"]
    for key in ("last_ack", "ack_document", "latest_documents", "seen_documents"):
        assert policy[key] == state_before[key]


def test_the_same_ack_twice_changes_nothing(
    make_policy: Make, clock: ManualClock, tmp_path: Path, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    manager.request(CPF)
    ack = Files(authority, clock).ack(_ids(manager, tmp_path / "u.xml"))
    manager.import_data(ack)
    clock.advance(days=100)
    manager.tick()
    assert _reporting(manager).overdue
    with pytest.raises(ReplayDetected, match="already imported"):
        manager.import_data(ack)
    assert _reporting(manager).overdue  # the overdue alert is not cleared by a replay


def test_a_returned_code_can_never_be_installed_again(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    code_file = Files(authority, clock).code(IPSEC, 1, str(uuid.uuid4()))
    manager.import_data(code_file)
    manager.release(manager.request(IPSEC))
    manager.authorization_return(online=False)
    clock.advance(minutes=5)
    with pytest.raises(ReplayDetected) as err:
        manager.import_data(code_file)
    assert err.value.code == "code-retired" and "can never be installed again" in err.value.detail
    assert manager.status().policy.authorizations == []  # type: ignore[union-attr]
    with pytest.raises(Forbidden):
        manager.request(IPSEC)


def test_an_older_policy_never_replaces_a_newer_one(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    files = Files(authority, clock)
    code_id = str(uuid.uuid4())
    code = files.section(
        "smartLicenseAuthorization",
        {"type": "authorization-code", "code_id": code_id, "confirmation_code": "1",
         "entitlements": [{"tag": IPSEC, "count": 1}]},
    )  # fmt: skip
    older = write_file([code, files.section("smartLicensePolicy", {"type": "policy",
                                            "policy": CISCO_DEFAULT.to_json()})])  # fmt: skip
    clock.advance(hours=1)
    custom = {**CISCO_DEFAULT.to_json(), "name": "Custom"}
    manager.import_data(files.ack([], PolicyDoc.from_json(custom)))
    manager.import_data(older)  # a code file made earlier: its code installs, its policy not
    status = manager.status().policy
    assert status is not None and status.policy.name == "Custom"
    assert [a.code_id for a in status.authorizations] == [code_id]


@pytest.mark.parametrize("field", ["last_ack", "entitlements", "policy"])
def test_editing_derived_fields_grants_nothing_even_with_the_state_key(
    make_policy: Make, clock: ManualClock, tmp_path: Path, authority: AuthorityKeys, field: str
) -> None:
    manager = make_policy()
    manager.request(CPF)
    files = Files(authority, clock)
    manager.import_data(files.ack(_ids(manager, tmp_path / "u.xml")))
    manager.import_data(files.code(IPSEC, 1, str(uuid.uuid4())))
    manager.close()
    clock.advance(days=100)  # reporting is overdue now

    def edit(data: dict[str, Any]) -> None:
        policy = data["policy"]
        if field == "last_ack":
            policy["last_ack"] = "2099-01-01T00:00:00+00:00"
        elif field == "entitlements":
            policy["authorizations"][0]["entitlements"] = {IPSEC: 1000}
        else:
            forged = {**json.loads(policy["policy_json"] or "{}"), "name": "Forged"}
            policy["policy_json"] = json.dumps(forged)

    _forge_state(tmp_path, edit)
    again = make_policy()
    status = again.status().policy
    assert status is not None
    assert status.usage_reporting.overdue
    assert status.usage_reporting.last_ack_received < clock.now() - timedelta(days=99)
    assert status.policy.name != "Forged"
    assert [e[2] for a in status.authorizations for e in a.entitlements] == [1]
