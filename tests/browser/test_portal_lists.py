"""The portal's lists in a real browser at desktop and phone width: a token created, copied with
its button and revoked after the confirmation; lists sorted by a header click and filtered; the
event log narrowed by its filters; the same usage file uploaded twice answered once."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from smartlic.authority.demo import DEMO_DOMAIN
from smartlic.clock import SystemClock
from smartlic.crypto import Udi
from smartlic.formats.rum import usage_file
from tests.authority.api.helpers import TAG
from tests.browser.conftest import fits_the_width
from tests.browser.test_portal import Site, login, site  # noqa: F401 (the module's server)
from tests.devices import PolicyDevice


def test_token_copied_with_its_button_then_revoked_after_confirming(
    page: Page,
    site: Site,  # noqa: F811
    viewport: str,
) -> None:
    login(page, site)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/va/DEFAULT/general")
    description = f"copy {viewport} {uuid.uuid4().hex[:6]}"
    page.get_by_label("Description").fill(description)
    page.get_by_role("button", name="Create Token").click()
    text = page.locator("#token-text").input_value()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == text
    row = page.get_by_role("row").filter(has_text=description)
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("heading", name="Revoke Token?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("row").filter(has_text=description)).to_contain_text("active")
    page.get_by_role("row").filter(has_text=description).get_by_role(
        "button", name="Revoke"
    ).click()
    page.get_by_role("button", name="Revoke Token").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.get_by_role("row").filter(has_text=description)).to_contain_text("revoked")
    if viewport == "phone":
        assert fits_the_width(page)


def test_a_header_click_sorts_and_the_filter_narrows(page: Page, site: Site) -> None:  # noqa: F811
    login(page, site)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/va/DEFAULT/licenses")
    names = page.locator("#licenses tr.line td.license")
    ascending = names.all_inner_texts()
    assert ascending == sorted(ascending, key=str.lower)
    page.locator("#licenses th a", has_text="License").click()
    expect(page.locator('#licenses th[aria-sort="descending"]')).to_be_visible()
    assert names.all_inner_texts() == list(reversed(ascending))
    page.get_by_label("Filter").fill(ascending[0].split()[-1])
    page.get_by_role("button", name="Filter").click()
    assert ascending[0] in names.all_inner_texts()
    assert len(names.all_inner_texts()) < len(ascending)


def test_event_log_filters(page: Page, site: Site, viewport: str) -> None:  # noqa: F811
    login(page, site)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/events")
    expect(page.locator("#events td.sentence").first).to_be_visible()
    page.locator("select[name=type]").select_option("Licenses")
    page.get_by_role("button", name="Filter").click()
    names = page.locator("#events tbody tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert names and all(n.startswith("license.") for n in names)
    expect(page.locator("select[name=type]")).to_have_value("Licenses")
    page.locator("input[name=since]").fill("2000-01-01")
    page.locator("input[name=until]").fill("2000-01-02")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#events")).to_contain_text("No events match these filters.")
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("select[name=type]")).to_have_value("")
    if viewport == "phone":
        assert fits_the_width(page)


def test_the_same_usage_file_twice(page: Page, site: Site, tmp_path: Path) -> None:  # noqa: F811
    device = PolicyDevice(Udi("IXM-LPWA-900-16-K9", f"DUP{uuid.uuid4().hex[:6]}"), SystemClock())
    name = f"UD_{device.udi.sn}.txt"
    (tmp_path / name).write_bytes(usage_file([device.report(TAG, 1)]))
    login(page, site)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/usage-files")
    for expected in (f"{name}: Processed", "already uploaded"):
        page.locator("input[type=file]").set_input_files(str(tmp_path / name))
        page.get_by_role("button", name=re.compile("upload", re.I)).click()
        expect(page.get_by_role("status")).to_contain_text(expected)
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(1)
