"""Fixtures for the agent's unit tests: a manager on a temporary state directory, moved by a
``ManualClock`` (``clock`` comes from tests/conftest.py). No authority here: these tests use
``OffTransport`` or a real loopback port nobody listens on; tests/e2e/test_agent_authority.py
drives the real authority."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smartlic.agent import AgentEvent, LicenseManager, OffTransport
from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import ManualClock
from smartlic.crypto import Udi
from smartlic.domain.products import DEFAULT_PROFILE
from tests.unit.agent.policy_helpers import CATALOGUE, Make
from tests.unit.agent.policy_helpers import UDI as POLICY_UDI

UDI = Udi("ASR-903", "FOX1234ABCD")
ATM = DEFAULT_PROFILE.license("atm").tag
GNSS = DEFAULT_PROFILE.license("gnss").tag
IPSEC = DEFAULT_PROFILE.license("ipsec").tag

MakeManager = Callable[..., LicenseManager]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "agent"


@pytest.fixture
def make_manager(state_dir: Path, clock: ManualClock) -> Iterator[MakeManager]:
    """Build managers on the shared state_dir (a second call = the device after a restart)."""
    made: list[LicenseManager] = []

    def make(**overrides: Any) -> LicenseManager:
        kwargs: dict[str, Any] = {
            "udi": UDI,
            "hostname": "router1",
            "state_dir": state_dir,
            "transport": OffTransport(),
            "clock": clock,
            "mode": "classic",  # these tests are classic Smart Licensing; policy: test_policy_*
        }
        kwargs.update(overrides)
        manager = LicenseManager(**kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.stop()


@pytest.fixture
def manager(make_manager: MakeManager) -> LicenseManager:
    return make_manager()


@pytest.fixture
def events(manager: LicenseManager) -> list[AgentEvent]:
    received: list[AgentEvent] = []
    manager.on_event(received.append)
    return received


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused, no other network)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def names(events: list[AgentEvent]) -> list[str]:
    return [e.name for e in events]


# ------------------------------------------------------------------ policy mode


@pytest.fixture
def authority(tmp_path: Path, clock: ManualClock) -> AuthorityKeys:
    return AuthorityKeys.create(tmp_path / "authority", clock.now())


@pytest.fixture
def make_policy(tmp_path: Path, clock: ManualClock, authority: AuthorityKeys) -> Iterator[Make]:
    made: list[LicenseManager] = []

    def make(**overrides: Any) -> LicenseManager:
        kwargs: dict[str, Any] = {
            "udi": POLICY_UDI,
            "hostname": "gateway",
            "state_dir": tmp_path / "device",
            "transport": OffTransport(),
            "clock": clock,
            "catalogue": CATALOGUE,
            "authority_ca": authority.ca_pem,
        }
        kwargs.update(overrides)
        manager = LicenseManager(**kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()
