"""The open-measurement limit (issue 8, finding 13): a report never collects more than
``MAX_OPEN_MEASUREMENTS`` measurements; at the limit it is closed (signed, immutable) and the
next one opens, chained, so no measurement is lost."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from smartlic.agent import _rum
from smartlic.agent._policy_state import CLOSED, OPEN, PolicyState
from smartlic.clock import ManualClock
from smartlic.crypto import generate_key
from smartlic.formats.rum import parse_usage_file
from smartlic.formats.signed import open_report
from tests.unit.agent.policy_helpers import ATM, UDI, Make

LIMIT = _rum.MAX_OPEN_MEASUREMENTS


def test_a_full_report_is_closed_and_the_next_one_opens(clock: ManualClock) -> None:
    ps, key = PolicyState(), generate_key()
    sign = (UDI, "sw", "gateway", key)
    step = timedelta(minutes=15)
    _rum.record_usage(ps, {ATM: 1}, clock.now(), step)
    for n in range(LIMIT - 1):  # a count that changes at every sample: one measurement each
        clock.advance(step)
        _rum.record_usage(ps, {ATM: 1 + (n + 1) % 2}, clock.now(), step)
    [full] = ps.reports
    assert len(full.measurements) == LIMIT and _rum.has_full(ps)
    rolled = _rum.roll_full(ps, {ATM: 1}, sign, clock.now())
    assert rolled == [full] and full.state == CLOSED and full.reason == "MEASUREMENT LIMIT"
    assert full.envelope is not None
    report = open_report(json.loads(full.envelope), key.public_key())
    assert len(report.measurements) == LIMIT  # every measurement kept, signed
    [successor] = [r for r in ps.reports if r.state == OPEN]
    assert successor.previous_id == full.report_id and full.next_id == successor.report_id
    assert [(m.value, m.num_samples) for m in successor.measurements] == [(1, 1)]
    assert not _rum.has_full(ps)


def test_below_the_limit_nothing_is_rolled(clock: ManualClock) -> None:
    ps = PolicyState()
    _rum.record_usage(ps, {ATM: 1}, clock.now(), timedelta(minutes=15))
    assert _rum.roll_full(ps, {ATM: 1}, (UDI, "sw", "gw", generate_key()), clock.now()) == []
    assert [r.state for r in ps.reports] == [OPEN]


def test_the_manager_applies_the_limit(
    make_policy: Make, clock: ManualClock, tmp_path: Path
) -> None:
    manager = make_policy(sample_interval=timedelta(seconds=1))
    handle = manager.request(ATM)
    extra = None
    for _ in range(LIMIT + 10):  # alternate 1 and 2 in use: a new measurement every sample
        clock.advance(seconds=1)
        if extra is None:
            extra = manager.request(ATM)
        else:
            manager.release(extra)
            extra = None
    status = manager.status().policy
    assert status is not None
    states = [r.state for r in status.reports]
    assert states == ["CLOSED", "OPEN"]
    assert manager.save_usage(tmp_path / "u.xml") == 2
    envs = parse_usage_file((tmp_path / "u.xml").read_bytes())
    key = manager._policy.core.trust_key().public_key()
    counts = [len(open_report(env, key).measurements) for env in envs]
    assert counts[0] == LIMIT and sum(counts) >= LIMIT + 10
    manager.release(handle)
