"""Policy mode on the wire (``PolicyWire``, docs/usage-protocol.md): report usage and poll for
the ACK, request and return authorization codes, establish trust. Each exchange builds its request
under the state lock, does the I/O without it, and installs the verified answer under it.

Polling: the authority answers ``OK_POLL`` with a ``poll_id``; the agent polls at once a few
times (our authority and collector usually complete immediately) and otherwise remembers the
poll and retries at each ``tick()`` (the vendor's "Retrieve data processing result" job).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from datetime import timedelta
from typing import Any

from smartlic.agent import _rum
from smartlic.agent._context import AgentContext
from smartlic.agent._policy_core import PolicyCore
from smartlic.agent._policy_files import retire
from smartlic.agent._policy_state import PendingPoll
from smartlic.agent._transports import PolicyTransport
from smartlic.errors import (
    Conflict,
    Forbidden,
    InsufficientLicenses,
    InvalidInput,
    ReplayDetected,
    SmartlicError,
    Unavailable,
)
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.rum import sudi_json

__all__ = ["PolicyWire"]

IMMEDIATE_POLLS = 3
USAGE, POLLING, AUTH_REQUEST, AUTH_RETURN, TRUST = (
    "Usage Reporting",
    "Result Polling",
    "Authorization Request",
    "Authorization Return",
    "Trust Establishment",
)
_ERRORS: dict[str, type[SmartlicError]] = {
    "insufficient-licenses": InsufficientLicenses,
    "export-not-allowed": Forbidden,
    "forbidden": Forbidden,
    "not-enforced": InvalidInput,
    "unknown-tag": InvalidInput,
}


class PolicyWire:
    """Policy messages through the context's transport, counted in the communication
    statistics; verified answers are installed through ``core``."""

    def __init__(self, ctx: AgentContext, core: PolicyCore) -> None:
        self.ctx, self.core = ctx, core

    def post(self, kind: str, message: str, body: dict[str, Any]) -> dict[str, Any]:
        """One message through the transport, counted in the communication statistics."""
        transport = self.ctx.transport
        now = self.ctx.clock.now()
        try:
            if not isinstance(transport, PolicyTransport):
                raise Unavailable(f"the {transport.type} transport cannot carry policy messages")
            answer = transport.post_policy(message, body)
        except Exception as exc:
            with self.ctx.lock:
                self.core.comm(
                    kind,
                    now,
                    "NO REPLY" if isinstance(exc, Unavailable) else "INVALID",
                    getattr(exc, "detail", str(exc)),
                )
                self.ctx.save()
            raise
        with self.ctx.lock:
            self.core.comm(kind, now, str(answer.get("status") or "OK"), None)
        return answer

    def data(self, **fields: Any) -> dict[str, Any]:
        now = self.ctx.clock.now()
        return {"data": {"timestamp": timestamp_ms(now), "nonce": make_nonce(), **fields}}

    # ------------------------------------------------------------ usage reporting

    def push_reports(self) -> int:
        """Close the open reports and send every report not yet acknowledged; 0 if none."""
        now = self.ctx.clock.now()
        with self.ctx.lock:
            self.core.refresh(now)
            self.core.close_open(None, now)
            pending = _rum.unacknowledged(self.core.ps())
            self.ctx.save()
            if not pending:
                return 0
            usage = [json.loads(r.envelope or "{}") for r in pending]
        body = self.data(reports=[{"sudi": sudi_json(self.ctx.udi), "usage": usage}])
        try:
            answer = self.post(USAGE, "reportusage", body)
        except Exception:
            with self.ctx.lock:
                self.core.ps().push_failures += 1
                self.ctx.emit("agent.policy.report.failed", reports=len(pending))
                self.ctx.save()
            raise
        with self.ctx.lock:
            for r in pending:
                r.sent_at = now
            self.core.ps().last_report_push, self.core.ps().push_failures = now, 0
            self.ctx.save()
        self.follow(answer)
        return len(pending)

    # ------------------------------------------------------------ polling
    # The answer's ``poll_interval`` (the vendor's 300 s) spaces later polls, so a device that
    # ticks often does not poll on every tick.

    def follow(self, answer: dict[str, Any], *, replace: bool = False) -> dict[str, Any] | None:
        """Poll an ``OK_POLL`` answer to ``COMPLETE`` and install it; None if still pending.
        ``replace``: installed authorization codes give way to the answered ones."""
        for _ in range(IMMEDIATE_POLLS):
            if answer.get("status") == "COMPLETE":
                return self._complete(answer, replace)
            poll_id, action = answer.get("poll_id"), answer.get("action") or answer.get("type")
            if not isinstance(poll_id, int):
                raise InvalidInput(f"unexpected answer status {answer.get('status')!r}")
            answer = self.post(POLLING, "poll", self.data(poll_id=poll_id, action=action))
            if answer.get("status") == "OK_POLL" and answer.get("poll_id") is None:
                answer = {**answer, "poll_id": poll_id, "action": action}
        if answer.get("status") == "COMPLETE":
            return self._complete(answer, replace)
        now = self.ctx.clock.now()
        pending = PendingPoll(
            int(answer["poll_id"]), str(answer.get("action")), now, now + _interval(answer)
        )
        with self.ctx.lock:
            self.core.ps().pending_polls.append(pending)
            self.ctx.save()
        return None

    def poll_pending(self, *, due_only: bool = False) -> None:
        """Poll the pending answers (``due_only``: those whose poll interval has passed)."""
        now = self.ctx.clock.now()
        with self.ctx.lock:
            polls = [p for p in self.core.ps().pending_polls if not due_only or p.due(now)]
            self.core.ps().pending_polls = [
                p for p in self.core.ps().pending_polls if p not in polls
            ]
        for p in polls:
            try:
                self.follow({"status": "OK_POLL", "poll_id": p.poll_id, "action": p.action})
            except SmartlicError:
                p.next_at = now + timedelta(seconds=DEFAULT_POLL_INTERVAL_S)
                with self.ctx.lock:
                    self.core.ps().pending_polls.append(p)
                    self.ctx.save()

    def _complete(self, answer: dict[str, Any], replace: bool = False) -> dict[str, Any]:
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        assert isinstance(data, dict)
        ours = sudi_json(self.ctx.udi)
        for item in data.get("acknowledgements") or []:
            if item.get("sudi") == ours and item.get("smart_license"):
                # An answer polled again after a lost reply, or older than one applied since:
                # refused by the import (and logged), but no reason to fail the whole poll.
                with contextlib.suppress(ReplayDetected):
                    self.core.install(_b64(item["smart_license"]), "online")
        codes = [
            i
            for i in data.get("authorizations") or []
            if i.get("status") == "SUCCESS" and i.get("smart_license")
        ]
        if codes and replace:
            with self.ctx.lock:  # the replaced codes are superseded: never installed again
                retire(self.core.ps(), [a.code_id for a in self.core.ps().authorizations])
        for item in codes:
            self.core.install(_b64(item["smart_license"]), "authorization")
        for err in data.get("errors") or []:
            if err.get("sudi") == ours:
                self._rejected(err.get("rejected") or [])
        return data

    def _rejected(self, rejected: list[Any]) -> None:
        reasons = "; ".join(str(r.get("reason")) for r in rejected if isinstance(r, dict))
        with self.ctx.lock:
            rec = self.core.ps().comm.get(USAGE)
            if rec is not None:
                rec.failure_reason = reasons or "rejected"
            self.core.record(
                "SAEVT_RUM_REJECTED",
                f"%SMART_LIC-3-REPORT_REJECTED: {reasons}",
                self.ctx.clock.now(),
            )
            self.ctx.save()

    # ------------------------------------------------------------ authorization codes

    def send_auth(self, kind: str, *, replace: bool = False, **fields: Any) -> list[dict[str, Any]]:
        """Send requests or returns; the codes answered are installed (``_complete``)."""
        answer = self.post(kind, "authrequest", self.data(**fields))
        done = self.follow(answer, replace=replace)
        if done is None:
            raise Unavailable("the authorization answer is not ready yet; it is polled later")
        items = [i for i in done.get("authorizations") or [] if isinstance(i, dict)]
        failed = [i for i in items if i.get("status") != "SUCCESS"]
        if failed:
            first = failed[0]
            self._refused(kind, str(first.get("status_message") or "refused"))
            cls = _ERRORS.get(str(first.get("error_code")), Conflict)
            raise cls(str(first.get("status_message") or "refused"), code=first.get("error_code"))
        return items

    def _refused(self, kind: str, reason: str) -> None:
        """The message went through but the answer refused it: count the attempt as failed."""
        with self.ctx.lock:
            rec = self.core.ps().comm.get(kind)
            if rec is not None and rec.success:
                rec.success, rec.fail = rec.success - 1, rec.fail + 1
                rec.failure_reason, rec.last_failure = reason, self.ctx.clock.now()
                rec.last_response = "FAILED"
            self.ctx.save()

    def trust_exchange(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return self.post(TRUST, "trust", envelope)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("the answer's smart_license is not base64") from exc


DEFAULT_POLL_INTERVAL_S = 300


def _interval(answer: dict[str, Any]) -> timedelta:
    value = answer.get("poll_interval")
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 86400:
        return timedelta(seconds=value)
    return timedelta(seconds=DEFAULT_POLL_INTERVAL_S)
