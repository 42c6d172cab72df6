"""The smartlic agent SDK: the license manager a product embeds (classic Smart Licensing).

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
    OffTransport,
    SmartTransport,
    Transport,
    TransportConfig,
    make_transport,
)

__all__ = [
    "EVENT_NAMES",
    "AgentEvent",
    "Attempt",
    "AuthorizationStatus",
    "CallHomeTransport",
    "EventCallback",
    "Handle",
    "LicenseManager",
    "LicenseUsage",
    "OffTransport",
    "RegistrationStatus",
    "SmartTransport",
    "Status",
    "Timers",
    "Transport",
    "TransportConfig",
    "TransportStatus",
    "make_transport",
]
