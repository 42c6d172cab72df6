"""The demo smart account ``smartlic authority demo`` seeds, idempotently.

"Demo Corp" (``demo.example``) with the DEFAULT and "Lab" virtual accounts, every license of
the default product profile defined, 10 of each in DEFAULT (perpetual, or a one-year term for a
subscription license) plus a one-year term subscription of METRO IP ACCESS, a registration
token and an authority admin API key. The token and key texts are shown once by the services,
so they are kept in ``<data_dir>/demo.json`` (mode 0600): a re-run prints the same ones while
they still work, and makes new ones when they do not.

Usage::

    result = seed_demo(services, clock, settings.demo_file)
    print(result.token_text, result.api_key)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import PoolLineOut
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.clock import Clock
from smartlic.domain.enums import HoldingKind, Role
from smartlic.domain.products import ALL_LICENSES, DEFAULT_PROFILE, LicenseSpec
from smartlic.errors import AuthenticationFailed, NotFound

__all__ = ["DEMO_DOMAIN", "DEMO_NAME", "DemoResult", "seed_demo"]

DEMO_NAME = "Demo Corp"
DEMO_DOMAIN = "demo.example"
VIRTUAL_ACCOUNTS = ("DEFAULT", "Lab")
EACH = 10
TERM = ("metroipaccess", 5, "Sub-DEMO-0001")  # license name, quantity, subscription id
ACTOR = "cli:demo"
DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"  # the portal's demo login


@dataclass(frozen=True)
class DemoResult:
    domain: str
    name: str
    virtual_accounts: tuple[str, ...]
    token_id: str
    token_text: str
    token_expires: str
    api_key: str
    created_anything: bool


def seed_demo(services: Services, clock: Clock, state_file: Path) -> DemoResult:
    """Create whatever of the demo is missing; return what to tell the user."""
    created = _ensure_account(services)
    created |= _ensure_virtual_accounts(services)
    created |= _ensure_catalogue(services)
    created |= _ensure_holdings(services, clock)
    created |= _ensure_portal_user(services)
    state = _load(state_file)
    token_id, token_text, expires = _ensure_token(services, state)
    api_key = _ensure_api_key(services, clock, state)
    result = DemoResult(
        DEMO_DOMAIN,
        DEMO_NAME,
        VIRTUAL_ACCOUNTS,
        token_id,
        token_text,
        expires,
        api_key,
        created or state.get("token_text") != token_text or state.get("api_key") != api_key,
    )
    _save(state_file, result)
    return result


def _ensure_account(services: Services) -> bool:
    try:
        services.accounts.get_smart_account(DEMO_DOMAIN, scope=SYSTEM)
        return False
    except NotFound:
        services.accounts.create_smart_account(
            name=DEMO_NAME, domain=DEMO_DOMAIN, scope=system(ACTOR)
        )
        return True


def _ensure_virtual_accounts(services: Services) -> bool:
    existing = {
        va.name for va in services.accounts.list_virtual_accounts(DEMO_DOMAIN, scope=SYSTEM)
    }
    missing = [name for name in VIRTUAL_ACCOUNTS if name not in existing]
    for name in missing:
        services.accounts.create_virtual_account(
            DEMO_DOMAIN, name=name, description="demo", scope=system(ACTOR)
        )
    return bool(missing)


def _ensure_catalogue(services: Services) -> bool:
    defined = {lic.tag for lic in services.licenses.list_catalogue()}
    missing = [spec for spec in ALL_LICENSES if spec.tag not in defined]
    for spec in missing:
        services.licenses.define_license(
            tag=spec.tag,
            name=spec.name,
            display_name=spec.display_name,
            description=spec.text,
            version=spec.version,
            enforcement=spec.enforcement,
            scope=system(ACTOR),
        )
    return bool(missing)


def _ensure_holdings(services: Services, clock: Clock) -> bool:
    """10 of each license (a one-year term for subscription licenses), plus the TERM holding."""
    lines = {
        line.tag: line
        for line in services.licenses.compliance(DEMO_DOMAIN, "DEFAULT", scope=SYSTEM).lines
    }
    starts = clock.now()
    ends = starts + timedelta(days=365)
    added = False
    for spec in ALL_LICENSES:
        kind = HoldingKind.TERM if spec.subscription else HoldingKind.PERPETUAL
        if _has(lines.get(spec.tag), kind):
            continue
        if spec.subscription:
            _add(services, spec, EACH, kind, starts=starts, ends=ends, subscription=spec.name)
        else:
            _add(services, spec, EACH, kind)
        added = True
    name, quantity, subscription = TERM
    spec = DEFAULT_PROFILE.license(name)
    if not _has(lines.get(spec.tag), HoldingKind.TERM):
        term = HoldingKind.TERM
        _add(services, spec, quantity, term, starts=starts, ends=ends, subscription=subscription)
        added = True
    return added


def _has(line: PoolLineOut | None, kind: HoldingKind) -> bool:
    return line is not None and any(h.kind is kind for h in line.holdings)


def _add(
    services: Services,
    spec: LicenseSpec,
    quantity: int,
    kind: HoldingKind,
    *,
    starts: datetime | None = None,
    ends: datetime | None = None,
    subscription: str | None = None,
) -> None:
    services.licenses.add_holding(
        DEMO_DOMAIN,
        "DEFAULT",
        tag=spec.tag,
        quantity=quantity,
        kind=kind,
        starts_at=starts,
        ends_at=ends,
        subscription_id=subscription,
        scope=system(ACTOR),
    )


def _ensure_portal_user(services: Services) -> bool:
    """The portal user ``demo`` (password ``demo-password``), admin of the demo smart account.

    A known password is what a demo wants (docs/portal.md prints it); a real site creates its
    users with ``smartlic admin user create``.
    """
    try:
        services.users.get_user(DEMO_USER)
        created = False
    except NotFound:
        services.users.create_user(
            username=DEMO_USER,
            password=DEMO_PASSWORD,
            display_name="Demo Admin",
            email="demo@demo.example",
            actor=ACTOR,
        )
        created = True
    services.users.grant(
        DEMO_USER, Role.SMART_ACCOUNT_ADMIN, smart_account=DEMO_DOMAIN, actor=ACTOR
    )
    return created


def _ensure_token(services: Services, state: dict[str, str]) -> tuple[str, str, str]:
    """The stored token while it is still active, else a new one."""
    for token in services.tokens.list_tokens(DEMO_DOMAIN, "DEFAULT", scope=SYSTEM):
        if (
            token.id == state.get("token_id")
            and token.status == "active"
            and state.get("token_text")
        ):
            return token.id, state["token_text"], token.expires_at.isoformat()
    created = services.tokens.create_token(
        DEMO_DOMAIN, "DEFAULT", days=365, description="demo token", scope=system(ACTOR)
    )
    return created.token.id, created.text, created.token.expires_at.isoformat()


def _ensure_api_key(services: Services, clock: Clock, state: dict[str, str]) -> str:
    """The stored admin key while it still authenticates, else a new one."""
    text = state.get("api_key")
    if text:
        try:
            services.api_keys.authenticate(text)
            return text
        except AuthenticationFailed:
            pass
    name = f"demo-admin-{clock.now():%Y%m%dT%H%M%S}"
    return services.api_keys.create_api_key(
        name=name, role=Role.ADMIN, smart_account=None, actor=ACTOR
    ).text


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _save(path: Path, result: DemoResult) -> None:
    """Write ``demo.json`` readable by its owner only (it holds an admin API key)."""
    data = {k: v for k, v in asdict(result).items() if k != "created_anything"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
