"""Builds the typed ``Status`` snapshot from the state and the derived view (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from smartlic.agent._evaluate import View, evaluation_remaining
from smartlic.agent._state import AgentState
from smartlic.agent._status import (
    AuthorizationStatus,
    LicenseUsage,
    RegistrationStatus,
    Status,
    TransportStatus,
)
from smartlic.agent._timers import Timers
from smartlic.crypto import Udi
from smartlic.domain.enums import Enforcement, RegistrationState
from smartlic.domain.products import LicenseSpec

__all__ = ["Identity", "build_status", "license_name"]

AGENT_VERSION = "smartlic 0.1.0"


@dataclass(frozen=True)
class Identity:
    """Who the device is (fixed for the life of a manager)."""

    udi: Udi
    hostname: str
    catalogue: Mapping[str, LicenseSpec]


def build_status(
    identity: Identity,
    state: AgentState,
    view: View,
    usage: Mapping[str, int],
    transport: TransportStatus,
    now: datetime,
    timers: Timers,
) -> Status:
    return Status(
        now=now,
        enabled=state.enabled,
        udi=identity.udi,
        hostname=identity.hostname,
        transport=transport,
        registration=_registration(state),
        authorization=_authorization(state, view, timers),
        licenses=_licenses(identity.catalogue, view, usage, state),
        agent_version=AGENT_VERSION,
        state_integrity_error=state.integrity_error,
    )


def _registration(state: AgentState) -> RegistrationStatus:
    reg = state.registration
    registered = state.registration_state is RegistrationState.REGISTERED and reg is not None
    retrying = state.registration_state is RegistrationState.RETRY
    return RegistrationStatus(
        state=state.registration_state,
        smart_account=reg.smart_account if reg else None,
        virtual_account=reg.virtual_account if reg else None,
        export_controlled_allowed=bool(reg and reg.export_controlled_allowed),
        initial_registration=state.initial_registration,
        last_renewal_attempt=state.id_renewal.last if registered else None,
        next_renewal_attempt=state.id_renewal.next_at if registered else None,
        registration_expires=reg.certificate_expires if registered and reg else None,
        next_retry=state.register_job.next_at if retrying else None,
    )


def _authorization(state: AgentState, view: View, timers: Timers) -> AuthorizationStatus:
    registered = state.registration_state is RegistrationState.REGISTERED
    auth = state.authorization if registered else None
    return AuthorizationStatus(
        state=view.state,
        state_since=view.since,
        last_communication_attempt=state.communication.last if registered else None,
        next_communication_attempt=state.communication.next_at if registered else None,
        communication_deadline=auth.deadline if auth else None,
        evaluation_remaining=evaluation_remaining(state, timers),
        evaluation_in_use=view.evaluating,
        evaluation_expired_at=state.eval_expired_at,
        grace_expires=auth.deadline + timers.grace if auth else None,
    )


def _licenses(
    catalogue: Mapping[str, LicenseSpec], view: View, usage: Mapping[str, int], state: AgentState
) -> list[LicenseUsage]:
    export_ok = bool(state.registration and state.registration.export_controlled_allowed)
    return [
        _usage(tag, count, catalogue.get(tag), view.statuses.get(tag, ""), export_ok)
        for tag, count in usage.items()
    ]


def _usage(
    tag: str, count: int, spec: LicenseSpec | None, status: str, export_ok: bool
) -> LicenseUsage:
    export_controlled = spec is not None and spec.enforcement is Enforcement.EXPORT_CONTROLLED
    return LicenseUsage(
        name=spec.name if spec else license_name(tag),
        display_name=spec.display_name if spec else license_name(tag),
        tag=tag,
        description=spec.text if spec else "",
        count=count,
        version=spec.version if spec else "1.0",
        status=status,
        export_status=_export_status(export_controlled, export_ok),
        enforcement=_enforcement(spec),
    )


def _export_status(export_controlled: bool, export_ok: bool) -> str:
    if not export_controlled:
        return "NOT RESTRICTED"
    return "RESTRICTED - ALLOWED" if export_ok else "RESTRICTED - NOT ALLOWED"


def _enforcement(spec: LicenseSpec | None) -> str:
    if spec is None or spec.enforcement is Enforcement.UNENFORCED:
        return "NOT ENFORCED"
    return "EXPORT RESTRICTED" if spec.enforcement is Enforcement.EXPORT_CONTROLLED else "ENFORCED"


def license_name(tag: str) -> str:
    """A short name for a tag outside the catalogue: ``regid.2026-01.org.x.name,1.0_<uuid>``
    -> ``name``."""
    head = tag.split(",", 1)[0]
    return head.rsplit(".", 1)[-1] or tag
