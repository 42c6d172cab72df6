"""Events the agent emits, with dotted names (style habit 14), and a small subscriber list.

Every state change of the license manager emits one ``AgentEvent``; subscribers registered
with ``LicenseManager.on_event`` receive them synchronously, in order, after the manager has
released its lock (so a callback may call ``status()`` without deadlocking). A callback that
raises is logged and does not stop the others.

Usage::

    unsubscribe = manager.on_event(lambda event: print(event.name, event.properties()))
    ...
    unsubscribe()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["EVENT_NAMES", "AgentEvent", "EventCallback"]

log = logging.getLogger("smartlic.agent")

# The catalogue of names; tests assert every emitted event is listed here.
EVENT_NAMES = frozenset(
    {
        "agent.enabled",
        "agent.disabled",
        "agent.config.changed",
        "agent.license.requested",
        "agent.license.released",
        "agent.evaluation.started",
        "agent.evaluation.expired",
        "agent.registration.succeeded",
        "agent.registration.failed",
        "agent.registration.retry_scheduled",
        "agent.registration.expired",
        "agent.id_renewal.succeeded",
        "agent.id_renewal.failed",
        "agent.authorization.succeeded",
        "agent.authorization.failed",
        "agent.authorization.expired",
        "agent.authorization.grace_expired",
        "agent.compliance.out_of_compliance",
        "agent.deregistration.succeeded",
        "agent.deregistration.failed",
        "agent.state.integrity_failed",
        "agent.mode.changed",
        "agent.traditional.installed",
        "agent.traditional.cleared",
        "agent.traditional.eula_accepted",
        "agent.conversion.success",
        "agent.conversion.failed",
        "agent.policy.report.closed",
        "agent.policy.report.failed",
        "agent.policy.reporting_overdue",
        "agent.policy.import.succeeded",
        "agent.policy.import.failed",
        "agent.policy.authorization.returned",
    }
)


@dataclass(frozen=True)
class AgentEvent:
    """One thing that happened: ``name`` (dotted), ``created`` (agent clock), ``data``."""

    name: str
    created: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    actor: str = "agent"

    def properties(self) -> dict[str, Any]:
        return dict(self.data)


EventCallback = Callable[[AgentEvent], None]


class Subscribers:
    """A thread-safe list of callbacks."""

    def __init__(self) -> None:
        self._callbacks: list[EventCallback] = []
        self._lock = threading.Lock()

    def add(self, callback: EventCallback) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def dispatch(self, events: Iterable[AgentEvent]) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for event in events:
            for callback in callbacks:
                _call(callback, event)


def _call(callback: EventCallback, event: AgentEvent) -> None:
    try:
        callback(event)
    except Exception:  # a subscriber's bug must not break licensing
        log.exception("event subscriber failed on %s", event.name)
