"""Tenant isolation as a matrix: every management route x every kind of caller x three targets
(the caller's own virtual account, another virtual account of the same smart account, another
smart account), over real HTTP on SQLite and PostgreSQL.

The routes come from the app's OpenAPI document: a new ``/api/v1`` or CSSM management route
(``/services/api/smart-accounts-and-licensing/v1|v2/...``) fails
``test_every_management_route_is_in_the_matrix`` until it gets a case here. A CSSM route must
refuse exactly as its ``/api/v1`` twin, in the vendor's error shape. The expected answer
of each cell is computed from the roles table of ``services/scope.py`` (written out again in
``Caller`` below, on purpose: the test must not ask the code under test what is allowed).

Checked in every cell: allowed -> the route's success status; denied -> 401/403/404
problem+json with a stable code; no answer carries data of a virtual account or smart account
the caller may not read (serial numbers, ids, policy names, the other domain) unless the request
itself named it; denied requests change nothing stored. The world is built once per backend.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.authority.app import create_app
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.egress import EgressPolicy
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import ManualClock
from smartlic.crypto import Udi, generate_key
from smartlic.domain.enums import Role
from smartlic.domain.policy import CISCO_DEFAULT
from smartlic.domain.products import make_tag
from smartlic.formats.reservation import RequestCode
from smartlic.formats.rum import usage_file
from smartlic.storage import make_engine, upgrade
from tests.authority.api.conftest import serve_in_thread
from tests.authority.api.helpers import TAG, snapshot
from tests.conftest import START, _admin
from tests.devices import PolicyDevice

ACME, RIVAL = "acme.example", "rival.example"
OWN, SIBLING, FOREIGN = (ACME, "Prod"), (ACME, "Spare"), (RIVAL, "DEFAULT")
TARGETS = {"own-va": OWN, "other-va": SIBLING, "other-account": FOREIGN}
TRANSFER_TO = {OWN: "Spare", SIBLING: "Prod", FOREIGN: "Other"}
V1 = "/api/v1"
CSSM = "/services/api/smart-accounts-and-licensing"
REPORTUSAGE = CSSM + "/v2/devices/reportusage"

# Routes that are not the management API: probes and metrics (no tenant data), and the device
# protocols, which answer devices and collectors
# (signed requests; their tenant rules are tested in test_policy_mode_api / test_refusals).
NOT_MANAGEMENT = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/device/v1/",
    "/services/api/smart-accounts-and-licensing/v2/devices/",
    "/services/api/smart-accounts-and-licensing/v2/accounts/poll",
    # the OAuth2 token endpoints take client credentials, not a principal (test_cssm_oauth)
    "/as/token.oauth2",
    "/oauth2/default/v1/token",
)


# ---------------------------------------------------------------- callers


@dataclass(frozen=True)
class Caller:
    """A kind of caller and, independently of the code under test, what it may do."""

    name: str
    role: Role | None  # None: no API key
    account: str | None = None
    va: str | None = None

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN

    def in_account(self, domain: str) -> bool:
        return self.admin or (self.role is not None and self.account == domain)

    def reads(self, domain: str, va: str) -> bool:
        return self.in_account(domain) and (self.va is None or self.va == va)

    def writes(self, domain: str, va: str) -> bool:
        writer = self.role in (Role.ADMIN, Role.SMART_ACCOUNT_ADMIN, Role.VIRTUAL_ACCOUNT_ADMIN)
        return writer and self.reads(domain, va)

    def manages(self, domain: str) -> bool:
        return self.admin or (self.role is Role.SMART_ACCOUNT_ADMIN and self.account == domain)


CALLERS = (
    Caller("admin", Role.ADMIN),
    Caller("sa-admin", Role.SMART_ACCOUNT_ADMIN, ACME),
    Caller("sa-user", Role.SMART_ACCOUNT_USER, ACME),
    # a collector's key is a virtual-account key: there is no separate collector role
    Caller("va-admin", Role.VIRTUAL_ACCOUNT_ADMIN, ACME, "Prod"),
    Caller("va-user", Role.VIRTUAL_ACCOUNT_USER, ACME, "Prod"),
    Caller("no-key", None),
)


# ---------------------------------------------------------------- the world


@dataclass
class Seeded:
    """What one target holds, by id; these are the markers no outsider may see."""

    serial: str
    instance: str
    file: str
    token: str
    policy: str
    token_text: str = ""

    def markers(self) -> set[str]:
        return {self.serial, self.instance, self.file, self.token, self.policy, self.token_text}


@dataclass
class Matrix:
    url: str
    services: Services
    clock: ManualClock
    admin: httpx.Client
    clients: dict[str, httpx.Client]
    seeded: dict[tuple[str, str], Seeded]
    serials: Iterator[int] = field(default_factory=itertools.count)

    def device(self) -> PolicyDevice:
        return PolicyDevice(Udi("IXM-LPWA-900-16-K9", f"MX{next(self.serials):05d}"), self.clock)

    def placed_device(self, target: tuple[str, str]) -> tuple[PolicyDevice, str]:
        """A fresh device with an instance in ``target`` (through a usage file, which keys it
        there): the device and the file's id."""
        dev = self.device()
        domain, va = target
        files = {"file": ("u.xml", usage_file([dev.report(TAG, 1)]))}
        path = f"{V1}/accounts/{domain}/virtual-accounts/{va}/usage-files"
        created = _ok(self.admin.post(path, files=files), 201)
        return dev, created["id"]

    def new_instance(self, target: tuple[str, str]) -> tuple[str, str]:
        """A fresh instance in ``target`` (through a usage file): (instance id, serial)."""
        dev, file_id = self.placed_device(target)
        found = _ok(
            self.admin.get(f"{V1}/accounts/{target[0]}/devices", params={"search": dev.udi.sn})
        )
        return found["items"][0]["id"], dev.udi.sn + "|" + file_id

    def new_client(self, domain: str) -> str:
        """A fresh OAuth2 client of ``domain``: its client id."""
        created = self.services.api_clients.create_client(domain, actor="matrix")
        return created.client_id

    def hidden_from(self, caller: Caller) -> set[str]:
        hidden = {m for t, s in self.seeded.items() if not caller.reads(*t) for m in s.markers()}
        if not caller.in_account(RIVAL):
            hidden.add(RIVAL)
        return hidden


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _policy(name: str) -> dict[str, Any]:
    return CISCO_DEFAULT.to_json() | {"name": name, "ack_required": False}


