"""The agent is composed, not stacked: no class of ``smartlic.agent`` inherits from another
of our classes except exceptions and typing/dataclass helpers (issue 11), and the engines
work over one shared context with state carried over between modes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import smartlic.agent
from smartlic.agent import LicenseManager, OffTransport
from smartlic.agent._context import AgentContext
from smartlic.agent._policy_runtime import PolicyEngine
from smartlic.agent._smart import SmartEngine
from smartlic.clock import ManualClock
from smartlic.crypto import Udi
from smartlic.domain.products import DEFAULT_PROFILE

ATM = DEFAULT_PROFILE.license("atm").tag


def _agent_classes() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(smartlic.agent.__path__, "smartlic.agent."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


# Transports are interchangeable implementations of the ``Transport`` protocol sharing one
# HTTP client base (one level): a strategy family, not a manager or engine.
TRANSPORT_BASES = {
    "smartlic.agent._transports.HttpTransport",
    "smartlic.agent._transports.OffTransport",
}


def _ours(base: type) -> bool:
    name = f"{base.__module__}.{base.__qualname__}"
    return (
        base.__module__.startswith("smartlic.")
        and not issubclass(base, BaseException)
        and name not in TRANSPORT_BASES
    )


def test_no_agent_class_inherits_from_another_of_ours() -> None:
    stacked = {
        f"{cls.__module__}.{cls.__qualname__}": [b.__qualname__ for b in cls.__bases__ if _ours(b)]
        for cls in _agent_classes()
        if not issubclass(cls, BaseException)
    }
    assert {name: bases for name, bases in stacked.items() if bases} == {}
    assert len(stacked) > 20  # the walk really saw the package


def test_the_engines_share_one_context(tmp_path: Path) -> None:
    manager = LicenseManager(
        udi=Udi("ASR-903", "FOXCOMP1"),
        hostname="r1",
        state_dir=tmp_path,
        transport=OffTransport(),
        clock=ManualClock(),
        mode="classic",
    )
    engines = [manager._smart, manager._policy]
    assert [type(e) for e in engines] == [SmartEngine, PolicyEngine]
    assert all(isinstance(e.ctx, AgentContext) and e.ctx is manager._ctx for e in engines)
    manager.close()


def test_a_mode_switch_carries_the_usage_over(tmp_path: Path) -> None:
    events: list[str] = []
    manager = LicenseManager(
        udi=Udi("ASR-903", "FOXCOMP2"),
        hostname="r1",
        state_dir=tmp_path,
        transport=OffTransport(),
        clock=ManualClock(),
        mode="classic",
    )
    manager.on_event(lambda e: events.append(e.name))
    handle = manager.request(ATM)
    assert manager.check(ATM) == "EVAL MODE"
    manager.set_mode("policy")
    assert manager.mode == "policy" and manager.status().mode == "policy"
    assert manager.is_authorized(ATM) and manager.usage() == {ATM: 1}
    assert "agent.mode.changed" in events
    manager.set_mode("classic")
    assert manager.check(ATM) == "EVAL MODE"
    manager.release(handle)
    manager.close()
    reopened = LicenseManager(
        udi=Udi("ASR-903", "FOXCOMP2"), hostname="r1", state_dir=tmp_path, transport=OffTransport()
    )
    assert reopened.mode == "classic"
    reopened.close()
