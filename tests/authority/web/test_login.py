"""Portal login over real HTTP: sessions, refusals, CSRF, the session cookie and its key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from smartlic.authority.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER, seed_demo
from smartlic.authority.services.scope import SYSTEM
from smartlic.authority.settings import AuthoritySettings
from smartlic.authority.web.auth import SECRET_FILE, SESSION_COOKIE, session_secret
from smartlic.domain.enums import Role
from tests.authority.api.helpers import DOMAIN
from tests.authority.web.conftest import PORTAL, Browser, Portal, html, texts


@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"/accounts/{DOMAIN}",
        f"/accounts/{DOMAIN}/va/Prod/licenses",
        f"/accounts/{DOMAIN}/usage-files",
        f"/accounts/{DOMAIN}/va/Prod/reports/licenses.csv",
    ],
)
def test_every_page_needs_a_login(portal: Portal, path: str) -> None:
    answer = portal.browser().get(PORTAL + path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{PORTAL}/login?next=")


def test_login_then_back_to_the_page_asked_for(portal: Portal) -> None:
    portal.services.users.create_user(username="alice", password="portal password 1", actor="t")
    portal.services.users.grant("alice", Role.SMART_ACCOUNT_USER, smart_account=DOMAIN, actor="t")
    browser = portal.browser()
    first = browser.get(f"{PORTAL}/accounts/{DOMAIN}")
    login_page = html(browser.get(first.headers["location"]))
    assert login_page.xpath('//input[@name="next"]/@value') == [f"{PORTAL}/accounts/{DOMAIN}"]
    answer = browser.post(
        f"{PORTAL}/login",
        {
            "username": "alice",
            "password": "portal password 1",
            "next": f"{PORTAL}/accounts/{DOMAIN}",
        },
    )
    assert (answer.status_code, answer.headers["location"]) == (303, f"{PORTAL}/accounts/{DOMAIN}")
    doc = browser.page(f"{PORTAL}/accounts/{DOMAIN}")
    assert texts(doc, '//span[@class="username"]') == ["alice"]


def test_login_never_sends_anyone_off_site(portal: Portal) -> None:
    portal.services.users.create_user(username="alice", password="portal password 1", actor="t")
    for target in ("https://evil.example/", "//evil.example/x", "/api/v1/accounts"):
        browser = portal.browser()
        browser.get(f"{PORTAL}/login")
        data = {"username": "alice", "password": "portal password 1", "next": target}
        answer = browser.post(f"{PORTAL}/login", data)
        assert answer.headers["location"] == f"{PORTAL}/"


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("nobody", "x" * 12)])
def test_bad_login_is_refused_the_same_way(portal: Portal, username: str, password: str) -> None:
    portal.services.users.create_user(username="alice", password="portal password 1", actor="t")
    browser = portal.browser()
    answer = browser.login(username, password)
    assert answer.status_code == 401
    assert texts(html(answer), '//p[@role="alert"]') == ["Unknown user or wrong password."]
    assert browser.get(f"{PORTAL}/").status_code == 303  # still logged out


def test_disabled_user_cannot_log_in_and_loses_its_session(portal: Portal) -> None:
    alice = portal.user("alice", Role.SMART_ACCOUNT_ADMIN, DOMAIN)
    assert alice.get(f"{PORTAL}/").status_code == 200
    portal.services.users.set_disabled("alice", True, actor="t")
    assert alice.get(f"{PORTAL}/").status_code == 303
    assert portal.browser().login("alice").status_code == 401


def test_post_without_csrf_token_is_refused_and_changes_nothing(
    portal: Portal, alice: Browser
) -> None:
    url = f"{PORTAL}/accounts/{DOMAIN}/va/Prod/tokens"
    for token in ("", "forged", None):
        data = {"description": "sneaky", "expires_after_days": "30"}
        body = data if token is None else {**data, "csrf_token": token}
        answer = alice.http.post(url, data=body)
        assert answer.status_code == 403
        assert "security token" in " ".join(texts(html(answer), '//p[@class="detail"]'))
    assert portal.services.tokens.list_tokens(DOMAIN, "Prod", scope=SYSTEM) == []


def test_login_form_needs_its_csrf_token_too(portal: Portal) -> None:
    portal.services.users.create_user(username="alice", password="portal password 1", actor="t")
    browser = portal.browser()
    answer = browser.http.post(
        f"{PORTAL}/login", data={"username": "alice", "password": "portal password 1"}
    )
    assert answer.status_code == 403
    assert browser.get(f"{PORTAL}/").status_code == 303


def test_logout_ends_the_session_on_the_server(portal: Portal, alice: Browser) -> None:
    cookie_before = alice.http.cookies[SESSION_COOKIE]
    assert alice.get(f"{PORTAL}/").status_code == 200
    answer = alice.post(f"{PORTAL}/logout")
    assert (answer.status_code, answer.headers["location"]) == (303, f"{PORTAL}/login")
    assert alice.get(f"{PORTAL}/").status_code == 303
    # a copy of the cookie taken before logging out (stolen, or a back-up of the browser)
    # opens nothing: the session it names was deleted
    replay = portal.browser()
    replay.http.cookies.set(SESSION_COOKIE, cookie_before, path="/portal")
    answer = replay.get(f"{PORTAL}/accounts/{DOMAIN}")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{PORTAL}/login?next=")


def test_session_cookie_is_signed_httponly_samesite(portal: Portal) -> None:
    portal.services.users.create_user(username="alice", password="portal password 1", actor="t")
    answer = portal.browser().login("alice")
    header = answer.headers["set-cookie"].lower()
    assert header.startswith(SESSION_COOKIE + "=")
    assert "httponly" in header and "samesite=lax" in header and "path=/portal" in header


def test_tampered_session_cookie_is_a_logged_out_session(portal: Portal, alice: Browser) -> None:
    value = alice.http.cookies[SESSION_COOKIE]
    forged = portal.browser()
    forged.http.cookies.set(SESSION_COOKIE, value[:-4] + "AAAA", path="/portal")
    assert forged.get(f"{PORTAL}/").status_code == 303


def test_session_key_file_is_created_once_private(tmp_path: Path) -> None:
    settings = AuthoritySettings(data_dir=tmp_path / "authority")
    first = session_secret(settings)
    path = tmp_path / "authority" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(settings) == first and len(first) >= 48


def test_demo_user_logs_in_to_the_demo_account(portal: Portal, tmp_path: Path) -> None:
    for _ in range(2):  # idempotent
        seed_demo(portal.services, portal.live.clock, tmp_path / "demo.json")
    browser = portal.browser()
    assert browser.login(DEMO_USER, DEMO_PASSWORD).status_code == 303
    doc = browser.page(f"{PORTAL}/")
    assert texts(doc, '//table[@id="accounts"]/tbody/tr/td[2]') == [DEMO_DOMAIN]
    assert browser.get(f"{PORTAL}/accounts/{DEMO_DOMAIN}/va/DEFAULT/general").status_code == 200
