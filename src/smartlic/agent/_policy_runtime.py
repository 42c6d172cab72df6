"""Policy mode over time: what ``tick()`` and ``sync()`` do, the status snapshot, the on-box
API. ``LicenseManager`` builds on this class."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import datetime

from smartlic.agent import _rum
from smartlic.agent._onbox_api import OnBoxApi
from smartlic.agent._policy_online import AUTH_REQUEST
from smartlic.agent._policy_snapshot import build_policy_status
from smartlic.agent._policy_verbs import PolicyVerbs
from smartlic.agent._status import Attempt, Status
from smartlic.errors import Conflict, SmartlicError

__all__ = ["PolicyRuntime"]


class PolicyRuntime(PolicyVerbs):
    _api: OnBoxApi | None = None

    def status(self) -> Status:
        """A typed snapshot of everything ``show license ...`` prints (no I/O)."""
        snapshot = super().status()
        if not self._policy_mode:
            return snapshot
        with self._lock:
            now = self.clock.now()
            config = self._state.transport
            policy = build_policy_status(
                self._identity,
                self._ps(),
                self._policy_view(),
                self._usage,
                now,
                (config.cslu_url, config.url),
            )
            licenses = [
                replace(u, status=self._policy_view().statuses.get(u.tag, u.status))
                for u in snapshot.licenses
            ]
        return replace(snapshot, mode="policy", policy=policy, licenses=licenses)

    # ------------------------------------------------------------ timers

    def _policy_tick(self) -> None:
        now = self.clock.now()
        with self._lock:
            self._refresh(now)
            _rum.purge(self._ps(), now, self.purge_after)
            due = self._push_due(now)
            polls = any(p.due(now) for p in self._ps().pending_polls)
            self._save()
        online = self._transport.type != "off" and self._state.enabled
        if online and polls:
            self._poll_pending(due_only=True)
        if online and due:
            # a failure is recorded in the communication statistics and retried with backoff
            with contextlib.suppress(SmartlicError):
                self._push_reports()
        with self._lock:
            self._refresh(self.clock.now())
            self._save()

    def _push_due(self, now: datetime) -> bool:
        ps, view = self._ps(), self._policy_view()
        if ps.push_failures:
            last = ps.comm.get("Usage Reporting")
            failed_at = last.last_failure if last else None
            return failed_at is None or now >= failed_at + self.timers.backoff(ps.push_failures)
        return view.next_push is not None and view.next_push <= now

    def _policy_sync(self) -> Attempt:
        """Send what is due and pending: reports, a kept authorization request, polls."""
        now = self.clock.now()
        if self._transport.type == "off":
            # nothing is closed or sent: offline devices use save_usage / import_file
            return Attempt(now, False, "Transport is off: use save usage and import")
        with self._lock:
            pending_auth = self._ps().pending_auth_request
        try:
            self._poll_pending()
            self._push_reports()
            if pending_auth is not None:
                self._sync_auth(pending_auth)
        except SmartlicError as exc:
            return Attempt(now, False, exc.detail)
        return Attempt(now, True)

    def _sync_auth(self, pending: str) -> None:
        req = json.loads(pending)
        env = self._auth_envelope(req["mode"], req["tags"])
        self._send_auth(AUTH_REQUEST, replace=req["mode"] == "replace", requests=[env])
        with self._lock:
            self._ps().pending_auth_request = None

    # ------------------------------------------------------------ on-box API

    def start_api(self, host: str, port: int, username: str, password: str) -> tuple[str, int]:
        """Serve the on-box API (``_onbox_api``) for collector-initiated mode; returns the
        bound (host, port) - pass port 0 for any free port."""
        self._require_policy()
        if not username or not password:
            raise Conflict("the on-box API needs a username and a password", code="no-credentials")
        self.stop_api()
        self._api = OnBoxApi(self.collect_reports, self.import_data, username, password)
        return self._api.start(host, port)

    def stop_api(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            api.stop()
