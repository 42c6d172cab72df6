"""Policy mode without an authority: transports and paths, failed pushes and their backoff,
token pins, purging (the authority itself is in tests/e2e/test_agent_policy.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from smartlic.agent import (
    CsluTransport,
    OffTransport,
    PolicyTransport,
    SmartTransport,
    TransportConfig,
    make_transport,
)
from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import ManualClock
from smartlic.crypto import make_token_text
from smartlic.errors import SignatureInvalid
from smartlic.formats.rum import parse_usage_file, read_report
from tests.unit.agent.policy_helpers import CPF, Files, Make


def test_transports_for_policy_mode() -> None:
    assert isinstance(OffTransport(), PolicyTransport)
    cslu = make_transport(TransportConfig(type="cslu", cslu_url="http://127.0.0.1:8182/cslu/v1/pi"))
    assert (
        isinstance(cslu, CsluTransport) and cslu.paths["reportusage"] == "/v2/devices/reportusage"
    )
    assert cslu.paths["trust"] == "/v1/trust"
    auto = make_transport(TransportConfig(type="automatic", url="http://127.0.0.1:1"))
    assert isinstance(auto, SmartTransport)
    assert auto.paths["poll"] == "/services/api/smart-accounts-and-licensing/v2/accounts/poll"
    assert isinstance(
        make_transport(TransportConfig(type="automatic", cslu_url="http://127.0.0.1:2/cslu/v1/pi")),
        CsluTransport,
    )
    for t in (cslu, auto):
        t.close()


def test_a_failed_push_is_recorded_and_retried_with_backoff(
    make_policy: Make, clock: ManualClock, closed_port_url: str
) -> None:
    manager = make_policy(transport=SmartTransport(closed_port_url))
    manager.request(CPF)
    clock.advance(days=30)
    manager.tick()
    status = manager.status().policy
    assert status is not None
    stats = status.comm_stats["Usage Reporting"]
    assert (stats.attempts, stats.fail, stats.last_response) == (1, 1, "NO REPLY")
    assert status.usage_reporting.last_report_push is None
    manager.tick()  # within the backoff: no new attempt
    assert manager.status().policy.comm_stats["Usage Reporting"].attempts == 1  # type: ignore[union-attr]
    clock.advance(minutes=16)
    manager.tick()
    assert manager.status().policy.comm_stats["Usage Reporting"].attempts == 2  # type: ignore[union-attr]


def test_sync_with_transport_off_sends_and_closes_nothing(make_policy: Make) -> None:
    manager = make_policy()
    manager.request(CPF)
    attempt = manager.sync()
    assert attempt is not None and not attempt.succeeded and "off" in (attempt.failure_reason or "")
    status = manager.status().policy
    assert status is not None and [r.state for r in status.reports] == ["OPEN"]


def test_a_token_of_another_authority_is_refused_before_sending(
    make_policy: Make, tmp_path: Path, clock: ManualClock
) -> None:
    other = AuthorityKeys.create(tmp_path / "other", clock.now())
    manager = make_policy()
    with pytest.raises(SignatureInvalid) as err:
        manager.trust(make_token_text(other.ca_fingerprint))
    assert err.value.code == "ca-mismatch"


def test_acknowledged_reports_are_purged_later(
    make_policy: Make, clock: ManualClock, tmp_path: Path, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    manager.request(CPF)
    manager.save_usage(tmp_path / "u.xml")
    ids = [read_report(e).report_id for e in parse_usage_file((tmp_path / "u.xml").read_bytes())]
    manager.import_data(Files(authority, clock).ack(ids))
    clock.advance(days=91)
    manager.tick()
    status = manager.status().policy
    assert status is not None
    assert status.report_summary.purged == 1 and ids[0] not in {r.report_id for r in status.reports}
    assert status.report_summary.total == len(status.reports) + 1
    assert timedelta(days=91) > manager.purge_after
