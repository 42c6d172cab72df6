"""The portal over real HTTP: the live authority (uvicorn on 127.0.0.1, tests/authority/api) with
two smart accounts, users holding each kind of role, and a browser-like client that logs in,
keeps the session cookie and sends the CSRF token of the last page it read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import lxml.html
import pytest

from smartlic.authority.services.scope import system
from smartlic.domain.enums import HoldingKind, Role
from tests.authority.api.conftest import (  # noqa: F401 (fixtures used by the portal tests)
    LiveAuthority,
    _no_authority_environment,
    live_authority,
)
from tests.authority.api.helpers import DOMAIN, OTHER, TAG

OTHER_DOMAIN = "other.example"
PASSWORD = "portal password 1"
PORTAL = "/portal"


def html(response: httpx.Response) -> Any:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    return lxml.html.fromstring(response.text)


def texts(doc: Any, xpath: str) -> list[str]:
    """The whitespace-normalised text of every element ``xpath`` selects."""
    return [" ".join(el.text_content().split()) for el in doc.xpath(xpath)]


def table(doc: Any, table_id: str) -> list[list[str]]:
    """Rows of the table with ``id`` (body rows, cells as text)."""
    rows = doc.xpath(f'//table[@id="{table_id}"]/tbody/tr')
    return [[" ".join(td.text_content().split()) for td in tr.xpath("./td")] for tr in rows]


@dataclass
class Browser:
    """A person at a browser: cookies kept, forms posted with the page's CSRF token."""

    http: httpx.Client
    csrf: str = ""

    def get(self, path: str, **kw: Any) -> httpx.Response:
        response = self.http.get(path, **kw)
        self._remember(response)
        return response

    def page(self, path: str, status: int = 200) -> Any:
        response = self.get(path)
        assert response.status_code == status, (response.status_code, response.text[:2000])
        return html(response)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        body = {"csrf_token": self.csrf, **(data or {})}
        response = self.http.post(path, data=body, **kw)
        self._remember(response)
        return response

    def _remember(self, response: httpx.Response) -> None:
        if response.headers.get("content-type", "").startswith("text/html"):
            found = lxml.html.fromstring(response.text or "<p/>").xpath(
                '//input[@name="csrf_token"]/@value'
            )
            if found:
                self.csrf = str(found[0])

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        self.get(PORTAL + "/login")
        return self.post(PORTAL + "/login", {"username": username, "password": password})


@dataclass
class Portal:
    live: LiveAuthority
    _browsers: list[httpx.Client] = field(default_factory=list)

    @property
    def services(self) -> Any:
        return self.live.services

    def browser(self) -> Browser:
        client = httpx.Client(base_url=self.live.url, timeout=30)
        self._browsers.append(client)
        return Browser(client)

    def user(
        self,
        username: str,
        role: Role,
        smart_account: str | None = None,
        virtual_account: str | None = None,
    ) -> Browser:
        """A new user with one grant, logged in."""
        self.services.users.create_user(username=username, password=PASSWORD, actor="test")
        self.services.users.grant(
            username,
            role,
            smart_account=smart_account,
            virtual_account=virtual_account,
            actor="test",
        )
        browser = self.browser()
        answer = browser.login(username)
        assert answer.status_code == 303, answer.text
        return browser

    def close(self) -> None:
        for client in self._browsers:
            client.close()


def seed(live: LiveAuthority) -> None:
    """acme.example (Prod: 10 x TAG, Spare: 5 x TAG) and other.example (DEFAULT: 3 x TAG)."""
    s, actor = live.services, "test"
    s.accounts.create_smart_account(name="Acme", domain=DOMAIN, scope=system(actor))
    s.accounts.create_smart_account(name="Other", domain=OTHER_DOMAIN, scope=system(actor))
    for va in ("Prod", "Spare"):
        s.accounts.create_virtual_account(
            DOMAIN, name=va, description=f"{va} site", scope=system(actor)
        )
    for tag, name in ((TAG, "metroipaccess"), (OTHER, "1588")):
        s.licenses.define_license(
            tag=tag, name=name, display_name=f"Device {name}", scope=system(actor)
        )
    for domain, va, quantity in ((DOMAIN, "Prod", 10), (DOMAIN, "Spare", 5)):
        s.licenses.add_holding(domain, va, tag=TAG, quantity=quantity, scope=system(actor))
    s.licenses.add_holding(
        OTHER_DOMAIN,
        "DEFAULT",
        tag=TAG,
        quantity=3,
        kind=HoldingKind.TERM,
        starts_at=live.clock.now(),
        ends_at=live.clock.now().replace(year=live.clock.now().year + 1),
        subscription_id="SUB-OTHER-1",
        scope=system(actor),
    )


@pytest.fixture
def portal(live_authority: LiveAuthority) -> Iterator[Portal]:  # noqa: F811
    seed(live_authority)
    portal = Portal(live_authority)
    try:
        yield portal
    finally:
        portal.close()


@pytest.fixture
def alice(portal: Portal) -> Browser:
    """Smart-account admin of acme.example."""
    return portal.user("alice", Role.SMART_ACCOUNT_ADMIN, DOMAIN)
