"""Webhooks: per smart account endpoints that receive the account's events as signed JSON.

An endpoint has a URL, event filters (``fnmatch`` patterns over dotted event names:
``compliance.*``, ``report.generated``, ``*``) and a secret. The dispatcher
(``notifications.Dispatcher``) queues one delivery per matching event; ``send_due`` posts
them. Each POST carries::

    Smartlic-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
    Smartlic-Event: <event name>
    Smartlic-Delivery: <delivery id>

The secret is kept AES-GCM sealed at rest (``crypto.seal`` under the key directory's
``token.key``, bound to the endpoint's id), opened only to sign. Every URL passes
``egress.EgressPolicy`` when the endpoint is created and again at each delivery (no internal
addresses unless the operator allows them; redirects not followed).

A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares it in
constant time and refuses old timestamps (docs/notifications.md). A delivery that gets no 2xx
is retried with exponential backoff (1, 2, 4 ... minutes, at most 6 hours apart) up to
``MAX_ATTEMPTS``; every attempt goes to the delivery log with its response code or error.

Several authority processes may send: a due delivery is taken ``FOR UPDATE SKIP LOCKED`` and
kept locked while it is posted, so no two processes post the same delivery.

Usage::

    hooks = SqlWebhooksService(engine, clock, keys.sealing_key, EgressPolicy())
    created = hooks.create_endpoint("acme.example", "https://hooks.acme/x", ["compliance.*"],
                                    scope=SYSTEM)   # created.secret is shown once
    hooks.send_due()                               # the job "webhooks.send"
    hooks.replay("acme.example", delivery_id, scope=SYSTEM)
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.egress import EgressPolicy
from smartlic.authority.services.scope import Principal, scope_in
from smartlic.clock import Clock
from smartlic.crypto import open_sealed, seal
from smartlic.errors import InvalidInput, NotFound, SmartlicError, Unavailable
from smartlic.formats.bounds import check_id
from smartlic.storage.models import (
    Event,
    SmartAccount,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "MAX_ATTEMPTS",
    "SIGNATURE_HEADER",
    "AttemptOut",
    "DeliveryOut",
    "EndpointOut",
    "SqlWebhooksService",
    "backoff",
    "sign",
]

SIGNATURE_HEADER = "Smartlic-Signature"
MAX_ATTEMPTS = 8
MAX_FILTERS = 20
BATCH = 50


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failures: 1, 2, 4 ... minutes, ≤ 6 hours."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), timedelta(hours=6))


@dataclass(frozen=True)
class EndpointOut:
    id: str
    smart_account: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    secret: str | None = None  # only in the answer to its creation


@dataclass(frozen=True)
class AttemptOut:
    at: datetime
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class DeliveryOut:
    id: int
    endpoint_id: str
    event_name: str
    state: str  # pending | delivered | failed
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    replay_of: int | None
    log: list[AttemptOut]


class SqlWebhooksService(ServiceBase):
    def __init__(
        self,
        engine: Any,
        clock: Clock,
        sealing_key: bytes,
        egress: EgressPolicy,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(engine, clock)
        self.sealing_key = sealing_key
        self.egress = egress
        self.timeout_s = timeout_s

    # ------------------------------------------------------------ endpoints

    def create_endpoint(
        self, domain: str, url: str, events: list[str], *, scope: Principal
    ) -> EndpointOut:
        scope_in(scope, domain).require_manage()
        events = _check_filters(events)
        self.egress.check(url)
        if not self.sealing_key:
            raise Unavailable("webhooks need the key directory's token.key to seal secrets")
        secret = "whsec_" + secrets.token_urlsafe(32)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            ep = WebhookEndpoint(
                smart_account_id=sa.id,
                url=url,
                secret_sealed=b"",
                events=events,
                active=True,
                created_at=self.now(),
            )
            s.add(ep)
            s.flush()
            ep.secret_sealed = seal(self.sealing_key, secret, ep.id)
            self.record(
                s, "webhook.created", actor=scope.label(), smart_account=sa, subject=ep.id, url=url
            )
            return _endpoint_out(ep, domain, secret=secret)

    def list_endpoints(self, domain: str, *, scope: Principal) -> list[EndpointOut]:
        scope_in(scope, domain).require_manage()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = select(WebhookEndpoint).where(WebhookEndpoint.smart_account_id == sa.id)
            return [_endpoint_out(e, domain) for e in s.scalars(q.order_by(WebhookEndpoint.id))]

    def delete_endpoint(self, domain: str, endpoint_id: str, *, scope: Principal) -> None:
        scope_in(scope, domain).require_manage()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            ep = self._endpoint(s, sa, endpoint_id)
            s.delete(ep)
            self.record(
                s, "webhook.deleted", actor=scope.label(), smart_account=sa, subject=endpoint_id
            )

    # ------------------------------------------------------------ deliveries

    def enqueue(self, s: Session, event: Event, endpoints: list[WebhookEndpoint]) -> int:
        """Queue ``event`` for every endpoint whose filters match (the dispatcher's transaction)."""
        n = 0
        for ep in endpoints:
            if ep.active and any(fnmatch.fnmatchcase(event.name, p) for p in ep.events):
                s.add(
                    WebhookDelivery(
                        endpoint_id=ep.id,
                        event_name=event.name,
                        payload=json.dumps(_payload(event, ep), sort_keys=True),
                        state="pending",
                        created_at=self.now(),
                        next_attempt_at=self.now(),
                        attempts=0,
                    )
                )
                n += 1
        return n

    def list_deliveries(
        self,
        domain: str,
        *,
        scope: Principal,
        endpoint_id: str | None = None,
        limit: int = 100,
    ) -> list[DeliveryOut]:
        scope_in(scope, domain).require_manage()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = (
                select(WebhookDelivery)
                .join(WebhookEndpoint)
                .where(WebhookEndpoint.smart_account_id == sa.id)
            )
            if endpoint_id is not None:
                q = q.where(WebhookDelivery.endpoint_id == endpoint_id)
            rows = s.scalars(q.order_by(WebhookDelivery.id.desc()).limit(min(limit, 1000)))
            return [self._delivery_out(s, d) for d in rows]

    def get_delivery(self, domain: str, delivery_id: int, *, scope: Principal) -> DeliveryOut:
        scope_in(scope, domain).require_manage()
        with self.transaction() as s:
            return self._delivery_out(s, self._delivery(s, domain, delivery_id))

    def replay(self, domain: str, delivery_id: int, *, scope: Principal) -> DeliveryOut:
        """Queue the same payload again as a new delivery (``replay_of`` names the original)."""
        scope_in(scope, domain).require_manage()
        now = self.now()
        with self.transaction() as s:
            old = self._delivery(s, domain, delivery_id)
            new = WebhookDelivery(
                endpoint_id=old.endpoint_id,
                event_name=old.event_name,
                payload=old.payload,
                state="pending",
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                replay_of=old.id,
            )
            s.add(new)
            s.flush()
            sa = self.smart_account(s, domain)
            self.record(
                s,
                "webhook.delivery.replayed",
                actor=scope.label(),
                smart_account=sa,
                subject=str(old.id),
            )
            return self._delivery_out(s, new)

    def send_due(self) -> str:
        """Post every due delivery once (the job "webhooks.send")."""
        sent = failed = 0
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            for _ in range(BATCH):
                outcome = self._send_one(client)
                if outcome is None:
                    break
                sent, failed = (sent + 1, failed) if outcome else (sent, failed + 1)
        return f"{sent} delivered, {failed} failed attempt(s)"

    def _send_one(self, client: httpx.Client) -> bool | None:
        now = self.now()
        with self.transaction() as s:
            d = s.scalar(
                select(WebhookDelivery)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if d is None:
                return None
            ep = s.get(WebhookEndpoint, d.endpoint_id)
            assert ep is not None
            code, error = self._post(client, ep, d, int(now.timestamp()))
            ok = code is not None and 200 <= code < 300
            s.add(WebhookAttempt(delivery_id=d.id, at=now, status_code=code, error=error))
            d.attempts += 1
            d.last_status_code, d.last_error = code, error
            if ok:
                d.state, d.delivered_at = "delivered", now
            elif d.attempts >= MAX_ATTEMPTS:
                d.state = "failed"
            else:
                d.next_attempt_at = now + backoff(d.attempts)
            return ok

    # ------------------------------------------------------------ internals

    def _post(
        self, client: httpx.Client, ep: WebhookEndpoint, d: WebhookDelivery, ts: int
    ) -> tuple[int | None, str | None]:
        """One attempt: the URL checked again (and pinned to the checked address), the body
        signed with the endpoint's opened secret."""
        secret = open_sealed(self.sealing_key, ep.secret_sealed, ep.id)
        if secret is None:
            return None, "the endpoint's secret does not open under this key directory"
        try:
            dest = self.egress.check(ep.url)
        except SmartlicError as exc:
            return None, exc.detail[:500]
        body = d.payload.encode()
        headers = {
            **dest.headers(),
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, ts, body),
            "Smartlic-Event": d.event_name,
            "Smartlic-Delivery": str(d.id),
            "User-Agent": "smartlic-webhooks",
        }
        request = client.build_request(
            "POST", dest.pinned_url, content=body, headers=headers, extensions=dest.extensions()
        )
        try:
            r = client.send(request)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if r.is_redirect:
            return r.status_code, f"HTTP {r.status_code} (redirects are not followed)"
        return r.status_code, None if r.is_success else f"HTTP {r.status_code}"

    def _endpoint(self, s: Session, sa: SmartAccount, endpoint_id: str) -> WebhookEndpoint:
        ep = s.get(WebhookEndpoint, endpoint_id[:36])
        if ep is None or ep.smart_account_id != sa.id:
            raise NotFound(f"no webhook {endpoint_id!r} in {sa.domain!r}")
        return ep

    def _delivery(self, s: Session, domain: str, delivery_id: int) -> WebhookDelivery:
        sa = self.smart_account(s, domain)
        d = s.get(WebhookDelivery, check_id(delivery_id, "/delivery_id", "delivery_id"))
        if d is None or s.get(WebhookEndpoint, d.endpoint_id).smart_account_id != sa.id:  # type: ignore[union-attr]
            raise NotFound(f"no webhook delivery {delivery_id} in {domain!r}")
        return d

    @staticmethod
    def _delivery_out(s: Session, d: WebhookDelivery) -> DeliveryOut:
        log = s.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == d.id)
            .order_by(WebhookAttempt.id)
        )
        return DeliveryOut(
            id=d.id,
            endpoint_id=d.endpoint_id,
            event_name=d.event_name,
            state=d.state,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            replay_of=d.replay_of,
            log=[AttemptOut(a.at, a.status_code, a.error) for a in log],
        )


def _payload(e: Event, ep: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "virtual_account": e.virtual_account,
        "subject": e.subject,
        "properties": dict(e.properties or {}),
        "webhook": ep.id,
    }


def _check_filters(events: list[str]) -> list[str]:
    if not events or len(events) > MAX_FILTERS:
        raise InvalidInput(f"give 1-{MAX_FILTERS} event filters", pointer="/events")
    for p in events:
        if (
            not isinstance(p, str)
            or not 1 <= len(p) <= 100
            or (not p.replace(".", "").replace("*", "").replace("_", "").isalnum() and p != "*")
        ):
            raise InvalidInput(f"bad event filter {p!r}", pointer="/events")
    return sorted(set(events))


def _endpoint_out(ep: WebhookEndpoint, domain: str, *, secret: str | None = None) -> EndpointOut:
    return EndpointOut(
        id=ep.id,
        smart_account=domain,
        url=ep.url,
        events=list(ep.events),
        active=ep.active,
        created_at=ep.created_at,
        secret=secret,
    )
