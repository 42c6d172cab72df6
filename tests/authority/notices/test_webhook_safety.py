"""Webhooks as attacks: URLs aimed at the authority's own network are refused when created
(422 ``destination-refused``, nothing stored) and again at delivery (DNS that changed since,
redirects); secrets are sealed at rest and still sign."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from smartlic.authority.app import create_app
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.egress import EgressPolicy, refusal_reason
from smartlic.authority.services.scope import SYSTEM
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import ManualClock
from smartlic.crypto import open_sealed
from smartlic.domain.enums import Role
from smartlic.errors import InvalidInput
from smartlic.storage import upgrade
from tests.authority.api.conftest import serve_in_thread
from tests.authority.notices.conftest import DOMAIN, Lab
from tests.authority.notices.test_compliance_flow import _verify

INTERNAL = [
    "http://127.0.0.1:8000/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/x",
    "http://10.1.2.3/x",
    "http://192.168.0.10/x",
    "http://172.16.5.4/x",
    "http://100.64.0.1/x",  # shared address space (carrier-grade NAT)
    "http://0.0.0.0/x",
    "http://224.0.0.1/x",
    "http://240.0.0.1/x",
    "http://[fe80::1]/x",
    "http://[fc00::1]/x",
    "http://[ff02::1]/x",
    "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped loopback
    "http://[2002:7f00:1::]/x",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/x",  # NAT64 around 169.254.169.254
    "http://localhost:8000/x",
    "http://LOCALHOST./x",
    "http://2130706433/x",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/x",
]


@pytest.fixture
def strict(engine: Engine, clock: ManualClock, keys: AuthorityKeys) -> Any:
    """Services with the default policy: no internal destination allowed."""
    s = build_services(engine, clock, keys)
    s.accounts.create_smart_account(name="Example", domain=DOMAIN, scope=SYSTEM)
    return s


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_urls_refused_at_creation(strict: Any, url: str) -> None:
    with pytest.raises(InvalidInput) as e:
        strict.webhooks.create_endpoint(DOMAIN, url, ["*"], scope=SYSTEM)
    assert e.value.code == "destination-refused"
    assert "SMARTLIC_AUTHORITY_WEBHOOK_ALLOW" in e.value.detail
    assert strict.webhooks.list_endpoints(DOMAIN, scope=SYSTEM) == []


def test_public_addresses_pass_and_reasons_are_named() -> None:
    from ipaddress import ip_address

    assert refusal_reason(ip_address("93.184.216.34")) is None
    assert refusal_reason(ip_address("2606:4700::1111")) is None
    assert refusal_reason(ip_address("169.254.169.254")) == "a link-local address"
    assert refusal_reason(ip_address("::1")) == "a loopback address"
    assert refusal_reason(ip_address("10.0.0.1")) == "a private address"


def test_allowance_names_hosts_and_networks() -> None:
    def fake(addresses: dict[str, list[str]]) -> Any:
        return lambda host, port: addresses[host]

    names = {"hooks.intranet": ["10.9.9.9"], "mixed.example": ["93.184.216.34", "10.0.0.1"]}
    policy = EgressPolicy.parse("hooks.intranet, 192.168.0.0/16 [::1]")
    policy = EgressPolicy(policy.allowed_hosts, policy.allowed_networks, fake(names))
    assert policy.check("https://hooks.intranet/x").address == "10.9.9.9"
    with pytest.raises(InvalidInput, match=r"10\.0\.0\.1 is a private address"):
        policy.check("https://mixed.example/x")  # one internal address is enough
    strict = EgressPolicy(resolver=fake(names))
    with pytest.raises(InvalidInput, match=r"10\.9\.9\.9 is a private address"):
        strict.check("https://hooks.intranet/x")


def test_api_refuses_with_a_problem_and_stores_nothing(
    engine: Engine, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path
) -> None:
    services = build_services(engine, clock, keys)
    services.accounts.create_smart_account(name="Example", domain=DOMAIN, scope=SYSTEM)
    key = services.api_keys.create_api_key(
        name="admin", role=Role.ADMIN, smart_account=None, actor="t"
    ).text
    app = create_app(AuthoritySettings(data_dir=tmp_path / "a"), clock=clock, services=services)
    server, thread, url = serve_in_thread(app)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            hooks = f"/api/v1/accounts/{DOMAIN}/webhooks"
            for target in ("http://127.0.0.1:9/x", "http://169.254.169.254/", "http://[::1]/"):
                r = http.post(hooks, json={"url": target, "events": ["*"]})
                assert r.status_code == 422, r.text
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["code"] == "destination-refused"
            assert http.get(hooks).json() == []
            events = http.get(f"/api/v1/accounts/{DOMAIN}/events").json()["items"]
            assert not [e for e in events if e["name"] == "webhook.created"]
    finally:
        server.should_exit = True
        thread.join()


def test_delivery_checks_again(lab: Lab) -> None:
    """An endpoint allowed when created but internal at delivery time (the operator withdrew
    the allowance, or its DNS now answers 127.0.0.1) is not posted to; the log says why."""
    s = lab.services
    s.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["compliance.*"], scope=SYSTEM)
    s.webhooks.egress = EgressPolicy()  # as after a restart without the allowance
    lab.overuse(n=2)
    lab.tick(minutes=1)
    assert lab.hooks.received == []
    (delivery,) = s.webhooks.list_deliveries(DOMAIN, scope=SYSTEM)
    assert delivery.state == "pending" and delivery.last_status_code is None
    assert delivery.log[0].error and "127.0.0.1 is a loopback address" in delivery.log[0].error


def test_delivery_goes_to_the_checked_address(lab: Lab) -> None:
    """The name is resolved once per attempt and the POST goes to that address, with the
    URL's Host header: a second lookup (DNS rebinding) cannot redirect it."""
    answers = iter([["127.0.0.1"]] + [["10.0.0.1"]] * 10)
    port = lab.hook_url.split(":")[2].split("/")[0]
    lab.services.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["compliance.*"], scope=SYSTEM)
    with lab.services.webhooks.transaction() as s:
        s.execute(
            text("UPDATE webhook_endpoints SET url = :u"), {"u": f"http://hooks.test:{port}/hook"}
        )
    allow = EgressPolicy.parse("127.0.0.1")
    lab.services.webhooks.egress = EgressPolicy(
        allow.allowed_hosts, allow.allowed_networks, lambda host, p: next(answers)
    )
    lab.overuse(n=2)
    lab.tick(minutes=1)
    (headers, _), *_ = lab.hooks.received
    assert headers["Host"] == f"hooks.test:{port}"
    lab.services.webhooks.replay(
        DOMAIN, lab.services.webhooks.list_deliveries(DOMAIN, scope=SYSTEM)[0].id, scope=SYSTEM
    )
    lab.tick(minutes=1)  # now the name answers 10.0.0.1: refused, not posted
    assert len(lab.hooks.received) == 1