def _seed(m: Matrix) -> None:
    api = m.admin
    for domain in (ACME, RIVAL):
        _ok(api.post(f"{V1}/accounts", json={"name": domain, "domain": domain}), 201)
    for domain, va in ((ACME, "Prod"), (ACME, "Spare"), (RIVAL, "Other")):
        _ok(api.post(f"{V1}/accounts/{domain}/virtual-accounts", json={"name": va}), 201)
    body = {"tag": TAG, "name": "metroipaccess", "display_name": "Device"}
    _ok(api.post(f"{V1}/licenses", json=body), 201)
    for domain, va in (OWN, SIBLING, FOREIGN, (RIVAL, "Other")):
        path = f"{V1}/accounts/{domain}/virtual-accounts/{va}"
        _ok(api.post(path + "/licenses", json={"tag": TAG, "quantity": 1000}), 201)
    for domain in (ACME, RIVAL):
        _ok(api.post(f"{V1}/accounts/{domain}/policies", json=_policy(f"Account {domain}")), 201)
    for target in (OWN, SIBLING, FOREIGN):
        domain, va = target
        instance, serial_file = m.new_instance(target)
        serial, file_id = serial_file.split("|")
        path = f"{V1}/accounts/{domain}/virtual-accounts/{va}"
        token = _ok(api.post(path + "/tokens", json={"description": "matrix"}), 201)
        name = f"Policy-{serial}"
        body = _policy(name) | {"virtual_account": va}
        _ok(api.post(f"{V1}/accounts/{domain}/policies", json=body), 201)
        m.seeded[target] = Seeded(
            serial, instance, file_id, token["token"]["id"], name, token_text=token["text"]
        )


def _api_key(services: Services, caller: Caller) -> str:
    assert caller.role is not None
    created = services.api_keys.create_api_key(
        name=caller.name,
        role=caller.role,
        smart_account=caller.account,
        virtual_account=caller.va,
        actor="matrix",
    )
    return created.text


def _database(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp / "matrix.sqlite3")
        yield f"sqlite:///{tmp / 'matrix.sqlite3'}"
        return
    # its own database: other tests of this worker truncate theirs between our tests
    server: str = request.getfixturevalue("pg_server_url")
    name = f"smartlic_matrix_{request.getfixturevalue('worker_id')}_{os.getpid()}"
    _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    tmp = tmp_path_factory.mktemp("matrix")
    databases = _database(request, tmp)
    engine = make_engine(next(databases))
    clock = ManualClock(START)
    keys = AuthorityKeys.create(tmp / "keys", clock.now())
    loopback = EgressPolicy.parse("127.0.0.1")  # the webhook case names a loopback URL
    services = build_services(engine, clock, keys, egress=loopback)
    app = create_app(AuthoritySettings(data_dir=tmp / "authority"), clock=clock, services=services)
    server, thread, url = serve_in_thread(app)
    admin_key = _api_key(services, CALLERS[0])
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"})
    clients = {"admin": admin, "no-key": httpx.Client(base_url=url)}
    m = Matrix(url, services, clock, admin, clients, {})
    try:
        _seed(m)
        for caller in CALLERS[1:-1]:
            key = _api_key(services, caller)
            clients[caller.name] = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {key}"}
            )
        yield m
    finally:
        for client in clients.values():
            client.close()
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
        next(databases, None)


# ---------------------------------------------------------------- the routes


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    files: Any = None
    params: Any = None
    headers: Any = None


