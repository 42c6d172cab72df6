"""The job runner: one scheduler for every periodic task, driven by the injected clock.

Each job is a row of ``jobs`` (next run, lease, last status, run count). ``run_due()`` claims
every due job and runs it. Several authority processes may share one database, so a job is
*claimed* before it runs: the claim selects the due row ``FOR UPDATE SKIP LOCKED`` (a process
that finds the row locked by another claim skips it instead of waiting) and, in the same short
transaction, sets a lease (``lease_until``) that the other processes' claims then refuse. The
lease, not the row lock, covers the run itself, so a job's own transactions never wait on the
scheduler's. A process that dies mid-run leaves a lease that expires (``lease``, 10 minutes),
after which another process runs the job again. (SQLite ignores ``SKIP LOCKED``; there the
claim's single UPDATE is serialised by the database's write lock.)

Usage::

    runner = JobRunner(engine, clock, [JobSpec("prune.nonces", timedelta(hours=1), prune)])
    runner.run_due()            # [JobRunOut(name="prune.nonces", status="ok", ...)]
    runner.list_jobs()          # state for the API (``GET /api/v1/jobs``)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from smartlic.authority.services._base import ServiceBase
from smartlic.clock import Clock
from smartlic.errors import NotFound
from smartlic.storage.models import Job

__all__ = ["JobOut", "JobRunOut", "JobRunner", "JobSpec"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """A periodic task: runs every ``every`` and returns a one-line summary of what it did."""

    name: str
    every: timedelta
    run: Callable[[], str]
    description: str = ""


@dataclass(frozen=True)
class JobOut:
    name: str
    description: str
    every_s: float
    next_run_at: datetime
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str
    last_error: str | None
    runs: int
    running: bool


@dataclass(frozen=True)
class JobRunOut:
    name: str
    status: str  # "ok" | "failed"
    summary: str


class JobRunner(ServiceBase):
    def __init__(
        self,
        engine: object,
        clock: Clock,
        specs: Sequence[JobSpec],
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(minutes=10),
    ) -> None:
        super().__init__(engine, clock)  # type: ignore[arg-type]
        self.specs = {s.name: s for s in specs}
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:100]
        self.lease = lease

    def run_due(self) -> list[JobRunOut]:
        """Run every job that is due now and that no other process holds, in registry order."""
        self._ensure_rows()
        return [out for name in self.specs if (out := self._try(name, force=False)) is not None]

    def run_now(self, name: str) -> JobRunOut | None:
        """Run one job now, due or not (None when another process holds it)."""
        if name not in self.specs:
            raise NotFound(f"no job {name!r}")
        self._ensure_rows()
        return self._try(name, force=True)

    def list_jobs(self) -> list[JobOut]:
        self._ensure_rows()
        now = self.now()
        with self.transaction() as s:
            rows = {j.name: j for j in s.scalars(select(Job))}
        return [_job_out(self.specs[n], rows[n], now) for n in self.specs if n in rows]

    # ------------------------------------------------------------ internals

    def _ensure_rows(self) -> None:
        now = self.now()
        with self.transaction() as s:
            ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            rows = [{"name": n, "next_run_at": now, "last_status": "never"} for n in self.specs]
            s.execute(ins(Job).values(rows).on_conflict_do_nothing())

    def _try(self, name: str, *, force: bool) -> JobRunOut | None:
        if not self._claim(name, force=force):
            return None
        spec = self.specs[name]
        try:
            summary, status, error = spec.run(), "ok", None
        except Exception as exc:  # a failing job is recorded and retried, never fatal
            _log.exception("job %s failed", name)
            summary, status, error = "", "failed", f"{type(exc).__name__}: {exc}"[:1000]
        self._finish(name, status, error)
        return JobRunOut(name=name, status=status, summary=summary if status == "ok" else error)  # type: ignore[arg-type]

    def _claim(self, name: str, *, force: bool) -> bool:
        now = self.now()
        with self.transaction() as s:
            q = select(Job).where(
                Job.name == name, or_(Job.lease_until.is_(None), Job.lease_until <= now)
            )
            if not force:
                q = q.where(Job.next_run_at <= now)
            job = s.scalar(q.with_for_update(skip_locked=True))
            if job is None:
                return False
            job.lease_until, job.lease_owner, job.last_started_at = (
                now + self.lease,
                self.owner,
                now,
            )
        return True

    def _finish(self, name: str, status: str, error: str | None) -> None:
        now = self.now()
        with self.transaction() as s:
            job = s.get(Job, name, with_for_update=True)
            if job is None or job.lease_owner != self.owner:  # the lease expired and was taken
                return
            job.next_run_at = now + self.specs[name].every
            job.lease_until = job.lease_owner = None
            job.last_finished_at, job.last_status, job.last_error = now, status, error
            job.runs += 1


def _job_out(spec: JobSpec, j: Job, now: datetime) -> JobOut:
    return JobOut(
        name=j.name,
        description=spec.description,
        every_s=spec.every.total_seconds(),
        next_run_at=j.next_run_at,
        last_started_at=j.last_started_at,
        last_finished_at=j.last_finished_at,
        last_status=j.last_status,
        last_error=j.last_error,
        runs=j.runs,
        running=j.lease_until is not None and j.lease_until > now,
    )


class BackgroundJobs:
    """Runs ``runner.run_due()`` every ``interval_s`` seconds in a daemon thread while the
    server is up (the app's lifespan enters and leaves it); 0 turns it off.

    A thread, not an asyncio task: the jobs are blocking database, SMTP and HTTP work and must
    not stall the event loop that serves requests.
    """

    def __init__(self, runner: JobRunner, interval_s: float) -> None:
        self.runner = runner
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BackgroundJobs:
        if self.interval_s > 0:
            self._thread = threading.Thread(target=self._loop, name="smartlic-jobs", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.runner.run_due()
            except Exception:  # the database away for a moment: try again next round
                _log.exception("job runner round failed")
