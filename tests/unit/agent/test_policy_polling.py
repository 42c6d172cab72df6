"""Policy mode: an answer that is not ready is polled later, across a restart.

``ScriptedAuthority`` is a ``PolicyTransport`` (the seam real transports implement) answering
``OK_POLL`` a given number of times before ``COMPLETE`` with a real, authority-signed ACK.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import ManualClock
from smartlic.formats.rum import read_report
from tests.unit.agent.policy_helpers import CPF, Files, Make


class ScriptedAuthority:
    type = "smart"
    url = "scripted://authority"

    def __init__(self, files: Files, pending_polls: int) -> None:
        self.files, self.pending = files, pending_polls
        self.reported: list[int] = []
        self.messages: list[str] = []

    def post_policy(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.messages.append(message)
        if message == "reportusage":
            [group] = body["data"]["reports"]
            self.reported = [read_report(e).report_id for e in group["usage"]]
            return {"status": "OK_POLL", "poll_id": 7, "action": "acknowledgements"}
        if self.pending > 0:
            self.pending -= 1
            return {"status": "OK_POLL", "poll_id": 7}
        ack = base64.b64encode(self.files.ack(self.reported)).decode()
        udi = self.files.udi
        item = {"sudi": {"udi_pid": udi.pid, "udi_serial_number": udi.sn}, "smart_license": ack}
        return {
            "status": "COMPLETE",
            "type": "acknowledgements",
            "data": {"acknowledgements": [item]},
        }

    def send(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("no classic messages in policy mode")

    def close(self) -> None:
        return None


def test_a_pending_poll_survives_a_restart_and_completes_at_tick(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys
) -> None:
    remote = ScriptedAuthority(Files(authority, clock), pending_polls=4)
    manager = make_policy(transport=remote)
    manager.request(CPF)
    attempt = manager.sync()
    assert attempt is not None and attempt.succeeded
    assert remote.messages == ["reportusage", "poll", "poll", "poll"]
    status = manager.status().policy
    assert status is not None and status.usage_reporting.next_ack_push_check is not None
    assert status.usage_reporting.last_ack_received is None
    manager.close()
    clock.advance(minutes=5)
    again = make_policy(transport=remote)
    again.tick()  # one more OK_POLL, then COMPLETE
    status = again.status().policy
    assert status is not None
    assert status.usage_reporting.last_ack_received == clock.now()
    assert status.usage_reporting.next_ack_push_check is None
    assert status.report_summary.acknowledged == 1
    assert status.comm_stats["Result Polling"].attempts == 5


def test_a_pending_answer_is_polled_once_per_poll_interval_not_every_tick(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys
) -> None:
    remote = ScriptedAuthority(Files(authority, clock), pending_polls=10)
    manager = make_policy(transport=remote)
    manager.request(CPF)
    manager.sync()
    polls = remote.messages.count("poll")
    for _ in range(5):  # a shell ticks around every command
        clock.advance(seconds=30)
        manager.tick()
    assert remote.messages.count("poll") == polls
    clock.advance(seconds=300)
    manager.tick()
    assert remote.messages.count("poll") > polls
    manager.close()
