"""The authority's periodic tasks, in the order ``JobRunner.run_due`` runs them.

=====================  ===========  ======================================================
job                    every        does
=====================  ===========  ======================================================
``compliance.scan``    1 minute     pools newly out of compliance: event + Compliance
                                    Warning Report (``scans.Scans.compliance``)
``expiry.scan``        1 hour       licenses ending in 90/60/30/7 days, tokens ending in a
                                    week, instances silent for 30 days or expired
``reporting.scan``     1 hour       instances past their policy's ACK deadline, collectors
                                    silent too long (``reporting.ReportingWatch``)
``reports.periodic``   1 minute     Periodic Records whose schedule is due
``events.dispatch``    10 seconds   new events → outbox mails, digest entries, webhooks
``mail.digest``        1 day        one digest mail per user
``mail.send``          10 seconds   the mail outbox over SMTP
``webhooks.send``      10 seconds   webhook deliveries (retries with backoff)
``usage.rollup``       1 hour       today's in use against purchased (usage trends)
``prune``              1 hour       answered poll tasks and expired request nonces
=====================  ===========  ======================================================

The order matters within one ``run_due``: the scans write events that the dispatcher then
turns into mails and deliveries that the senders send, all in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, delete

from smartlic.authority.services._guard import KEEP
from smartlic.authority.services.jobs import JobSpec
from smartlic.authority.services.notifications import (
    DISPATCH_JOB,
    Dispatcher,
    Mailer,
    SmtpConfig,
)
from smartlic.authority.services.reporting import ReportingWatch
from smartlic.authority.services.reports import SqlReportsService
from smartlic.authority.services.scans import Scans
from smartlic.authority.services.trends import SqlTrendsService
from smartlic.authority.services.usage import POLL_KEEP
from smartlic.authority.services.webhooks import SqlWebhooksService
from smartlic.clock import Clock
from smartlic.storage.models import PollTask, SeenNonce

__all__ = ["standard_jobs"]

_M, _H = timedelta(minutes=1), timedelta(hours=1)


def standard_jobs(
    engine: Engine,
    clock: Clock,
    reports: SqlReportsService,
    webhooks: SqlWebhooksService,
    trends: SqlTrendsService,
    *,
    smtp: SmtpConfig | None,
    replay_window_s: float,
    collector_sync: timedelta = timedelta(days=1),
) -> list[JobSpec]:
    scans = Scans(engine, clock)
    watch = ReportingWatch(engine, clock, out_of_sync_after=collector_sync)
    dispatcher = Dispatcher(engine, clock, webhooks)
    mailer = Mailer(engine, clock, smtp, reports)
    sec10 = timedelta(seconds=10)
    return [
        JobSpec("compliance.scan", _M, scans.compliance, "pools newly out of compliance"),
        JobSpec("expiry.scan", _H, scans.expiry, "licenses, tokens, instances expiring"),
        JobSpec("reporting.scan", _H, watch.run, "ACKs overdue, collectors out of sync"),
        JobSpec("reports.periodic", _M, reports.run_schedules, "scheduled Periodic Records"),
        JobSpec(DISPATCH_JOB, sec10, dispatcher.run, "events to mails and webhooks"),
        JobSpec("mail.digest", timedelta(days=1), dispatcher.digest, "daily digest mails"),
        JobSpec("mail.send", sec10, mailer.send_due, "send the mail outbox (SMTP)"),
        JobSpec("webhooks.send", sec10, webhooks.send_due, "post webhook deliveries"),
        JobSpec("usage.rollup", _H, trends.rollup, "daily usage trend figures"),
        JobSpec("prune", _H, _pruner(engine, clock, replay_window_s), "old poll tasks, nonces"),
    ]


def _pruner(engine: Engine, clock: Clock, replay_window_s: float) -> Callable[[], str]:
    def prune() -> str:
        now = clock.now()
        with engine.begin() as conn:
            tasks = conn.execute(delete(PollTask).where(PollTask.created_at < now - POLL_KEEP))
            nonces = conn.execute(
                delete(SeenNonce).where(
                    SeenNonce.at < now - timedelta(seconds=2 * replay_window_s),
                    ~SeenNonce.key_id.startswith(KEEP),
                )
            )
        return f"{tasks.rowcount} poll task(s), {nonces.rowcount} nonce(s) pruned"

    return prune
