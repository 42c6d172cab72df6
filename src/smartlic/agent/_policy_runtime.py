"""Smart Licensing Using Policy as an engine (``PolicyEngine``): its collaborators - the
bookkeeping (``PolicyCore``), the wire (``PolicyWire``) and the verbs (``PolicyVerbs``) - plus
what ``tick()`` and ``sync()`` do over time, the status snapshot and the on-box API."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import datetime, timedelta

from smartlic.agent import _rum
from smartlic.agent._context import AgentContext
from smartlic.agent._onbox_api import OnBoxApi
from smartlic.agent._policy_core import PolicyCore
from smartlic.agent._policy_online import AUTH_REQUEST, PolicyWire
from smartlic.agent._policy_snapshot import build_policy_status
from smartlic.agent._policy_verbs import PolicyVerbs
from smartlic.agent._reservation import ReservationEngine
from smartlic.agent._status import Attempt, Status
from smartlic.errors import Conflict, SmartlicError

__all__ = ["PolicyEngine"]


class PolicyEngine:
    """Policy mode over an ``AgentContext``; ``verbs`` are its public commands."""

    name = "policy"

    def __init__(
        self,
        ctx: AgentContext,
        reservation: ReservationEngine,
        *,
        authority_ca: str | None = None,
        sample_interval: timedelta = timedelta(minutes=15),
        purge_after: timedelta = timedelta(days=90),
    ) -> None:
        self.ctx = ctx
        self.core = PolicyCore(
            ctx,
            reservation,
            authority_ca=authority_ca,
            sample_interval=sample_interval,
            purge_after=purge_after,
        )
        self.wire = PolicyWire(ctx, self.core)
        self.verbs = PolicyVerbs(ctx, self.core, self.wire)
        self._api: OnBoxApi | None = None

    def refresh(self, now: datetime) -> None:
        self.core.refresh(now)

    def gate(self, tag: str, count: int) -> None:
        self.core.gate(tag, count)

    def note_usage(self, tag: str) -> None:
        text = f'count="{self.ctx.usage.get(tag, 0)}" entitlementTag="{tag}"'
        self.core.record("SAEVT_ENDPOINT_USAGE", text, self.ctx.clock.now())

    def status(self, snapshot: Status) -> Status:
        """The classic ``snapshot`` with the policy view over it (no I/O)."""
        with self.ctx.lock:
            now = self.ctx.clock.now()
            config = self.ctx.state.transport
            view = self.core.view()
            policy = build_policy_status(
                self.ctx.identity,
                self.core.ps(),
                view,
                self.ctx.usage,
                now,
                (config.cslu_url, config.url),
            )
            licenses = [
                replace(u, status=view.statuses.get(u.tag, u.status)) for u in snapshot.licenses
            ]
        return replace(snapshot, mode="policy", policy=policy, licenses=licenses)

    def tick(self) -> None:
        with self.ctx.exchange_lock:
            self._policy_tick()

    def sync(self) -> Attempt:
        with self.ctx.exchange_lock:
            return self._policy_sync()

    # ------------------------------------------------------------ timers

    def _policy_tick(self) -> None:
        now = self.ctx.clock.now()
        with self.ctx.lock:
            self.core.refresh(now)
            _rum.purge(self.core.ps(), now, self.core.purge_after)
            due = self._push_due(now)
            polls = any(p.due(now) for p in self.core.ps().pending_polls)
            self.ctx.save()
        online = self.ctx.transport.type != "off" and self.ctx.state.enabled
        if online and polls:
            self.wire.poll_pending(due_only=True)
        if online and due:
            # a failure is recorded in the communication statistics and retried with backoff
            with contextlib.suppress(SmartlicError):
                self.wire.push_reports()
        with self.ctx.lock:
            self.core.refresh(self.ctx.clock.now())
            self.ctx.save()

    def _push_due(self, now: datetime) -> bool:
        ps, view = self.core.ps(), self.core.view()
        if ps.push_failures:
            last = ps.comm.get("Usage Reporting")
            failed_at = last.last_failure if last else None
            return failed_at is None or now >= failed_at + self.ctx.timers.backoff(ps.push_failures)
        return view.next_push is not None and view.next_push <= now

    def _policy_sync(self) -> Attempt:
        """Send what is due and pending: reports, a kept authorization request, polls."""
        now = self.ctx.clock.now()
        if self.ctx.transport.type == "off":
            # nothing is closed or sent: offline devices use save_usage / import_file
            return Attempt(now, False, "Transport is off: use save usage and import")
        with self.ctx.lock:
            pending_auth = self.core.ps().pending_auth_request
        try:
            self.wire.poll_pending()
            self.wire.push_reports()
            if pending_auth is not None:
                self._sync_auth(pending_auth)
        except SmartlicError as exc:
            return Attempt(now, False, exc.detail)
        return Attempt(now, True)

    def _sync_auth(self, pending: str) -> None:
        req = json.loads(pending)
        env = self.verbs.auth_envelope(req["mode"], req["tags"])
        self.wire.send_auth(AUTH_REQUEST, replace=req["mode"] == "replace", requests=[env])
        with self.ctx.lock:
            self.core.ps().pending_auth_request = None

    # ------------------------------------------------------------ on-box API

    def start_api(self, host: str, port: int, username: str, password: str) -> tuple[str, int]:
        """Serve the on-box API (``_onbox_api``) for collector-initiated mode; returns the
        bound (host, port) - pass port 0 for any free port."""
        self.verbs.require_policy()
        if not username or not password:
            raise Conflict("the on-box API needs a username and a password", code="no-credentials")
        self.stop_api()
        self._api = OnBoxApi(self.verbs.collect_reports, self.verbs.import_data, username, password)
        return self._api.start(host, port)

    def stop_api(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            api.stop()
