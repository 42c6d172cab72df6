"""Moving the lab clock through a month: the scheduled Periodic Records and the expiry
warnings, each once, and the mails that announce them."""

from __future__ import annotations

from datetime import timedelta

from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import HoldingKind
from smartlic.domain.reports import Frequency, ReportKind
from tests.authority.notices.conftest import DOMAIN, TAG, Lab


def _events(lab: Lab, name: str) -> list[dict[str, object]]:
    page = lab.services.events.list_events(DOMAIN, name_prefix=name, limit=1000, scope=SYSTEM)
    return [e.properties for e in reversed(page.items) if e.name == name]


def test_a_month_of_schedules_and_expiry_warnings(lab: Lab) -> None:
    s, start = lab.services, lab.clock.now()  # Thursday 2026-01-01 12:00 UTC
    s.licenses.add_holding(
        DOMAIN,
        "East",
        tag=TAG,
        quantity=5,
        kind=HoldingKind.TERM,
        ends_at=start + timedelta(days=45),
        scope=SYSTEM,
    )
    s.tokens.create_token(DOMAIN, "East", days=10, scope=SYSTEM)
    lab.device(1, s.tokens.create_token(DOMAIN, "East", days=100, scope=SYSTEM).text)
    for freq in Frequency:
        s.reports.add_schedule(DOMAIN, freq, "06:00", scope=SYSTEM)
    s.reports.add_schedule(DOMAIN, Frequency.WEEKLY, "06:00", virtual_account="East", scope=SYSTEM)
    s.notifications.subscribe(DOMAIN, "alice", "license-expiring", scope=SYSTEM)
    s.notifications.subscribe(DOMAIN, "carol", "report-ready", digest=True, scope=SYSTEM)

    for _ in range(31):  # to Sunday 2026-02-01 12:00
        lab.tick(days=1)

    periodic, total = s.reports.list_reports(
        DOMAIN, kind=ReportKind.PERIODIC, limit=1000, scope=SYSTEM
    )
    by_freq: dict[str, int] = {}
    for r in periodic:
        key = f"{r.parameters['frequency']}:{r.virtual_account or '*'}"
        by_freq[key] = by_freq.get(key, 0) + 1
    # daily from Jan 2, Mondays Jan 5/12/19/26, the 1st of February
    assert by_freq == {"daily:*": 31, "weekly:*": 4, "weekly:East": 4, "monthly:*": 1}
    assert total == 40
    assert [p["within_days"] for p in _events(lab, "license.expiring")] == [60, 30]
    assert len(_events(lab, "token.expiring")) == 1
    assert len(_events(lab, "instance.not_reporting")) == 1
    subjects = [m["Subject"] for m in lab.inbox.to("alice@example.com")]
    assert subjects == ["[smartlic] License expiring: example.com / East"] * 2
    digests = lab.inbox.to("carol@example.com")  # one digest a day, not 40 mails
    assert 28 <= len(digests) <= 31
    assert all(m["Subject"].startswith("[smartlic] Daily digest") for m in digests)
    jobs = {j.name: j for j in s.jobs.list_jobs()}
    assert jobs["reports.periodic"].runs == 31 and jobs["reports.periodic"].last_status == "ok"
    assert all(j.last_status == "ok" for j in jobs.values())
