"""Policy mode inside the manager: mode selection, usage recording, the derived view, the
overdue alert, event log and history (no network I/O here; ``_policy_online`` does that).

Mode. ``mode="policy"`` or ``"classic"`` at construction is persisted; without it the manager
keeps the persisted mode, and a NEW device (no state yet) starts in policy mode, as devices
shipped with Smart Licensing Using Policy do. A state written before policy mode existed is
classic.

Persistence of measurements: usage samples live in memory between saves; ``tick()``, every
exchange, every import/save and ``close()`` persist them, and so does the first use of a
license (it starts the first-report clock). A crash loses at most the samples since the last
tick, as the vendor's periodic "Save unreported RUM Reports" job does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent import _rum
from smartlic.agent._exchanges import Exchanges
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
from smartlic.agent._timers import Timers
from smartlic.agent._transports import Transport
from smartlic.clock import Clock
from smartlic.crypto import Udi, load_certificate
from smartlic.domain.enums import Enforcement
from smartlic.domain.products import LicenseSpec
from smartlic.errors import Forbidden, InvalidInput
from smartlic.formats.envelope import iso
from smartlic.formats.rum import key_id_of

__all__ = ["Mode", "PolicyCore"]

log = logging.getLogger("smartlic.agent")

Mode = Literal["classic", "policy"]
MAX_LOG = 1000
MAX_HISTORY = 50
WARN_AHEAD = timedelta(days=30)


class PolicyCore(Exchanges):
    """Adds policy mode to the core. Keyword arguments beyond ``ManagerCore``'s: ``mode``,
    ``authority_ca`` (PEM), ``sample_interval`` (15 minutes), ``purge_after`` (90 days)."""

    def __init__(
        self,
        *,
        udi: Udi,
        hostname: str,
        state_dir: Path,
        transport: Transport | None = None,
        clock: Clock | None = None,
        software_tag: str | None = None,
        catalogue: Mapping[str, LicenseSpec] | None = None,
        timers: Timers | None = None,
        mode: Mode | None = None,
        authority_ca: str | None = None,
        sample_interval: timedelta = timedelta(minutes=15),
        purge_after: timedelta = timedelta(days=90),
    ) -> None:
        if mode not in (None, "classic", "policy"):
            raise InvalidInput("mode is 'classic' or 'policy'")
        new_device = not (Path(state_dir) / "state.json").exists()
        self.sample_interval, self.purge_after = sample_interval, purge_after
        self._pview: PolicyView | None = None
        super().__init__(
            udi=udi,
            hostname=hostname,
            state_dir=state_dir,
            transport=transport,
            clock=clock,
            software_tag=software_tag,
            catalogue=catalogue,
            timers=timers,
        )
        chosen = mode or ("policy" if new_device else self._state.mode)
        with self._lock:
            if self._state.mode != chosen or new_device:
                self._state.mode = chosen
                self._save()
            if authority_ca is not None:
                self._set_ca(authority_ca)
            rederive_policy(self._state.policy, self.udi, self._verifier, self._authority_ca())
            if chosen == "policy":
                self._refresh(self.clock.now())
                self._save()

    @property
    def mode(self) -> str:
        return self._state.mode

    @property
    def _policy_mode(self) -> bool:
        return self._state.mode == "policy"

    # ------------------------------------------------------------ derived view

    def _refresh(self, now: datetime) -> None:
        if not self._policy_mode:
            super()._refresh(now)
            return
        ps = self._state.policy
        had_use = ps.first_use is not None
        changed = _rum.record_usage(ps, self._usage, now, self.sample_interval)
        if _rum.has_full(ps):
            self._roll_full(now)
        if not had_use and ps.first_use is not None:
            self._save()  # the first-report clock starts now; it must survive a crash
        elif changed:
            ps.changed_at = now
        view = derive_policy(ps, self._usage, self._identity.catalogue, now)
        view = self.reservation.policy_view(view, self._usage)
        self._pview = view
        self._permitted.replace_with(view.permitted())
        self._statuses.replace_with(view.statuses)
        self._check_overdue(view, now)

    def _check_overdue(self, view: PolicyView, now: datetime) -> None:
        ps = self._state.policy
        self._warn_ahead(view, now)
        if not view.overdue or ps.overdue_alerted_for == view.deadline:
            return
        ps.overdue_alerted_for = view.deadline
        text = (
            "%SMART_LIC-3-REPORTING_REQUIRED: A Usage report acknowledgement was required by "
            f"{iso(view.deadline)} and has not been received; report usage now"
        )
        log.warning(text)
        self._log("SAEVT_REPORTING_REQUIRED", text, now)
        self._emit("agent.policy.reporting_overdue", deadline=view.deadline)

    def _warn_ahead(self, view: PolicyView, now: datetime) -> None:
        # "system logs are generated on day X and X-30" (domain-notes 2.1, S21)
        ps, deadline = self._state.policy, view.deadline
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
            self._log("SAEVT_REPORTING_REQUIRED", text, now)

    def _policy_view(self) -> PolicyView:
        if self._pview is None:
            self._refresh(self.clock.now())
        assert self._pview is not None
        return self._pview

    # ------------------------------------------------------------ gate (request)

    def _policy_gate(self, tag: str, count: int) -> None:
        """Enforced and export-controlled licenses need an authorization code covering them."""
        spec = self._identity.catalogue.get(tag)
        if not needs_code(spec) or self.reservation.covers(tag, self._usage.get(tag, 0) + count):
            return  # an SLR code installed before the upgrade keeps authorizing (issue 11)
        assert spec is not None
        allowed = authorized_counts(self._state.policy).get(tag, 0)
        if self._usage.get(tag, 0) + count > allowed:
            kind = (
                "export-controlled"
                if spec.enforcement is Enforcement.EXPORT_CONTROLLED
                else "enforced"
            )
            raise Forbidden(
                f"{spec.name} is {kind}: it needs an installed authorization code covering "
                f"{self._usage.get(tag, 0) + count} (installed: {allowed}); use "
                "authorization_request() first",
                code="authorization-required",
            )

    # ------------------------------------------------------------ keys, CA, files

    def _trust_key(self) -> Ed25519PrivateKey:
        return self._store.trust_key()

    def _trust_key_id(self) -> str:
        return key_id_of(self._trust_key().public_key())

    def _set_ca(self, pem: str) -> None:
        load_certificate(pem)  # refuse garbage early (InvalidInput)
        self._state.policy.authority_ca_pem = pem
        self._save()

    def _install(self, data: bytes, source: str) -> Applied:
        """Verify an authority file whole, then apply it; raises (and logs) on refusal."""
        now = self.clock.now()
        with self._lock:
            try:
                sections = verify_file(self._verifier, data, self._authority_ca(), self.udi)
                applied = apply_sections(
                    self._state.policy, sections, self._trust_key_id(), now, self._verifier
                )
            except Exception as exc:
                reason = getattr(exc, "detail", str(exc))
                self._log("SAEVT_IMPORT_FAILED", f"%SMART_LIC-3-IMPORT_FAILED: {reason}", now)
                self._emit("agent.policy.import.failed", source=source, reason=reason)
                self._save()
                raise
            for kind, text in applied.imports:
                self._history(self._state.policy.history_imports, kind, f"{source}: {text}", now)
            for kind, text in applied.log:
                self._log(kind, text, now)
            self._refresh(now)
            self._save()
            self._emit(
                "agent.policy.import.succeeded", source=source, acknowledged=applied.acknowledged
            )
        return applied

    # ------------------------------------------------------------ records

    def _log(self, kind: str, text: str, now: datetime) -> None:
        ps = self._state.policy
        ps.eventlog.append(LogRecord(now, kind, text))
        del ps.eventlog[:-MAX_LOG]

    @staticmethod
    def _history(book: dict[str, list[HistoryItem]], kind: str, text: str, now: datetime) -> None:
        items = book.setdefault(kind, [])
        items.append(HistoryItem(now, text))
        del items[:-MAX_HISTORY]

    def _comm(self, kind: str, now: datetime, response: str | None, error: str | None) -> None:
        rec = self._state.policy.comm.setdefault(kind, CommRecord())
        rec.attempts += 1
        rec.last_response, rec.last_response_at = response, now
        if error is None:
            rec.success, rec.last_success, rec.failure_reason = rec.success + 1, now, None
        else:
            rec.fail, rec.last_failure, rec.failure_reason = rec.fail + 1, now, error
        self._history(self._state.policy.history_online, kind, response or error or "", now)

    def _close_open(self, tags: Iterable[str] | None, now: datetime) -> list[RumRecord]:
        sign = (self.udi, self.software_tag, self.hostname, self._trust_key())
        closed = _rum.close_reports(self._state.policy, tags, self._usage, sign, now)
        for r in closed:
            self._emit("agent.policy.report.closed", report_id=r.report_id, tag=r.tag)
        return closed

    def _roll_full(self, now: datetime) -> None:
        """Apply the open-measurement limit (``_rum.roll_full``) and keep the result."""
        sign = (self.udi, self.software_tag, self.hostname, self._trust_key())
        for r in _rum.roll_full(self._state.policy, self._usage, sign, now):
            self._emit("agent.policy.report.closed", report_id=r.report_id, tag=r.tag)
        self._save()

    def _ps(self) -> PolicyState:
        return self._state.policy
