from __future__ import annotations

from dataclasses import dataclass

import pytest

from smartlic.authority.services import Services
from smartlic.authority.services.scope import system
from smartlic.clock import ManualClock
from smartlic.domain.products import make_tag

TAG = make_tag("network-advantage")
OTHER = make_tag("dna-advantage")


@dataclass
class World:
    services: Services
    clock: ManualClock
    domain: str = "example.com"


@pytest.fixture
def world(services: Services, clock: ManualClock) -> World:
    services.accounts.create_smart_account(
        name="Example", domain="example.com", scope=system("test")
    )
    services.accounts.create_virtual_account("example.com", name="East", scope=system("test"))
    services.accounts.create_virtual_account("example.com", name="West", scope=system("test"))
    for tag, name in ((TAG, "network-advantage"), (OTHER, "dna-advantage")):
        services.licenses.define_license(
            tag=tag, name=name, display_name=name.upper(), scope=system("t")
        )
    return World(services, clock)
