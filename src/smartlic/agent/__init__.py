"""The smartlic agent SDK: the license manager a product embeds (Smart Licensing Using Policy
by default for a new device, classic Smart Licensing with ``mode="classic"``).

Usage::

    from smartlic.agent import LicenseManager, SmartTransport

    manager = LicenseManager(udi=udi, hostname="router1", state_dir=path,
                             transport=SmartTransport(url), clock=clock)
    handle = manager.request(tag)
    manager.register(token_text)
    manager.status()

The public names are exactly ``__all__`` (tests/unit/agent/test_exported_members.py).
"""

from smartlic.agent._events import EVENT_NAMES, AgentEvent, EventCallback
from smartlic.agent._manager import Handle, LicenseManager
from smartlic.agent._policy_status import (
    AccountInfo,
    AuthorizationCodeStatus,
    CommStats,
    EventLogEntry,
    MessageHistory,
    PolicyLicenseUsage,
    PolicyModeStatus,
    ReportSummary,
    RumReportStatus,
    TrustCodeStatus,
    UsageReporting,
)
from smartlic.agent._status import (
    Attempt,
    AuthorizationStatus,
    LicenseUsage,
    RegistrationStatus,
    Status,
    TransportStatus,
)
from smartlic.agent._timers import Timers
from smartlic.agent._transports import (
    CallHomeTransport,
    CsluTransport,
    OffTransport,
    PolicyTransport,
    SmartTransport,
    Transport,
    TransportConfig,
    make_transport,
)

__all__ = [
    "EVENT_NAMES",
    "AccountInfo",
    "AgentEvent",
    "Attempt",
    "AuthorizationCodeStatus",
    "AuthorizationStatus",
    "CallHomeTransport",
    "CommStats",
    "CsluTransport",
    "EventCallback",
    "EventLogEntry",
    "Handle",
    "LicenseManager",
    "LicenseUsage",
    "MessageHistory",
    "OffTransport",
    "PolicyLicenseUsage",
    "PolicyModeStatus",
    "PolicyTransport",
    "RegistrationStatus",
    "ReportSummary",
    "RumReportStatus",
    "SmartTransport",
    "Status",
    "Timers",
    "Transport",
    "TransportConfig",
    "TransportStatus",
    "TrustCodeStatus",
    "UsageReporting",
    "make_transport",
]
