"""Compliance warnings raised by the classic authorization that causes them (no scan): once
per shortfall, re-armed when the pool is back in compliance, and raised by the next
authorization of a pool a term holding left short (``_compliance.bump_judged`` / ``judge``)."""

from __future__ import annotations

from datetime import timedelta

from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import HoldingKind
from smartlic.domain.reports import ReportKind
from tests.authority.notices.conftest import DOMAIN, TAG, Lab

OUT = "compliance.pool.out_of_compliance"


def _events(lab: Lab) -> list[tuple[str, dict[str, object]]]:
    page = lab.services.events.list_events(DOMAIN, name_prefix=OUT, scope=SYSTEM)
    return [(e.actor, e.properties) for e in page.items]


def _warnings(lab: Lab) -> int:
    kind = ReportKind.COMPLIANCE_WARNING
    return lab.services.reports.list_reports(DOMAIN, kind=kind, scope=SYSTEM)[1]


def test_authorization_warns_once_per_shortfall_and_rearms(lab: Lab) -> None:
    s = lab.services
    dev = lab.device(1, s.tokens.create_token(DOMAIN, "East", scope=SYSTEM).text)
    s.device.authorize(dev.authorize({TAG: 1}))  # 1 in use, 1 held: in compliance
    assert _events(lab) == [] and _warnings(lab) == 0

    s.device.authorize(dev.authorize({TAG: 3}))  # the authorization pushes the pool out
    ((actor, props),) = _events(lab)
    assert actor == "compliance"
    assert (props["in_use"], props["purchased"], props["shortfall"]) == (3, 1, 2)
    assert _warnings(lab) == 1  # the Compliance Warning Report, written with the usage

    s.device.authorize(dev.authorize({TAG: 4}))  # still short: no second warning
    assert len(_events(lab)) == 1 and _warnings(lab) == 1

    s.device.authorize(dev.authorize({TAG: 1}))  # back in compliance: re-armed
    assert len(_events(lab)) == 1
    s.device.authorize(dev.authorize({TAG: 2}))  # a new shortfall: a new warning
    assert len(_events(lab)) == 2 and _warnings(lab) == 2


def test_the_next_authorization_warns_of_a_term_that_ended(lab: Lab) -> None:
    s = lab.services
    ends = lab.clock.now() + timedelta(days=1)
    s.licenses.add_holding(
        DOMAIN, "East", tag=TAG, quantity=2, kind=HoldingKind.TERM, ends_at=ends, scope=SYSTEM
    )
    dev = lab.device(1, s.tokens.create_token(DOMAIN, "East", scope=SYSTEM).text)
    s.device.authorize(dev.authorize({TAG: 3}))  # 3 of 1 + 2: in compliance
    assert _events(lab) == []
    lab.clock.advance(timedelta(days=2))  # the term ended; no scan has run
    s.device.authorize(dev.authorize({TAG: 2}))  # less in use, but 2 > 1: short, unwarned
    ((_, props),) = _events(lab)
    assert (props["in_use"], props["purchased"], props["shortfall"]) == (2, 1, 1)
