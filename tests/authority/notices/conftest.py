from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.egress import EgressPolicy
from smartlic.authority.services.notifications import SmtpConfig
from smartlic.authority.services.scope import SYSTEM
from smartlic.clock import ManualClock
from smartlic.crypto import Udi, load_certificate
from smartlic.domain.enums import Role
from smartlic.domain.products import make_tag
from smartlic.formats.signed import open_sealed
from tests.authority.notices.receivers import Hooks, Inbox, http_receiver, smtp_server
from tests.devices import TestDevice

TAG = make_tag("network-advantage")
LOOPBACK = EgressPolicy.parse("127.0.0.1")
DOMAIN = "example.com"


@dataclass
class Lab:
    services: Services
    clock: ManualClock
    keys: AuthorityKeys
    inbox: Inbox
    hooks: Hooks
    hook_url: str
    smtp: SmtpConfig

    def device(self, n: int, token: str) -> TestDevice:
        dev = TestDevice(Udi("C1000V", f"SN{n:04d}"), self.clock, hostname=f"r{n}")
        env = self.services.device.register(dev.register_request(token))
        dev.accept_registration(open_sealed(env, load_certificate(env["certificate"]).public_key()))  # type: ignore[arg-type]
        return dev

    def overuse(self, va: str = "East", n: int = 2) -> None:
        """``n`` devices authorize one license each in ``va``."""
        token = self.services.tokens.create_token(DOMAIN, va, scope=SYSTEM).text
        for i in range(n):
            dev = self.device(len(va) * 100 + i, token)
            self.services.device.authorize(dev.authorize({TAG: 1}))

    def tick(self, **delta: float) -> list[str]:
        self.clock.advance(timedelta(**delta))
        return [f"{r.name}:{r.status}" for r in self.services.jobs.run_due()]


@pytest.fixture
def receivers() -> Iterator[tuple[Inbox, str, Hooks, str]]:
    with smtp_server() as (inbox, smtp_url), http_receiver() as (hooks, hook_url):
        yield inbox, smtp_url, hooks, hook_url


def make_services(
    engine: Engine, clock: ManualClock, keys: AuthorityKeys, smtp: SmtpConfig
) -> Services:
    # the receivers listen on loopback: allowed explicitly, as an operator would
    return build_services(engine, clock, keys, smtp=smtp, egress=LOOPBACK)


@pytest.fixture
def lab(
    engine: Engine,
    clock: ManualClock,
    keys: AuthorityKeys,
    receivers: tuple[Inbox, str, Hooks, str],
) -> Lab:
    inbox, smtp_url, hooks, hook_url = receivers
    smtp = SmtpConfig.parse(smtp_url, "smartlic@example.com")
    s = make_services(engine, clock, keys, smtp)
    s.accounts.create_smart_account(name="Example", domain=DOMAIN, scope=SYSTEM)
    s.accounts.create_virtual_account(DOMAIN, name="East", scope=SYSTEM)
    s.licenses.define_license(tag=TAG, name="network-advantage", display_name="NA", scope=SYSTEM)
    s.licenses.add_holding(DOMAIN, "East", tag=TAG, quantity=1, scope=SYSTEM)
    for name in ("alice", "bob", "carol"):
        s.users.create_user(
            username=name,
            password="correct horse",
            email=f"{name}@example.com",
            actor="t",
        )
    s.users.grant("alice", Role.SMART_ACCOUNT_ADMIN, smart_account=DOMAIN, actor="t")
    s.users.grant("bob", Role.SMART_ACCOUNT_USER, smart_account=DOMAIN, actor="t")
    s.users.grant("carol", Role.SMART_ACCOUNT_USER, smart_account=DOMAIN, actor="t")
    return Lab(s, clock, keys, inbox, hooks, hook_url, smtp)
