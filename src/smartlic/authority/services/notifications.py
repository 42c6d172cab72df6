"""E-mail notifications: users' settings, the event dispatcher, the durable outbox, SMTP.

The event log is the one source (style habit 14): ``Dispatcher.run`` reads the events written
since its cursor and turns each into outbox mails for the users subscribed to it (or digest
entries) and into webhook deliveries, in **one** transaction with the cursor's move, so an
event is dispatched exactly once even with several authority processes: the transaction
locks the dispatcher's job row (``SELECT ... FOR UPDATE``) before reading the cursor.

``Mailer.send_due`` takes each due mail ``FOR UPDATE SKIP LOCKED`` and keeps it locked while
it talks SMTP, then marks it sent in the same transaction: another process skips a mail being
sent, and a restart finds sent mails marked. (A crash between the SMTP server's "250 OK" and
the commit would send that one mail again: SMTP has no idempotency key to prevent it.)
Failures are retried with backoff (``webhooks.backoff``) up to ``MAX_ATTEMPTS``.

Usage::

    notes = SqlNotificationsService(engine, clock)
    notes.subscribe("acme.example", "alice", NoticeEvent.COMPLIANCE_WARNING, scope=SYSTEM)
    Dispatcher(engine, clock, webhooks).run()       # the job "events.dispatch"
    Mailer(engine, clock, SmtpConfig.parse(url, "smartlic@acme.example"), reports).send_due()
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.reports import SqlReportsService
from smartlic.authority.services.scope import AccountScope, Principal, scope_in
from smartlic.authority.services.users import UserPrincipal, user_principal
from smartlic.authority.services.webhooks import SqlWebhooksService, backoff
from smartlic.clock import Clock
from smartlic.errors import Forbidden, InvalidInput, NotFound
from smartlic.storage.models import (
    Event,
    Job,
    NotificationSubscription,
    OutboxMail,
    SmartAccount,
    User,
    WebhookEndpoint,
)

__all__ = [
    "DISPATCH_JOB",
    "Dispatcher",
    "Mailer",
    "NoticeEvent",
    "SmtpConfig",
    "SqlNotificationsService",
    "SubscriptionOut",
    "notice_events",
]

DISPATCH_JOB = "events.dispatch"
MAX_ATTEMPTS = 8
BATCH = 500


class NoticeEvent(StrEnum):
    """What a user may be told about ("email notification settings")."""

    COMPLIANCE_WARNING = "compliance-warning"
    LICENSE_EXPIRING = "license-expiring"  # term or demo ending in 90/60/30/7 days
    TOKEN_EXPIRING = "token-expiring"
    INSTANCE_NOT_REPORTING = "instance-not-reporting"  # or its authorization expired
    ACK_OVERDUE = "ack-overdue"
    REPORT_READY = "report-ready"
    COLLECTOR_OUT_OF_SYNC = "collector-out-of-sync"


_BY_NAME: dict[str, tuple[NoticeEvent, ...]] = {
    "license.expiring": (NoticeEvent.LICENSE_EXPIRING,),
    "token.expiring": (NoticeEvent.TOKEN_EXPIRING,),
    "instance.not_reporting": (NoticeEvent.INSTANCE_NOT_REPORTING,),
    "instance.authorization.expired": (NoticeEvent.INSTANCE_NOT_REPORTING,),
    "usage.ack.overdue": (NoticeEvent.ACK_OVERDUE,),
    "collector.out_of_sync": (NoticeEvent.COLLECTOR_OUT_OF_SYNC,),
}


def notice_events(e: Event) -> tuple[NoticeEvent, ...]:
    """The notification kinds an event of the log stands for (usually none)."""
    if e.name == "report.generated":
        if (e.properties or {}).get("kind") == "compliance-warning":
            return (NoticeEvent.COMPLIANCE_WARNING, NoticeEvent.REPORT_READY)
        return (NoticeEvent.REPORT_READY,)
    return _BY_NAME.get(e.name, ())


@dataclass(frozen=True)
class SubscriptionOut:
    id: str
    smart_account: str
    username: str
    email: str
    event: NoticeEvent
    digest: bool


class SqlNotificationsService(ServiceBase):
    """Users' notification settings, per smart account and event."""

    def subscribe(
        self,
        domain: str,
        username: str,
        event: str,
        *,
        digest: bool = False,
        scope: Principal,
    ) -> SubscriptionOut:
        """A smart-account admin sets anyone's settings; a user their own."""
        _may_set(scope, domain, username)
        kind = _notice(event)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            user = _user(s, username)
            if _scope_of(s, user, domain) is None:
                raise InvalidInput(f"user {username!r} has no role in {domain!r}", pointer="/user")
            sub = _subscription(s, user, sa, kind)
            if sub is None:
                sub = NotificationSubscription(
                    user_id=user.id, smart_account_id=sa.id, event=kind.value, created_at=self.now()
                )
                s.add(sub)
            sub.digest = digest
            s.flush()
            self.record(
                s,
                "notification.subscribed",
                actor=scope.label(),
                smart_account=sa,
                subject=username,
                event=kind.value,
                digest=digest,
            )
            return _sub_out(sub, domain, user)

    def unsubscribe(self, domain: str, username: str, event: str, *, scope: Principal) -> None:
        _may_set(scope, domain, username)
        kind = _notice(event)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            user = _user(s, username)
            sub = _subscription(s, user, sa, kind)
            if sub is None:
                raise NotFound(f"{username!r} is not subscribed to {kind.value!r} in {domain!r}")
            s.delete(sub)
            self.record(
                s,
                "notification.unsubscribed",
                actor=scope.label(),
                smart_account=sa,
                subject=username,
            )

    def list_subscriptions(
        self, domain: str, username: str | None = None, *, scope: Principal
    ) -> list[SubscriptionOut]:
        if username is None:
            scope_in(scope, domain).require_manage()
        else:
            _may_set(scope, domain, username)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = (
                select(NotificationSubscription, User)
                .join(User, User.id == NotificationSubscription.user_id)
                .where(NotificationSubscription.smart_account_id == sa.id)
            )
            if username is not None:
                q = q.where(User.username == username)
            rows = s.execute(q.order_by(User.username, NotificationSubscription.event)).all()
            return [_sub_out(sub, domain, u) for sub, u in rows]

    def outbox(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest outbox rows (operators' view; bodies left out)."""
        with self.transaction() as s:
            q = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(min(limit, 1000))
            return [
                {
                    "id": m.id,
                    "to": m.to_addr,
                    "subject": m.subject,
                    "event": m.event,
                    "state": m.state,
                    "attempts": m.attempts,
                    "sent_at": m.sent_at,
                    "last_error": m.last_error,
                }
                for m in s.scalars(q)
            ]


class Dispatcher(ServiceBase):
    """Events → outbox mails, digest entries and webhook deliveries, exactly once."""

    def __init__(self, engine: Any, clock: Clock, webhooks: SqlWebhooksService) -> None:
        super().__init__(engine, clock)
        self.webhooks = webhooks

    def run(self) -> str:
        mails = hooks = 0
        for _ in range(20):  # events this run itself causes are taken on the next pass
            done, m, h = self._batch()
            mails, hooks = mails + m, hooks + h
            if done < BATCH:
                break
        return f"{mails} mail(s) queued, {hooks} webhook delivery(ies) queued"

    def _batch(self) -> tuple[int, int, int]:
        now = self.now()
        with self.transaction() as s:
            job = s.get(Job, DISPATCH_JOB, with_for_update=True)  # the race: see module doc
            if job is None:
                job = Job(name=DISPATCH_JOB, next_run_at=now, last_status="never", runs=0, cursor=0)
                s.add(job)
                s.flush()
            events = list(
                s.scalars(
                    select(Event)
                    .where(Event.id > job.cursor, Event.smart_account_id.is_not(None))
                    .order_by(Event.id)
                    .limit(BATCH)
                )
            )
            mails = hooks = 0
            for e in events:
                mails += self._mails(s, e, now)
                hooks += self.webhooks.enqueue(s, e, _endpoints(s, e.smart_account_id))
            if events:
                job.cursor = events[-1].id
            return len(events), mails, hooks

    def _mails(self, s: Session, e: Event, now: datetime) -> int:
        kinds = notice_events(e)
        if not kinds:
            return 0
        sa = s.get(SmartAccount, e.smart_account_id)
        assert sa is not None
        q = (
            select(NotificationSubscription, User)
            .join(User, User.id == NotificationSubscription.user_id)
            .where(
                NotificationSubscription.smart_account_id == sa.id,
                NotificationSubscription.event.in_([k.value for k in kinds]),
                User.disabled.is_(False),
                User.email != "",
            )
        )
        done: set[str] = set()
        for sub, user in s.execute(q.order_by(NotificationSubscription.event)).all():
            if user.id in done or not _may_see(s, user, sa.domain, e.virtual_account):
                continue  # one mail per user and event, whichever subscription matched first
            done.add(user.id)
            subject, body = _compose(e, sa, NoticeEvent(sub.event))
            s.add(
                OutboxMail(
                    user_id=user.id,
                    to_addr=user.email,
                    subject=subject,
                    body=body,
                    event=sub.event,
                    report_id=(e.properties or {}).get("report_id"),
                    state="digest" if sub.digest else "pending",
                    created_at=now,
                    next_attempt_at=now,
                    attempts=0,
                )
            )
        return len(done)

    def digest(self) -> str:
        """One mail per user with their waiting digest entries (the job "mail.digest")."""
        now = self.now()
        with self.transaction() as s:
            entries = list(
                s.scalars(
                    select(OutboxMail)
                    .where(OutboxMail.state == "digest")
                    .order_by(OutboxMail.id)
                    .with_for_update(skip_locked=True)
                )
            )
            by_user: dict[str, list[OutboxMail]] = {}
            for m in entries:
                by_user.setdefault(m.to_addr, []).append(m)
            for addr, items in by_user.items():
                s.add(_digest_mail(addr, items, now))
                for m in items:
                    m.state = "digested"
        return f"{len(by_user)} digest(s) of {len(entries)} entr(ies)"


@dataclass(frozen=True)
class SmtpConfig:
    """``smtp://[user:pass@]host:port`` (plain), ``smtp+starttls://`` or ``smtps://`` (TLS)."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    sender: str

    @classmethod
    def parse(cls, url: str, sender: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
            raise InvalidInput("SMTP URL must be smtp://, smtp+starttls:// or smtps://host:port")
        default = 465 if parts.scheme == "smtps" else 25
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port or default,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=sender,
        )

    def connect(self, timeout: float = 30.0) -> smtplib.SMTP:
        ctx = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=ctx)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=ctx)
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp


class Mailer(ServiceBase):
    """Sends the outbox over SMTP (the job "mail.send")."""

    def __init__(
        self,
        engine: Any,
        clock: Clock,
        smtp: SmtpConfig | None,
        reports: SqlReportsService,
        *,
        connect: Callable[[SmtpConfig], smtplib.SMTP] | None = None,
    ) -> None:
        super().__init__(engine, clock)
        self.smtp = smtp
        self.reports = reports
        self._connect = connect or (lambda c: c.connect())

    def send_due(self, limit: int = 100) -> str:
        if self.smtp is None:
            return "no SMTP server configured (SMARTLIC_AUTHORITY_SMTP_URL)"
        sent = failed = 0
        conn: smtplib.SMTP | None = None
        try:
            for _ in range(limit):
                outcome, conn = self._send_one(conn)
                if outcome is None:
                    break
                sent, failed = (sent + 1, failed) if outcome else (sent, failed + 1)
        finally:
            if conn is not None:
                with contextlib.suppress(smtplib.SMTPException):
                    conn.quit()
        return f"{sent} mail(s) sent, {failed} failed attempt(s)"

    def _send_one(self, conn: smtplib.SMTP | None) -> tuple[bool | None, smtplib.SMTP | None]:
        assert self.smtp is not None
        now = self.now()
        with self.transaction() as s:
            m = s.scalar(
                select(OutboxMail)
                .where(OutboxMail.state == "pending", OutboxMail.next_attempt_at <= now)
                .order_by(OutboxMail.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if m is None:
                return None, conn
            try:
                conn = conn or self._connect(self.smtp)
                conn.send_message(self._message(s, m))
            except (OSError, smtplib.SMTPException) as exc:
                m.attempts += 1
                m.last_error = f"{type(exc).__name__}: {exc}"[:500]
                m.state = "failed" if m.attempts >= MAX_ATTEMPTS else "pending"
                m.next_attempt_at = now + backoff(m.attempts)
                return False, None
            m.attempts += 1
            m.state, m.sent_at, m.last_error = "sent", now, None
            return True, conn

    def _message(self, s: Session, m: OutboxMail) -> EmailMessage:
        assert self.smtp is not None
        msg = EmailMessage()
        msg["From"] = self.smtp.sender
        msg["To"] = m.to_addr
        msg["Subject"] = m.subject
        msg["Message-ID"] = f"<outbox-{m.id}@smartlic>"  # the same id if ever sent again
        msg.set_content(m.body)
        # the report is read in this transaction: on SQLite a second one would wait for it
        report = self.reports.load(s, m.report_id) if m.report_id else None
        if report is not None:
            msg.add_attachment(
                self.reports.pdf_bytes(report),
                maintype="application",
                subtype="pdf",
                filename=f"report-{report.id}.pdf",
            )
        return msg


# ------------------------------------------------------------ helpers


def _notice(event: str) -> NoticeEvent:
    try:
        return NoticeEvent(event)
    except ValueError:
        choices = ", ".join(e.value for e in NoticeEvent)
        raise InvalidInput(f"unknown event {event!r}; one of {choices}", pointer="/event") from None


def _may_set(scope: Principal, domain: str, username: str) -> None:
    sc = scope_in(scope, domain)
    if not (isinstance(scope, UserPrincipal) and scope.name == username):
        sc.require_manage()


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _subscription(
    s: Session, user: User, sa: SmartAccount, kind: NoticeEvent
) -> NotificationSubscription | None:
    """``user``'s subscription to ``kind`` in ``sa``: at most one (a unique constraint)."""
    return s.scalar(
        select(NotificationSubscription).where(
            NotificationSubscription.user_id == user.id,
            NotificationSubscription.smart_account_id == sa.id,
            NotificationSubscription.event == kind.value,
        )
    )


def _scope_of(s: Session, user: User, domain: str) -> AccountScope | None:
    """The user's scope in ``domain`` by the one rule of every read (services/scope.py), or
    ``None`` when it has no role there."""
    try:
        return scope_in(user_principal(s, user), domain)
    except Forbidden:
        return None


def _may_see(s: Session, user: User, domain: str, va_name: str | None) -> bool:
    """A user told about an event may read it: account-wide events need the whole account,
    a virtual account's events that virtual account (as the event log shows them)."""
    visible = _scope_of(s, user, domain)
    if visible is None:
        return False
    return visible.sees_all if va_name is None else visible.can_read(va_name)


def _endpoints(s: Session, sa_id: str | None) -> list[WebhookEndpoint]:
    q = select(WebhookEndpoint).where(
        WebhookEndpoint.smart_account_id == sa_id, WebhookEndpoint.active.is_(True)
    )
    return list(s.scalars(q))


_SUBJECTS = {
    NoticeEvent.COMPLIANCE_WARNING: "Compliance warning",
    NoticeEvent.LICENSE_EXPIRING: "License expiring",
    NoticeEvent.TOKEN_EXPIRING: "Registration token expiring",
    NoticeEvent.INSTANCE_NOT_REPORTING: "Product instance not reporting",
    NoticeEvent.ACK_OVERDUE: "Reporting acknowledgement overdue",
    NoticeEvent.REPORT_READY: "Report ready",
    NoticeEvent.COLLECTOR_OUT_OF_SYNC: "Collector out of sync",
}


def _compose(e: Event, sa: SmartAccount, kind: NoticeEvent) -> tuple[str, str]:
    where = sa.domain + (f" / {e.virtual_account}" if e.virtual_account else "")
    subject = f"[smartlic] {_SUBJECTS[kind]}: {where}"
    lines = [
        f"{_SUBJECTS[kind]} in {where}",
        "",
        f"Event:   {e.name}",
        f"At:      {e.at.isoformat()}",
        f"Subject: {e.subject or '-'}",
    ]
    lines += [f"{k}: {v}" for k, v in sorted((e.properties or {}).items())]
    return subject[:300], "\n".join(lines) + "\n"


def _digest_mail(addr: str, items: list[OutboxMail], now: datetime) -> OutboxMail:
    body = "\n\n".join(f"== {m.subject}\n{m.body}" for m in items)
    return OutboxMail(
        user_id=items[0].user_id,
        to_addr=addr,
        subject=f"[smartlic] Daily digest: {len(items)} notification(s)",
        body=body,
        event="digest",
        state="pending",
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )


def _sub_out(sub: NotificationSubscription, domain: str, user: User) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id,
        smart_account=domain,
        username=user.username,
        email=user.email,
        event=NoticeEvent(sub.event),
        digest=sub.digest,
    )