Rule = Callable[[Caller, str, str], str | None]  # None = allowed, else the expected refusal


def _account(c: Caller, d: str, va: str) -> str | None:
    return None if c.in_account(d) else "403"


def _manage(c: Caller, d: str, va: str) -> str | None:
    return None if c.manages(d) else "403"


def _admin_only(c: Caller, d: str, va: str) -> str | None:
    return None if c.admin else "403"


def _any_key(c: Caller, d: str, va: str) -> str | None:
    return None


def _va_read(c: Caller, d: str, va: str) -> str | None:
    return None if c.reads(d, va) else "403"  # the caller named the virtual account


def _va_write(c: Caller, d: str, va: str) -> str | None:
    return None if c.writes(d, va) else "403"


def _object_read(c: Caller, d: str, va: str) -> str | None:
    """An object named by id: one the caller cannot see is not found (in its own account)."""
    if not c.in_account(d):
        return "403"
    return None if c.reads(d, va) else "404"


def _object_write(c: Caller, d: str, va: str) -> str | None:
    refused = _object_read(c, d, va)
    return refused or (None if c.writes(d, va) else "403")


def _both_write(c: Caller, d: str, va: str) -> str | None:
    return None if c.writes(d, va) and c.writes(d, TRANSFER_TO[(d, va)]) else "403"


@dataclass(frozen=True)
class Case:
    """One way of calling a route against a target ``(domain, va)``."""

    method: str
    route: str
    rule: Rule
    ok: tuple[int, ...]
    build: Callable[[Matrix, str, str], Call]
    destructive: bool = False  # works on a fresh object made for the call


def _acct(d: str) -> str:
    return f"{V1}/accounts/{d}"


def _va(d: str, va: str) -> str:
    return f"{V1}/accounts/{d}/virtual-accounts/{va}"


_n = itertools.count()
A_ROUTE = "/api/v1/accounts/{domain}"
VA_ROUTE = A_ROUTE + "/virtual-accounts/{virtual_account}"

