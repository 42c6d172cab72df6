"""The security headers in a real browser: the portal's one script runs under the strict
Content-Security-Policy (no inline script needed), the offline API docs render under theirs,
and a password change made in one browser logs the other one out."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from smartlic.authority.demo import DEMO_DOMAIN
from smartlic.domain.enums import Role
from tests.browser.test_portal import Site, login, site  # noqa: F401 (the module's server)

OLD, NEW = "browser password 1", "browser password 2"


def test_the_new_token_is_selected_on_focus_under_the_csp(page: Page, site: Site) -> None:  # noqa: F811
    login(page, site)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/va/DEFAULT/general")
    page.get_by_label("Description").fill("browser csp check")
    page.get_by_role("button", name="Create Token").click()
    token = page.locator("#token-text")
    token.focus()  # portal.js, from /portal/static: no inline handler the CSP would block
    selected = page.evaluate(
        "() => { const t = document.getElementById('token-text');"
        " return t.selectionEnd - t.selectionStart === t.value.length && t.value.length > 0; }"
    )
    assert selected


def test_api_docs_render_under_their_csp(page: Page, browser: Browser, site: Site) -> None:  # noqa: F811
    page.goto(f"{site.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("smartlic authority")

    redoc = browser.new_context().new_page()  # ReDoc's footer logo comes from its CDN:
    refused: list[str] = []  # the CSP blocks it (nothing leaves the site), and that is all
    redoc.on("console", lambda msg: refused.append(msg.text) if msg.type == "error" else None)
    try:
        redoc.goto(f"{site.url}/redoc")
        # ReDoc renders the whole API document in the page: slow on a loaded 2-core machine
        expect(redoc.locator("h1").first).to_contain_text("smartlic authority", timeout=30_000)
    finally:
        redoc.context.close()
    assert all("https://cdn.redoc.ly/" in text for text in refused), refused


def test_a_password_change_logs_the_other_browser_out(
    page: Page,
    browser: Browser,
    site: Site,  # noqa: F811
    viewport: str,
) -> None:
    user = f"changer-{viewport}"
    site.services.users.create_user(username=user, password=OLD, actor="test")
    site.services.users.grant(user, Role.SMART_ACCOUNT_USER, smart_account=DEMO_DOMAIN, actor="t")
    other = browser.new_context().new_page()
    try:
        login(other, site, user, OLD)
        login(page, site, user, OLD)
        page.get_by_role("link", name="Change password").click()
        page.get_by_label("Current password").fill(OLD)
        page.get_by_label("New password", exact=True).fill(NEW)
        page.get_by_label("New password again").fill(NEW)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("status")).to_contain_text("Your password was changed")
        other.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}")
        expect(other.get_by_label(re.compile("password", re.I))).to_be_visible()  # login page
        assert "/portal/login" in other.url
    finally:
        other.context.close()
