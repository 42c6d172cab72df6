"""Policy mode: mode selection, RUM report lifecycle, ids, immutability, restarts, sampling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smartlic.agent import LicenseManager, OffTransport
from smartlic.clock import ManualClock
from smartlic.formats.rum import parse_usage_file, read_report
from smartlic.formats.signed import open_report
from tests.unit.agent.conftest import UDI as CLASSIC_UDI
from tests.unit.agent.policy_helpers import (
    ATM,
    CPF,
    Make,
)


def _reports(manager: LicenseManager) -> list[tuple[int, str, str]]:
    status = manager.status().policy
    assert status is not None
    return [(r.report_id, r.metric_value, r.state) for r in status.reports]


def test_a_new_device_starts_in_policy_mode_and_keeps_it(make_policy: Make) -> None:
    manager = make_policy()
    assert manager.mode == "policy" and manager.status().mode == "policy"
    manager.close()
    assert make_policy().mode == "policy"
    assert make_policy(mode="classic").mode == "classic"
    assert make_policy().mode == "classic"  # persisted


def test_a_classic_state_stays_classic(tmp_path: Path, clock: ManualClock) -> None:
    def make(**mode: Any) -> LicenseManager:
        return LicenseManager(
            udi=CLASSIC_UDI,
            hostname="r",
            state_dir=tmp_path,
            transport=OffTransport(),
            clock=clock,
            **mode,
        )

    make(mode="classic").close()
    manager = make()
    assert manager.mode == "classic" and manager.status().policy is None
    manager.close()


def test_every_unenforced_license_is_usable_from_day_0(make_policy: Make) -> None:
    manager = make_policy()
    assert repr(manager) == (
        "LicenseManager(udi='PID:IXM-LPWA-900-16-K9,SN:FOC242145DW', mode='policy', reports=0)"
    )
    assert not manager.is_authorized(ATM) and manager.check(ATM) == "NOT IN USE"
    manager.request(ATM)
    assert manager.is_authorized(ATM) and manager.check(ATM) == "IN USE"


def test_reports_open_close_and_chain_with_increasing_ids(
    make_policy: Make, clock: ManualClock, tmp_path: Path
) -> None:
    manager = make_policy()
    manager.request(ATM)
    manager.request(CPF)  # same second: the id still increases
    first = _reports(manager)
    assert [s for *_, s in first] == ["OPEN", "OPEN"]
    assert first[0][0] < first[1][0] and first[0][0] >= int(clock.now().timestamp())
    assert manager.save_usage(tmp_path / "usage.xml") == 2
    after = _reports(manager)
    assert [s for *_, s in after] == ["CLOSED", "CLOSED", "OPEN", "OPEN"]
    ids = [i for i, *_ in after]
    assert ids == sorted(ids) and len(set(ids)) == 4
    status = manager.status().policy
    assert status is not None
    by_id = {r.report_id: r for r in status.reports}
    reopened = [r for r in status.reports if r.state == "OPEN"]
    for r in reopened:
        prev = by_id[r.previous_report_id]
        assert prev.metric_value == r.metric_value and prev.next_report_id == r.report_id


def test_a_closed_report_is_immutable(
    make_policy: Make, clock: ManualClock, tmp_path: Path
) -> None:
    manager = make_policy()
    manager.request(ATM)
    clock.advance(hours=1)
    manager.tick()
    manager.save_usage(tmp_path / "a.xml")
    frozen = parse_usage_file((tmp_path / "a.xml").read_bytes())
    manager.request(ATM)
    for _ in range(8):
        clock.advance(hours=1)
        manager.tick()
    manager.save_usage(tmp_path / "b.xml", ("rum-id", read_report(frozen[0]).report_id))
    again = parse_usage_file((tmp_path / "b.xml").read_bytes())
    assert again == frozen
    key = manager._policy.core.trust_key().public_key()
    report = open_report(frozen[0], key)
    assert report.udi == manager.udi and report.entitlement_tag == ATM


def test_samples_every_15_minutes_make_measurements(
    make_policy: Make, clock: ManualClock, tmp_path: Path
) -> None:
    manager = make_policy()
    manager.request(ATM)
    for _ in range(4):
        clock.advance(minutes=15)
        manager.tick()
    manager.request(ATM)  # 2 in use, seen at the next sample
    clock.advance(minutes=15)
    manager.tick()
    manager.save_usage(tmp_path / "u.xml")
    [env] = parse_usage_file((tmp_path / "u.xml").read_bytes())
    measurements = json.loads(env["payload"])["measurements"]
    assert [m["value"]["value"] for m in measurements] == ["1", "2"]
    # 1 at first use + 4 samples; the run lasts until the sample that saw the change
    assert measurements[0]["num_samples"] == 5 and measurements[0]["sample_interval"] == 4500


def test_reports_survive_a_restart(make_policy: Make, clock: ManualClock, tmp_path: Path) -> None:
    manager = make_policy()
    manager.request(CPF)
    manager.save_usage(tmp_path / "u.xml")
    before = _reports(manager)
    first_use = manager.status().policy.usage_reporting.next_ack_deadline  # type: ignore[union-attr]
    manager.close()
    clock.advance(days=1)
    again = make_policy()
    assert [r for r in _reports(again) if r[2] == "CLOSED"] == [
        r for r in before if r[2] == "CLOSED"
    ]
    assert again.status().policy.usage_reporting.next_ack_deadline == first_use  # type: ignore[union-attr]
    again.request(CPF)  # the product re-requests: the open report goes on
    assert _reports(again)[-1] == before[-1]
    again.save_usage(tmp_path / "v.xml")
    assert max(i for i, *_ in _reports(again)) > max(i for i, *_ in before)


def test_a_device_that_never_used_a_license_owes_nothing(
    make_policy: Make, clock: ManualClock, tmp_path: Path
) -> None:
    manager = make_policy()
    clock.advance(days=400)
    manager.tick()
    status = manager.status().policy
    assert status is not None
    assert status.usage_reporting.next_ack_deadline is None and status.alerts == []
    assert status.usage_reporting.next_report_push is None
    assert manager.save_usage(tmp_path / "u.xml") == 0
    assert parse_usage_file((tmp_path / "u.xml").read_bytes()) == []