CASES: tuple[Case, ...] = (
    Case("GET", "/api/v1/accounts", _any_key, (200,), lambda m, d, va: Call(
        "GET", f"{V1}/accounts")),
    Case("POST", "/api/v1/accounts", _admin_only, (201,), lambda m, d, va: Call(
        "POST", f"{V1}/accounts", json={"name": "n", "domain": f"new{next(_n)}.example"})),
    Case("GET", A_ROUTE, _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d))),
    Case("POST", A_ROUTE + "/virtual-accounts", _manage, (201,), lambda m, d, va: Call(
        "POST", _acct(d) + "/virtual-accounts", json={"name": f"New{next(_n)}"})),
    Case("GET", A_ROUTE + "/virtual-accounts", _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/virtual-accounts")),
    Case("PATCH", VA_ROUTE, _manage, (200,),
         lambda m, d, va: Call("PATCH", _va(d, va), json={"name": va})),
    Case("DELETE", VA_ROUTE, _manage, (409,),
         lambda m, d, va: Call("DELETE", _va(d, va))),  # allowed, but never empty: 409
    Case("GET", "/api/v1/licenses", _any_key, (200,), lambda m, d, va: Call(
        "GET", f"{V1}/licenses")),
    Case("POST", "/api/v1/licenses", _admin_only, (201,), lambda m, d, va: Call(
        "POST", f"{V1}/licenses", json={"tag": make_tag(f"new{next(_n)}"), "name": "n",
                                        "display_name": "n"})),
    Case("POST", VA_ROUTE + "/licenses",
         _admin_only, (201,), lambda m, d, va: Call(
             "POST", _va(d, va) + "/licenses", json={"tag": TAG, "quantity": 1})),
    Case("GET", VA_ROUTE + "/licenses",
         _va_read, (200,), lambda m, d, va: Call("GET", _va(d, va) + "/licenses")),
    Case("POST",
         VA_ROUTE + "/licenses/actions/transfer",
         _both_write, (200,), lambda m, d, va: Call(
             "POST", _va(d, va) + "/licenses/actions/transfer",
             json={"tag": TAG, "quantity": 1, "target": TRANSFER_TO[(d, va)]})),
    Case("POST", VA_ROUTE + "/tokens",
         _va_write, (201,), lambda m, d, va: Call("POST", _va(d, va) + "/tokens", json={})),
    Case("GET", VA_ROUTE + "/tokens",
         _va_read, (200,), lambda m, d, va: Call("GET", _va(d, va) + "/tokens")),
    Case("GET", VA_ROUTE + "/tokens",  # the texts: only to who may manage the tokens
         _va_write, (200,), lambda m, d, va: Call(
             "GET", _va(d, va) + "/tokens", params={"with_text": "true"})),
    Case("POST", A_ROUTE + "/tokens/{token_id}/actions/revoke", _object_write,
         (200,), lambda m, d, va: Call(
             "POST", _acct(d) + f"/tokens/{m.seeded[(d, va)].token}/actions/revoke")),
    Case("GET", A_ROUTE + "/devices", _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/devices")),
    Case("GET", A_ROUTE + "/devices", _va_read, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/devices", params={"virtual_account": va})),
    Case("GET", A_ROUTE + "/devices/{instance_id}", _object_read, (200,),
         lambda m, d, va: Call("GET", _acct(d) + f"/devices/{m.seeded[(d, va)].instance}")),
    Case("DELETE", A_ROUTE + "/devices/{instance_id}", _object_write, (204,),
         lambda m, d, va: Call("DELETE", _acct(d) + f"/devices/{m.new_instance((d, va))[0]}"),
         destructive=True),
    Case("POST", A_ROUTE + "/devices/{instance_id}/actions/transfer",
         _object_write, (200,), lambda m, d, va: Call(
             "POST", _acct(d) + f"/devices/{m.seeded[(d, va)].instance}/actions/transfer",
             json={"target": va})),  # to where it is: allowed, and changes nothing
    Case("GET", A_ROUTE + "/devices/{instance_id}/transfer-preview",
         _object_write, (200,), lambda m, d, va: Call(
             "GET", _acct(d) + f"/devices/{m.seeded[(d, va)].instance}/transfer-preview",
             params={"target": va})),  # a preview asks for the right to transfer
    Case("GET", A_ROUTE + "/events", _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/events", params={"limit": 1000})),
    Case("GET", "/api/v1/events", _admin_only, (200,), lambda m, d, va: Call(
        "GET", f"{V1}/events")),
    Case("POST", VA_ROUTE + "/usage-files",
         _va_write, (201,), lambda m, d, va: Call(
             "POST", _va(d, va) + "/usage-files",
             files={"file": ("u.xml", usage_file([m.device().report(TAG, 1)]))}),
         destructive=True),
    Case("GET", A_ROUTE + "/usage-files", _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/usage-files", params={"limit": 1000})),
    Case("GET", A_ROUTE + "/usage-files/{file_id}/ack", _object_read, (200,),
         lambda m, d, va: Call("GET", _acct(d) + f"/usage-files/{m.seeded[(d, va)].file}/ack")),
    Case("GET", A_ROUTE + "/devices/{instance_id}/usage", _object_read, (200,),
         lambda m, d, va: Call("GET", _acct(d) + f"/devices/{m.seeded[(d, va)].instance}/usage")),
    Case("POST",
         VA_ROUTE + "/authorization-requests",
         _va_write, (422,), lambda m, d, va: Call(  # allowed; the file is not a request
             "POST", _va(d, va) + "/authorization-requests", files={"file": ("r", b"<a/>")})),
    Case("POST", A_ROUTE + "/authorization-returns", _account, (422,),
         lambda m, d, va: Call(  # allowed in the account; the code is not one
             "POST", _acct(d) + "/authorization-returns", json={"return_code": "x"})),
    Case("GET", A_ROUTE + "/authorization-codes", _account, (200,),
         lambda m, d, va: Call("GET", _acct(d) + "/authorization-codes")),
    Case("POST", A_ROUTE + "/policies", _manage, (201,), lambda m, d, va: Call(
        "POST", _acct(d) + "/policies", json=_policy(f"Account {d}"))),
    Case("POST", A_ROUTE + "/policies", _va_write, (201,), lambda m, d, va: Call(
        "POST", _acct(d) + "/policies",
        json=_policy(m.seeded[(d, va)].policy) | {"virtual_account": va})),
    Case("GET", A_ROUTE + "/policies", _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/policies")),
    Case("GET", VA_ROUTE + "/policy", _va_read,
         (200,), lambda m, d, va: Call("GET", _va(d, va) + "/policy")),
    # issue 12: jobs, reports, schedules, notifications, webhooks, trends (ids that do not
    # exist: a caller allowed in gets 404, one that is not gets the refusal)
    Case("GET", "/api/v1/jobs", _admin_only, (200,), lambda m, d, va: Call(
        "GET", f"{V1}/jobs")),
    Case("POST", "/api/v1/jobs/actions/run-due", _admin_only, (200,), lambda m, d, va: Call(
        "POST", f"{V1}/jobs/actions/run-due")),
    Case("GET", A_ROUTE + "/reports", _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/reports")),
    Case("POST", A_ROUTE + "/reports", _va_read, (201,), lambda m, d, va: Call(
        "POST", _acct(d) + "/reports", json={"kind": "manual", "virtual_account": va})),
    Case("GET", A_ROUTE + "/reports/{report_id}", _account, (404,), lambda m, d, va: Call(
        "GET", _acct(d) + "/reports/no-such-report")),
    Case("GET", A_ROUTE + "/reports/{report_id}/csv", _account, (404,), lambda m, d, va: Call(
        "GET", _acct(d) + "/reports/no-such-report/csv")),
    Case("GET", A_ROUTE + "/reports/{report_id}/pdf", _account, (404,), lambda m, d, va: Call(
        "GET", _acct(d) + "/reports/no-such-report/pdf")),
    Case("GET", A_ROUTE + "/report-schedules", _manage, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/report-schedules")),
    Case("POST", A_ROUTE + "/report-schedules", _manage, (201,), lambda m, d, va: Call(
        "POST", _acct(d) + "/report-schedules", json={"frequency": "daily"})),
    Case("GET", A_ROUTE + "/notifications", _manage, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/notifications")),
    Case("POST", A_ROUTE + "/notifications", _manage, (404,), lambda m, d, va: Call(
        "POST", _acct(d) + "/notifications", json={"user": "nobody", "event": "report-ready"})),
    Case("GET", A_ROUTE + "/webhooks", _manage, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/webhooks")),
    Case("POST", A_ROUTE + "/webhooks", _manage, (201,), lambda m, d, va: Call(
        "POST", _acct(d) + "/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["x.y"]})),
    Case("DELETE", A_ROUTE + "/webhooks/{webhook_id}", _manage, (404,), lambda m, d, va: Call(
        "DELETE", _acct(d) + "/webhooks/no-such-webhook")),
    Case("GET", A_ROUTE + "/webhook-deliveries", _manage, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/webhook-deliveries")),
    Case("GET", A_ROUTE + "/webhook-deliveries/{delivery_id}", _manage, (404,),
         lambda m, d, va: Call("GET", _acct(d) + "/webhook-deliveries/999999")),
    Case("POST", A_ROUTE + "/webhook-deliveries/{delivery_id}/actions/replay", _manage, (404,),
         lambda m, d, va: Call("POST", _acct(d) + "/webhook-deliveries/999999/actions/replay")),
    Case("GET", A_ROUTE + "/usage-trends", _va_read, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/usage-trends", params={"virtual_account": va})),
    Case("GET", A_ROUTE + "/usage-trends/csv", _va_read, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/usage-trends/csv", params={"virtual_account": va})),
    Case("POST", A_ROUTE + "/api-clients", _manage, (201,), lambda m, d, va: Call(
        "POST", _acct(d) + "/api-clients", json={"role": "smart-account-user"})),
    Case("GET", A_ROUTE + "/api-clients", _manage, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/api-clients")),
    Case("POST", A_ROUTE + "/api-clients/{client_id}/actions/revoke", _manage, (200,),
         lambda m, d, va: Call(
             "POST", _acct(d) + f"/api-clients/{m.new_client(d)}/actions/revoke"),
         destructive=True),
    # issue 11: license reservations and node-locked license files
    Case("POST", VA_ROUTE + "/reservations", _va_write, (201,), lambda m, d, va: Call(
        "POST", _va(d, va) + "/reservations",
        json={"request_code": _request_code(), "licenses": {TAG: 1}})),
    Case("GET", A_ROUTE + "/reservations", _account, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/reservations")),
    Case("GET", A_ROUTE + "/reservations", _va_read, (200,), lambda m, d, va: Call(
        "GET", _acct(d) + "/reservations", params={"virtual_account": va})),
    Case("POST", VA_ROUTE + "/license-files", _va_write, (201,), lambda m, d, va: Call(
        "POST", _va(d, va) + "/license-files",
        json={"udi": f"PID:ASR-903,SN:LF{next(_n):05d}", "feature": TAG, "count": 1})),
)  # fmt: skip


def _request_code() -> str:
    """A fresh device's reservation request code (each is reserved once)."""
    udi = Udi("C9300-24UX", f"RSV{next(_n):05d}")
    return RequestCode.new(udi, generate_key().public_key()).text


C_ACCT = CSSM + "/v1/accounts/{domain}"
C_VA = C_ACCT + "/virtual-accounts/{virtual_account}"


def _cacct(d: str) -> str:
    return f"{CSSM}/v1/accounts/{d}"


def _cva(d: str, va: str) -> str:
    return f"{_cacct(d)}/virtual-accounts/{va}"


C_VA2 = CSSM + "/v2/accounts/{domain}/virtual-accounts/{virtual_account}"


def _cva2(d: str, va: str) -> str:
    return f"{CSSM}/v2/accounts/{d}/virtual-accounts/{va}"


def _instances(m: Matrix, d: str, va: str) -> dict[str, Any]:
    sudi = {"udiPid": "IXM-LPWA-900-16-K9", "udiSerialNumber": m.seeded[(d, va)].serial}
    return {"productInstances": [{"sudi": sudi, "targetVirtualAccount": va}]}


# The CSSM management API: the same services, so the same rules as the /api/v1 twins above.
CSSM_CASES: tuple[Case, ...] = (
    Case("GET", CSSM + "/v2/accounts", _any_key, (200,), lambda m, d, va: Call(
        "GET", CSSM + "/v2/accounts")),
    Case("GET", CSSM + "/v1/accounts/search", _any_key, (200,), lambda m, d, va: Call(
        "GET", CSSM + "/v1/accounts/search", params={"domain": d})),
    Case("GET", CSSM + "/v2/accounts/search", _any_key, (200,), lambda m, d, va: Call(
        "GET", CSSM + "/v2/accounts/search")),
    Case("GET", C_ACCT + "/virtual-accounts", _account, (200,), lambda m, d, va: Call(
        "GET", _cacct(d) + "/virtual-accounts")),
    Case("GET", C_ACCT + "/customer/virtual-accounts", _account, (200,), lambda m, d, va: Call(
        "GET", _cacct(d) + "/customer/virtual-accounts")),
    Case("POST", C_ACCT + "/virtual-accounts", _manage, (200,), lambda m, d, va: Call(
        "POST", _cacct(d) + "/virtual-accounts", json={"name": f"New{next(_n)}"})),
    Case("POST", C_VA + "/delete", _manage, (409,),
         lambda m, d, va: Call("POST", _cva(d, va) + "/delete")),  # allowed, never empty
    Case("GET", C_VA + "/tokens", _va_read, (200,), lambda m, d, va: Call(
        "GET", _cva(d, va) + "/tokens")),
    Case("POST", C_VA + "/tokens", _va_write, (200,), lambda m, d, va: Call(
        "POST", _cva(d, va) + "/tokens", json={"description": "cssm"})),
    Case("POST", C_VA + "/tokens/revoke", _va_write, (200,), lambda m, d, va: Call(
        "POST", _cva(d, va) + "/tokens/revoke", json={"tokens": [m.seeded[(d, va)].token_text]})),
    Case("POST", C_ACCT + "/licenses", _va_read, (200,), lambda m, d, va: Call(
        "POST", _cacct(d) + "/licenses", json={"virtualAccounts": [va]})),
    Case("POST", C_ACCT + "/license-subscriptions", _va_read, (200,), lambda m, d, va: Call(
        "POST", _cacct(d) + "/license-subscriptions", json={"virtualAccounts": [va]})),
    Case("POST", C_VA + "/licenses/transfer", _both_write, (200,), lambda m, d, va: Call(
        "POST", _cva(d, va) + "/licenses/transfer", json={"licenses": [
            {"license": "Device", "quantity": 1, "targetVirtualAccount": TRANSFER_TO[(d, va)]}]})),
    Case("GET", C_VA + "/devices", _va_read, (200,), lambda m, d, va: Call(
        "GET", _cva(d, va) + "/devices")),
    Case("POST", C_ACCT + "/devices", _va_read, (200,), lambda m, d, va: Call(
        "POST", _cacct(d) + "/devices", json={"virtualAccounts": [va]})),
    Case("POST", C_VA + "/devices/transfer", _va_write, (200,), lambda m, d, va: Call(
        "POST", _cva(d, va) + "/devices/transfer", json=_instances(m, d, va))),  # to itself
    Case("POST", C_VA2 + "/reserve-licenses", _va_write, (200,), lambda m, d, va: Call(
        "POST", _cva2(d, va) + "/reserve-licenses", json={"reservationRequests": [{
            "reservationCode": _request_code(), "reservationType": "SPECIFIC",
            "licenses": [{"entitlementTag": TAG, "quantity": "1",
                          "precedence": "LONGEST_TERM_FIRST"}]}]})),
    Case("POST", C_VA2 + "/devices/remove", _va_write, (200,), lambda m, d, va: Call(
        "POST", _cva2(d, va) + "/devices/remove", json={"productInstacesRemoveRequests": [{
            "sudi": {"udiPid": "IXM-LPWA-900-16-K9",
                     "udiSerialNumber": m.new_instance((d, va))[1].split("|")[0]},
            "productTagName": "", "returnCode": ""}]}), destructive=True),
    Case("POST", CSSM + "/v3/licenses/summary", _va_read, (200,), lambda m, d, va: Call(
        "POST", CSSM + "/v3/licenses/summary", json={"data": {"tags": []}},
        headers={"X-CSW-SMART-ACCOUNT-ID": d, "X-CSW-VIRTUAL-ACCOUNT-ID": va})),
    Case("POST", C_VA + "/reserve-licenses", _va_write, (200,), lambda m, d, va: Call(
        "POST", _cva(d, va) + "/reserve-licenses", json={"reservationRequests": [{
            "reservationCode": _request_code(), "reservationType": "SPECIFIC",
            "licenses": [{"entitlementTag": TAG, "quantity": "1",
                          "precedence": "LONGEST_TERM_FIRST"}]}]})),
    Case("POST", C_VA + "/devices/remove", _va_write, (200,), lambda m, d, va: Call(
        "POST", _cva(d, va) + "/devices/remove", json={"productInstacesRemoveRequests": [{
            "sudi": {"udiPid": "IXM-LPWA-900-16-K9",
                     "udiSerialNumber": m.new_instance((d, va))[1].split("|")[0]},
            "productTagName": "", "returnCode": ""}]}), destructive=True),
)  # fmt: skip
CASES = CASES + CSSM_CASES


def _cells() -> Iterator[tuple[Case, Caller, tuple[str, str]]]:
    for case in CASES:
        for caller in CALLERS:
            for target in TARGETS.values():
                yield case, caller, target


def _expected(case: Case, caller: Caller, target: tuple[str, str]) -> str | None:
    return "401" if caller.role is None else case.rule(caller, *target)


def _send(m: Matrix, caller: Caller, call: Call) -> httpx.Response:
    return m.clients[caller.name].request(
        call.method,
        call.path,
        json=call.json,
        files=call.files,
        params=call.params,
        headers=call.headers,
    )


def _leaks(m: Matrix, caller: Caller, call: Call, response: httpx.Response) -> set[str]:
    """Markers of data hidden from ``caller`` in the answer (those the request named aside)."""
    asked = call.path + json.dumps(call.json) + json.dumps(call.params) + json.dumps(call.headers)
    text = response.text
    return {x for x in m.hidden_from(caller) if x in text and x not in asked}


def _check(
    m: Matrix, case: Case, caller: Caller, target: tuple[str, str], call: Call | None = None
) -> list[str]:
    call = call or case.build(m, *target)
    response = _send(m, caller, call)
    cell = f"{caller.name} {case.method} {call.path} ({case.rule.__name__})"
    errors = []
    refusal = _expected(case, caller, target)
    if refusal is None and response.status_code not in case.ok:
        errors.append(f"{cell}: expected {case.ok}, got {response.status_code} {response.text}")
    if refusal is not None:
        body = response.json() if response.content else {}
        codes = {"401": "unauthenticated", "403": "forbidden", "404": "not-found"}
        vendor = call.path.startswith(CSSM)  # the vendor's shape: {"status": "FAILED", ...}
        good = (
            str(response.status_code) == refusal
            and response.headers.get("content-type")
            == ("application/json" if vendor else "application/problem+json")
            and body.get("code") == codes[refusal]
            and (not vendor or (body.get("status") == "FAILED" and body.get("statusMessage")))
        )
        if not good:
            errors.append(f"{cell}: expected {refusal}, got {response.status_code} {response.text}")
    leaked = _leaks(m, caller, call, response)
    if leaked:
        errors.append(f"{cell}: answer shows hidden data {sorted(leaked)}")
    if refusal is None and response.is_success:
        errors.extend(_listing_errors(cell, caller, response))
    return errors


def _listing_errors(cell: str, caller: Caller, response: httpx.Response) -> list[str]:
    """Every listed item with a virtual account / domain belongs to what the caller reads."""
    body = response.json() if "json" in response.headers.get("content-type", "") else None
    items = body.get("items", []) if isinstance(body, dict) else []
    errors = []
    for item in items:
        if not isinstance(item, dict):
            continue
        domain = item.get("smart_account") or item.get("domain")
        va = item.get("virtual_account")
        if isinstance(domain, str) and not caller.in_account(domain):
            errors.append(f"{cell}: lists {domain}: {item}")
        if caller.va is not None and isinstance(va, str) and va != caller.va:
            errors.append(f"{cell}: lists virtual account {va!r}: {item}")
    return errors


def _stored(m: Matrix) -> dict[str, Any]:
    """Everything a refused write could have changed (the event log aside)."""
    state = snapshot(m.admin)
    for domain in (ACME, RIVAL):
        state[f"{domain} files"] = _ok(m.admin.get(_acct(domain) + "/usage-files"))
        state[f"{domain} policies"] = _ok(m.admin.get(_acct(domain) + "/policies"))
        state[f"{domain} codes"] = _ok(m.admin.get(_acct(domain) + "/authorization-codes"))
        state[f"{domain} clients"] = _ok(m.admin.get(_acct(domain) + "/api-clients"))
        state[f"{domain} reservations"] = _ok(m.admin.get(_acct(domain) + "/reservations"))
    return state


# ---------------------------------------------------------------- tests


def test_every_management_route_is_in_the_matrix(tmp_path: Path) -> None:
    app = _app_without_database(tmp_path)
    routes = {
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    }
    management = {r for r in routes if not r[1].startswith(NOT_MANAGEMENT)}
    covered = {(c.method, c.route) for c in CASES}
    assert management - covered == set(), "add these routes to CASES"
    assert covered - management == set(), "these cases name routes the app does not have"
    assert all(path.startswith((V1, CSSM + "/v")) for _, path in management)


def _app_without_database(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    clock = ManualClock(START)
    services = build_services(engine, clock, AuthorityKeys.create(tmp_path / "keys", START))
    return create_app(AuthoritySettings(data_dir=tmp_path), clock=clock, services=services)


def test_denied_requests_are_refused_and_change_nothing(matrix: Matrix) -> None:
    before = _stored(matrix)
    errors: list[str] = []
    for case, caller, target in _cells():
        if _expected(case, caller, target) is not None and not case.destructive:
            errors += _check(matrix, case, caller, target)
    assert _stored(matrix) == before
    assert errors == []


def _files(m: Matrix, domain: str) -> int:
    total: int = _ok(m.admin.get(_acct(domain) + "/usage-files"))["total"]
    return total


def test_destructive_requests_touch_only_what_the_caller_may_change(matrix: Matrix) -> None:
    """Uploads and removals, each on a fresh object: done when allowed, else nothing changed."""
    errors: list[str] = []
    for case, caller, target in _cells():
        if not case.destructive:
            continue
        allowed = _expected(case, caller, target) is None
        call = case.build(matrix, *target)  # a removal makes its fresh instance here
        files = _files(matrix, target[0])
        errors += _check(matrix, case, caller, target, call)
        uploaded = _files(matrix, target[0]) != files + allowed
        if case.route.endswith("/usage-files") and uploaded:
            errors.append(f"{caller.name} upload to {target}: stored {allowed=} mismatch")
        if case.route.endswith("/revoke"):
            client = matrix.services.api_clients.get_client(call.path.split("/")[-3])
            if (client.revoked_at is not None) != allowed:
                errors.append(f"{caller.name} revoke in {target}: revoked {allowed=} mismatch")
        if case.method == "DELETE":
            still = matrix.admin.get(call.path).status_code == 200
            if still == allowed:
                errors.append(f"{caller.name} remove in {target}: still there {still}")
    assert errors == []


def test_allowed_requests_succeed_and_show_only_the_callers_data(matrix: Matrix) -> None:
    errors: list[str] = []
    for case, caller, target in _cells():
        if _expected(case, caller, target) is None and not case.destructive:
            errors += _check(matrix, case, caller, target)
    assert errors == []


def test_a_virtual_account_key_reads_only_its_virtual_account(matrix: Matrix) -> None:
    """Finding 7 of issue 8: usage files, ACKs, events and policies of the whole smart account
    were readable with a key scoped to one virtual account."""
    vic = matrix.clients["va-user"]
    own, sibling = matrix.seeded[OWN], matrix.seeded[SIBLING]
    files = _ok(vic.get(_acct(ACME) + "/usage-files"))["items"]
    assert {f["virtual_account"] for f in files} == {"Prod"}
    assert own.file in {f["id"] for f in files} and sibling.file not in {f["id"] for f in files}
    assert vic.get(_acct(ACME) + f"/usage-files/{own.file}/ack").status_code == 200
    hidden = vic.get(_acct(ACME) + f"/usage-files/{sibling.file}/ack")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not-found"
    events = _ok(vic.get(_acct(ACME) + "/events", params={"limit": 1000}))
    assert events["total"] == len(events["items"]) > 0
    assert {e["virtual_account"] for e in events["items"]} == {"Prod"}
    policies = _ok(vic.get(_acct(ACME) + "/policies"))["items"]
    assert {p["name"] for p in policies} >= {own.policy, f"Account {ACME}"}
    assert sibling.policy not in {p["name"] for p in policies}
    assert _ok(vic.get(_acct(ACME) + "/virtual-accounts"))["items"][0]["name"] == "Prod"


def test_carried_device_reports_count_only_where_the_caller_may_change(matrix: Matrix) -> None:
    """``reportusage`` (the vendor device API, not in ``CASES``: a device posting on its own,
    without a key, is its normal caller) carrying a device's signed report, without headers:
    counted for a key that may change the device's virtual account, as the ``/api/v1``
    upload requires; refused whole (403, nothing stored) for a key of its smart account that
    may not (read-only, another virtual account's), as is a read-only virtual-account key
    for any device; for a key of another smart account the device alone is refused as another
    account's (202, nothing counted). No key: the device's own rules (its key is pinned:
    counted)."""
    errors: list[str] = []
    for caller in CALLERS:
        for target in TARGETS.values():
            dev, _ = matrix.placed_device(target)
            call = Call("POST", REPORTUSAGE, json=dev.body(dev.report(TAG, 2)))
            before = _stored(matrix)
            response = _send(matrix, caller, call)
            changed = _stored(matrix) != before
            cell = f"{caller.name} carries a device of {target}"
            keyed_here = caller.role is not None and caller.in_account(target[0])
            # a virtual-account key lands devices in its virtual account, as a header naming
            # it would: it must be able to change it, whatever the device (deps_usage)
            lands = caller.va is not None and not caller.writes(caller.account or "", caller.va)
            refused = lands or (keyed_here and not caller.writes(*target))
            counts = caller.role is None or (keyed_here and not refused)
            if response.status_code != (403 if refused else 202) or changed != counts:
                errors.append(f"{cell}: {response.status_code} {changed=} {response.text}")
            if refused and response.json().get("status") != "FAILED":
                errors.append(f"{cell}: not the vendor's failure shape: {response.text}")
            leaked = _leaks(matrix, caller, call, response)
            if leaked:
                errors.append(f"{cell}: answer shows hidden data {sorted(leaked)}")
    assert errors == []
