"""Policy mode's bookkeeping (``PolicyCore``): usage recording, the derived view, the overdue
alert, authority files, event log and history (no network I/O here; ``_policy_online`` does
that). One of the collaborators of ``PolicyEngine`` (``_policy_runtime``).

Persistence of measurements: usage samples live in memory between saves; ``tick()``, every
exchange, every import/save and ``close()`` persist them, and so does the first use of a
license (it starts the first-report clock). A crash loses at most the samples since the last
tick, as the vendor's periodic "Save unreported RUM Reports" job does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent import _rum
from smartlic.agent._context import AgentContext
from smartlic.agent._held import rederive_policy
from smartlic.agent._policy_files import Applied, apply_sections, verify_file
from smartlic.agent._policy_state import (
    CommRecord,
    HistoryItem,
    LogRecord,
    PolicyState,
    RumRecord,
)
from smartlic.agent._policy_view import (
    PolicyView,
    authorized_counts,
    derive_policy,
    needs_code,
)
from smartlic.agent._reservation import ReservationEngine
from smartlic.crypto import load_certificate
from smartlic.domain.enums import Enforcement
from smartlic.errors import Forbidden
from smartlic.formats.envelope import iso
from smartlic.formats.rum import key_id_of

__all__ = ["Mode", "PolicyCore"]

log = logging.getLogger("smartlic.agent")

Mode = Literal["classic", "policy"]
MAX_LOG = 1000
MAX_HISTORY = 50
WARN_AHEAD = timedelta(days=30)


class PolicyCore:
    """Policy mode's state keeping over an ``AgentContext``: the derived view, the gate,
    authority files, the event log and history. ``sample_interval`` (15 minutes) and
    ``purge_after`` (90 days) tune RUM sampling and purging; ``authority_ca`` (PEM) is the CA
    every authority file must chain to."""

    def __init__(
        self,
        ctx: AgentContext,
        reservation: ReservationEngine,
        *,
        authority_ca: str | None = None,
        sample_interval: timedelta = timedelta(minutes=15),
        purge_after: timedelta = timedelta(days=90),
    ) -> None:
        self.ctx, self.reservation = ctx, reservation
        self.sample_interval, self.purge_after = sample_interval, purge_after
        self._pview: PolicyView | None = None
        with ctx.lock:
            if authority_ca is not None:
                self.set_ca(authority_ca)
            rederive_policy(ctx.state.policy, ctx.udi, ctx.verifier, self.authority_ca())

    # ------------------------------------------------------------ derived view

    def refresh(self, now: datetime) -> None:
        ps = self.ctx.state.policy
        had_use = ps.first_use is not None
        changed = _rum.record_usage(ps, self.ctx.usage, now, self.sample_interval)
        if _rum.has_full(ps):
            self.roll_full(now)
        if not had_use and ps.first_use is not None:
            self.ctx.save()  # the first-report clock starts now; it must survive a crash
        elif changed:
            ps.changed_at = now
        view = derive_policy(ps, self.ctx.usage, self.ctx.identity.catalogue, now)
        view = self.reservation.policy_view(view, self.ctx.usage)
        self._pview = view
        self.ctx.publish(view.permitted(), view.statuses)
        self._check_overdue(view, now)

    def _check_overdue(self, view: PolicyView, now: datetime) -> None:
        ps = self.ctx.state.policy
        self._warn_ahead(view, now)
        if not view.overdue or ps.overdue_alerted_for == view.deadline:
            return
        ps.overdue_alerted_for = view.deadline
        text = (
            "%SMART_LIC-3-REPORTING_REQUIRED: A Usage report acknowledgement was required by "
            f"{iso(view.deadline)} and has not been received; report usage now"
        )
        log.warning(text)
        self.record("SAEVT_REPORTING_REQUIRED", text, now)
        self.ctx.emit("agent.policy.reporting_overdue", deadline=view.deadline)

    def _warn_ahead(self, view: PolicyView, now: datetime) -> None:
        # "system logs are generated on day X and X-30" (domain-notes 2.1, S21)
        ps, deadline = self.ctx.state.policy, view.deadline
        if deadline is None or ps.warned_for == deadline or not now >= deadline - WARN_AHEAD:
            return
        ps.warned_for = deadline
        if now < deadline:
            days = max((deadline - now).days, 1)
            text = (
                "%SMART_LIC-4-REPORTING_REQUIRED: A Usage report acknowledgement will be "
                f"required in {days} days"
            )
            log.warning(text)
            self.record("SAEVT_REPORTING_REQUIRED", text, now)

    def view(self) -> PolicyView:
        if self._pview is None:
            self.refresh(self.ctx.clock.now())
        assert self._pview is not None
        return self._pview

    # ------------------------------------------------------------ gate (request)

    def gate(self, tag: str, count: int) -> None:
        """Enforced and export-controlled licenses need an authorization code covering them."""
        spec = self.ctx.identity.catalogue.get(tag)
        if not needs_code(spec) or self.reservation.covers(tag, self.ctx.usage.get(tag, 0) + count):
            return  # an SLR code installed before the upgrade keeps authorizing (issue 11)
        assert spec is not None
        allowed = authorized_counts(self.ctx.state.policy).get(tag, 0)
        if self.ctx.usage.get(tag, 0) + count > allowed:
            kind = (
                "export-controlled"
                if spec.enforcement is Enforcement.EXPORT_CONTROLLED
                else "enforced"
            )
            raise Forbidden(
                f"{spec.name} is {kind}: it needs an installed authorization code covering "
                f"{self.ctx.usage.get(tag, 0) + count} (installed: {allowed}); use "
                "authorization_request() first",
                code="authorization-required",
            )

    # ------------------------------------------------------------ keys, CA, files

    def trust_key(self) -> Ed25519PrivateKey:
        return self.ctx.store.trust_key()

    def trust_key_id(self) -> str:
        return key_id_of(self.trust_key().public_key())

    def set_ca(self, pem: str) -> None:
        load_certificate(pem)  # refuse garbage early (InvalidInput)
        self.ctx.state.policy.authority_ca_pem = pem
        self.ctx.save()

    def authority_ca(self) -> x509.Certificate | None:
        return self.ctx.authority_ca()

    def install(self, data: bytes, source: str) -> Applied:
        """Verify an authority file whole, then apply it; raises (and logs) on refusal."""
        now = self.ctx.clock.now()
        with self.ctx.lock:
            try:
                sections = verify_file(self.ctx.verifier, data, self.authority_ca(), self.ctx.udi)
                applied = apply_sections(
                    self.ctx.state.policy, sections, self.trust_key_id(), now, self.ctx.verifier
                )
            except Exception as exc:
                reason = getattr(exc, "detail", str(exc))
                self.record("SAEVT_IMPORT_FAILED", f"%SMART_LIC-3-IMPORT_FAILED: {reason}", now)
                self.ctx.emit("agent.policy.import.failed", source=source, reason=reason)
                self.ctx.save()
                raise
            for kind, text in applied.imports:
                self.history(self.ctx.state.policy.history_imports, kind, f"{source}: {text}", now)
            for kind, text in applied.log:
                self.record(kind, text, now)
            self.refresh(now)
            self.ctx.save()
            self.ctx.emit(
                "agent.policy.import.succeeded", source=source, acknowledged=applied.acknowledged
            )
        return applied

    # ------------------------------------------------------------ records

    def record(self, kind: str, text: str, now: datetime) -> None:
        ps = self.ctx.state.policy
        ps.eventlog.append(LogRecord(now, kind, text))
        del ps.eventlog[:-MAX_LOG]

    @staticmethod
    def history(book: dict[str, list[HistoryItem]], kind: str, text: str, now: datetime) -> None:
        items = book.setdefault(kind, [])
        items.append(HistoryItem(now, text))
        del items[:-MAX_HISTORY]

    def comm(self, kind: str, now: datetime, response: str | None, error: str | None) -> None:
        rec = self.ctx.state.policy.comm.setdefault(kind, CommRecord())
        rec.attempts += 1
        rec.last_response, rec.last_response_at = response, now
        if error is None:
            rec.success, rec.last_success, rec.failure_reason = rec.success + 1, now, None
        else:
            rec.fail, rec.last_failure, rec.failure_reason = rec.fail + 1, now, error
        self.history(self.ctx.state.policy.history_online, kind, response or error or "", now)

    def close_open(self, tags: Iterable[str] | None, now: datetime) -> list[RumRecord]:
        sign = (self.ctx.udi, self.ctx.software_tag, self.ctx.hostname, self.trust_key())
        closed = _rum.close_reports(self.ctx.state.policy, tags, self.ctx.usage, sign, now)
        for r in closed:
            self.ctx.emit("agent.policy.report.closed", report_id=r.report_id, tag=r.tag)
        return closed

    def roll_full(self, now: datetime) -> None:
        """Apply the open-measurement limit (``_rum.roll_full``) and keep the result."""
        sign = (self.ctx.udi, self.ctx.software_tag, self.ctx.hostname, self.trust_key())
        for r in _rum.roll_full(self.ctx.state.policy, self.ctx.usage, sign, now):
            self.ctx.emit("agent.policy.report.closed", report_id=r.report_id, tag=r.tag)
        self.ctx.save()

    def ps(self) -> PolicyState:
        return self.ctx.state.policy
