"""Portal and API hygiene over real HTTP: a password change ends the user's other sessions,
and every response carries the security headers (a strict CSP the templates can live with)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.authority.web import auth
from smartlic.domain.enums import Role
from smartlic.web.headers import DOCS_CSP, PAGE_CSP
from smartlic.web.sessions import SessionCookies, cookie_path_matches
from tests.authority.api.helpers import DOMAIN
from tests.authority.web.conftest import PASSWORD, PORTAL, Browser, Portal, html, texts

NEW = "a brand new passphrase"
TEMPLATES = Path(auth.__file__).parent / "templates"


def _change(browser: Browser, current: str, new: str = NEW, confirm: str = NEW) -> httpx.Response:
    browser.get(f"{PORTAL}/password")
    data = {"current_password": current, "new_password": new, "confirm_password": confirm}
    return browser.post(f"{PORTAL}/password", data)


def test_password_change_ends_every_other_session(portal: Portal, alice: Browser) -> None:
    laptop = portal.browser()
    assert laptop.login("alice").status_code == 303
    assert laptop.get(f"{PORTAL}/").status_code == 200

    answer = _change(alice, PASSWORD)
    assert (answer.status_code, answer.headers["location"]) == (303, f"{PORTAL}/")
    doc = alice.page(f"{PORTAL}/")  # this browser stays logged in
    assert texts(doc, '//p[@role="status"]') == [
        "Your password was changed. Your other sessions were logged out."
    ]
    assert laptop.get(f"{PORTAL}/").status_code == 303  # the other one is out at once
    assert portal.browser().login("alice", PASSWORD).status_code == 401
    assert portal.browser().login("alice", NEW).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "confirm", "status", "message"),
    [
        ("wrong password", NEW, NEW, 403, "The current password is wrong."),
        (PASSWORD, NEW, NEW + "x", 422, "The new password and its confirmation differ."),
        (PASSWORD, "short", "short", 422, "New password: 8 to 1024 characters."),
    ],
)
def test_refused_password_change_changes_nothing(
    portal: Portal, alice: Browser, current: str, new: str, confirm: str, status: int, message: str
) -> None:
    laptop = portal.browser()
    laptop.login("alice")
    answer = _change(alice, current, new, confirm)
    assert answer.status_code == status
    assert texts(html(answer), '//p[@role="alert"]') == [message]
    assert laptop.get(f"{PORTAL}/").status_code == 200  # no session ended
    portal.services.users.authenticate("alice", PASSWORD)  # the old password still works


def test_admin_reset_and_disable_end_every_session(portal: Portal) -> None:
    alice = portal.user("alice", Role.SMART_ACCOUNT_USER, DOMAIN)
    portal.services.users.set_password("alice", NEW, actor="cli")
    assert alice.get(f"{PORTAL}/").status_code == 303
    assert alice.login("alice", NEW).status_code == 303
    portal.services.users.set_disabled("alice", True, actor="cli")
    portal.services.users.set_disabled("alice", False, actor="cli")  # re-enabled: still out
    assert alice.get(f"{PORTAL}/").status_code == 303


def test_a_session_ends_after_eight_hours_on_the_server(portal: Portal, alice: Browser) -> None:
    portal.live.clock.advance(timedelta(hours=7, minutes=59))
    assert alice.get(f"{PORTAL}/").status_code == 200
    portal.live.clock.advance(timedelta(minutes=1))  # the signed cookie would still be valid
    assert alice.get(f"{PORTAL}/").status_code == 303


# ---------------------------------------------------------------- headers


def _common(h: httpx.Headers) -> None:
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"


def test_portal_pages_carry_a_strict_csp_and_are_not_cached(alice: Browser) -> None:
    for path, status in (("/", 200), (f"/accounts/{DOMAIN}/va/Prod/general", 200), ("/x", 404)):
        answer = alice.get(PORTAL + path)
        assert answer.status_code == status
        _common(answer.headers)
        assert answer.headers["content-security-policy"] == PAGE_CSP
        assert "unsafe-inline" not in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
        assert answer.headers["cache-control"] == "no-store"
    css = alice.get(f"{PORTAL}/static/portal.css")
    _common(css.headers)
    assert "no-store" not in css.headers.get("cache-control", "")


def test_api_and_docs_carry_the_headers(portal: Portal) -> None:
    api = portal.live.client()
    answer = api.get("/api/v1/accounts")
    _common(answer.headers)
    assert answer.headers["content-security-policy"] == PAGE_CSP
    refused = portal.live.client(auth=False).get("/api/v1/accounts")
    assert refused.status_code == 401
    _common(refused.headers)
    docs = api.get("/docs")
    _common(docs.headers)
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert "cdn" not in docs.text  # everything the page loads is ours ('self')


_INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event-handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_need_no_unsafe_inline(template: str) -> None:
    text = (TEMPLATES / template).read_text()
    assert [what for pattern, what in _INLINE if pattern.search(text)] == []


def test_only_paths_the_cookie_is_sent_to_carry_a_session() -> None:
    """RFC 6265's path match: the portal's pages have a session; the APIs and the device
    protocol skip the cookie machinery altogether (nothing there reads a session)."""
    seen: dict[str, bool] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen[scope["path"]] = "session" in scope

    cookies = SessionCookies(app, https_only=False, secret_key="k" * 32, path=PORTAL)
    paths = (PORTAL, PORTAL + "/", PORTAL + "/accounts", "/portalx", "/", "/api/v1/accounts")
    for path in paths:
        asyncio.run(cookies({"type": "http", "path": path, "headers": []}, _nothing, _nothing))
    assert seen == dict(zip(paths, (True, True, True, False, False, False), strict=True))
    assert cookie_path_matches("/", "/anything") and cookie_path_matches("/a/", "/a/b")
    assert not cookie_path_matches("/a/b", "/a")


async def _nothing(*_: Any) -> None:
    return None
