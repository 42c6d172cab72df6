"""Two authority instances on one PostgreSQL, each with its own engine (its own connections):
every due job runs once per round and every mail and webhook goes out once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import Engine

from smartlic.authority.services import build_services
from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.reports import ReportKind
from smartlic.storage import make_engine
from tests.authority.notices.conftest import DOMAIN, LOOPBACK, Lab

pytestmark = pytest.mark.postgresql


def test_two_instances_run_each_job_and_send_each_message_once(
    lab: Lab, engine: Engine, pg_only: None
) -> None:
    other_engine = make_engine(engine.url.render_as_string(hide_password=False))
    other = build_services(other_engine, lab.clock, lab.keys, smtp=lab.smtp, egress=LOOPBACK)
    s = lab.services
    for user in ("alice", "bob", "carol"):
        s.notifications.subscribe(DOMAIN, user, "report-ready", scope=SYSTEM)
    s.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["report.generated"], scope=SYSTEM)
    for _ in range(10):
        s.reports.generate(DOMAIN, kind=ReportKind.MANUAL, scope=SYSTEM)
    lab.overuse(n=2)

    ran: Counter[str] = Counter()
    lock = threading.Lock()
    rounds = 4
    for _ in range(rounds):
        lab.clock.advance(minutes=1)
        barrier = threading.Barrier(2)

        def run(runner: object, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            for out in runner.run_due():  # type: ignore[attr-defined]
                with lock:
                    ran[out.name] += 1

        threads = [threading.Thread(target=run, args=(x.jobs,)) for x in (s, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    other_engine.dispose()

    assert ran["compliance.scan"] == rounds  # due every minute: once per round, not twice
    assert ran["expiry.scan"] == 1  # hourly
    assert s.reports.list_reports(DOMAIN, kind=ReportKind.COMPLIANCE_WARNING, scope=SYSTEM)[1] == 1
    ids = [m["Message-ID"] for m in lab.inbox.messages]
    assert len(ids) == len(set(ids)) == 11 * 3  # 10 manual + 1 warning report, 3 users
    assert len(lab.hooks.received) == 11
    assert len({h["Smartlic-Delivery"] for h, _ in lab.hooks.received}) == 11