@pytest.fixture
def redirector() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_redirects_are_not_followed(lab: Lab, redirector: str) -> None:
    lab.services.webhooks.create_endpoint(DOMAIN, redirector, ["compliance.*"], scope=SYSTEM)
    lab.overuse(n=2)
    lab.tick(minutes=1)
    (delivery,) = lab.services.webhooks.list_deliveries(DOMAIN, scope=SYSTEM)
    assert delivery.state == "pending"
    assert delivery.log[0].status_code == 307
    assert delivery.log[0].error == "HTTP 307 (redirects are not followed)"


def test_secret_is_sealed_at_rest_and_still_signs(lab: Lab) -> None:
    s = lab.services
    hook = s.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["compliance.*"], scope=SYSTEM)
    assert hook.secret and hook.secret.startswith("whsec_")
    with s.webhooks.transaction() as tx:
        row = tx.execute(text("SELECT * FROM webhook_endpoints")).mappings().one()
    stored = b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in row.values() if v is not None
    )
    assert hook.secret.encode() not in stored and hook.secret[6:].encode() not in stored
    assert open_sealed(lab.keys.sealing_key, bytes(row["secret_sealed"]), hook.id) == hook.secret
    assert open_sealed(lab.keys.sealing_key, bytes(row["secret_sealed"]), "another-id") is None
    lab.overuse(n=2)
    lab.tick(minutes=1)
    headers, body = lab.hooks.received[0]
    assert _verify(hook.secret, headers, body)


def test_migration_seals_existing_secrets(db_url: str, keys: AuthorityKeys) -> None:
    """Rows written by the previous schema (readable secrets) are sealed by 0009; without the
    key the upgrade refuses before changing anything."""
    from alembic import command
    from sqlalchemy import create_engine

    from smartlic.storage.migrate import alembic_config

    command.downgrade(alembic_config(db_url), "0007")
    engine = create_engine(db_url)
    try:
        with engine.begin() as c:
            c.execute(text(_OLD_ACCOUNT))
            c.execute(text(_OLD_ENDPOINT))
        with pytest.raises(RuntimeError, match="secret\\(s\\) to seal"):
            upgrade(db_url, "0009")
        with engine.connect() as c:
            assert c.execute(text("SELECT secret FROM webhook_endpoints")).scalar() == "whsec_x"
        upgrade(db_url, "0009", sealing_key=keys.sealing_key)
        with engine.connect() as c:
            sealed = bytes(c.execute(text("SELECT secret_sealed FROM webhook_endpoints")).scalar())
        assert b"whsec_x" not in sealed
        assert open_sealed(keys.sealing_key, sealed, "ep1") == "whsec_x"
    finally:
        engine.dispose()
        upgrade(db_url, sealing_key=keys.sealing_key)


_OLD_ACCOUNT = (
    "INSERT INTO smart_accounts (id, name, domain, created_at) "
    "VALUES ('sa1', 'Old', 'old.example', '2026-01-01 00:00:00+00:00')"
)
_OLD_ENDPOINT = (
    "INSERT INTO webhook_endpoints (id, smart_account_id, url, secret, events, active, "
    "created_at) VALUES ('ep1', 'sa1', 'https://h.example/x', 'whsec_x', '[\"*\"]', true, "
    "'2026-01-01 00:00:00+00:00')"
)
