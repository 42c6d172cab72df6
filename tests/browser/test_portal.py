"""The portal in a real browser, as a license administrator and a read-only user use it, at
desktop and phone width: login, every page, a token created and copied, a usage file uploaded
and its ACK downloaded."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from smartlic.authority.app import create_app
from smartlic.authority.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER, seed_demo
from smartlic.authority.services import Services
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import SystemClock
from smartlic.crypto import Udi
from smartlic.domain.enums import Role
from smartlic.formats.rum import usage_file
from smartlic.formats.slp import read_file
from smartlic.storage import upgrade
from tests.authority.api.conftest import serve_in_thread
from tests.authority.api.helpers import TAG
from tests.browser.conftest import fits_the_width
from tests.devices import PolicyDevice

READER, READER_PASSWORD = "reader", "reader password 1"


@dataclass
class Site:
    url: str
    services: Services


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo authority (SQLite) served on a loopback port for the whole module."""
    settings = AuthoritySettings(data_dir=tmp_path_factory.mktemp("authority"))
    settings.data_dir.mkdir(exist_ok=True)
    upgrade(settings.database)
    app = create_app(settings, clock=SystemClock())
    services: Services = app.state.services
    seed_demo(services, SystemClock(), settings.demo_file)
    services.users.create_user(username=READER, password=READER_PASSWORD, actor="test")
    services.users.grant(READER, Role.SMART_ACCOUNT_USER, smart_account=DEMO_DOMAIN, actor="t")
    server, thread, url = serve_in_thread(app)
    yield Site(url, services)
    server.should_exit = True
    thread.join(timeout=10)


def login(page: Page, site: Site, user: str = DEMO_USER, password: str = DEMO_PASSWORD) -> None:
    page.goto(site.url + "/")  # the server's address leads to the portal's login
    page.get_by_label(re.compile("user", re.I)).fill(user)
    page.get_by_label(re.compile("password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile("log ?in|sign ?in", re.I)).click()
    expect(page.locator(".username")).to_have_text(user)


def test_a_wrong_password_is_refused_and_the_form_keeps_the_name(page: Page, site: Site) -> None:
    page.goto(site.url + "/portal/login")
    page.get_by_label(re.compile("user", re.I)).fill(DEMO_USER)
    page.get_by_label(re.compile("password", re.I)).fill("not the password")
    page.get_by_role("button", name=re.compile("log ?in|sign ?in", re.I)).click()
    expect(page.get_by_text(re.compile("wrong|invalid|incorrect", re.I)).first).to_be_visible()
    assert page.url.endswith("/portal/login")


def test_every_page_of_the_account_opens(page: Page, site: Site, viewport: str) -> None:
    login(page, site)
    base = f"{site.url}/portal/accounts/{DEMO_DOMAIN}"
    for path in ("", "/va/DEFAULT/licenses", "/va/DEFAULT/instances", "/va/DEFAULT/general",
                 "/events", "/usage-files", "/policies", "/reports", "/authorization-codes",
                 "/report-archive", "/trends", "/notifications", "/virtual-accounts", "/users",
                 "/api-access"):  # fmt: skip
        answer = page.goto(base + path)
        assert answer is not None and answer.status == 200, path
        expect(page.locator("h1, h2").first).to_be_visible()
        if viewport == "phone":
            assert fits_the_width(page), f"{path} is wider than a phone"


def test_licenses_page_shows_the_pool(page: Page, site: Site) -> None:
    login(page, site)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/va/DEFAULT/licenses")
    expect(page.get_by_text("In Compliance").first).to_be_visible()
    expect(page.get_by_role("table").first).to_contain_text("Device 2-10G PORT LICENSE")


def test_a_read_only_user_reads_and_sees_no_forms(page: Page, site: Site) -> None:
    login(page, site, READER, READER_PASSWORD)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/va/DEFAULT/licenses")
    expect(page.get_by_role("table").first).to_contain_text("Device 2-10G PORT LICENSE")
    for path in ("/va/DEFAULT/general", "/usage-files", "/va/DEFAULT/instances"):
        page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}{path}")
        expect(page.locator("h1").first).to_be_visible()
        forms = page.locator("main form[method=post], .card form[method=post]")
        assert forms.count() == 0, (
            path,
            [forms.nth(i).get_attribute("action") for i in range(forms.count())],
        )


def test_usage_upload_and_ack_download(page: Page, site: Site, tmp_path: Path) -> None:
    device = PolicyDevice(Udi("IXM-LPWA-900-16-K9", f"BRW{uuid.uuid4().hex[:6]}"), SystemClock())
    name = f"UD_{device.udi.sn}.txt"
    (tmp_path / name).write_bytes(usage_file([device.report(TAG, 2)]))
    login(page, site)
    page.goto(f"{site.url}/portal/accounts/{DEMO_DOMAIN}/usage-files")
    page.locator("input[type=file]").set_input_files(str(tmp_path / name))
    page.get_by_role("button", name=re.compile("upload", re.I)).click()
    expect(page.get_by_role("status")).to_contain_text(f"{name}: Processed")
    row = page.get_by_role("row").filter(has_text=name)
    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"ACK_{name}"
    assert "smartLicenseRumAck" in {section for section, _ in read_file(saved.read_bytes())}


def test_logout(page: Page, site: Site) -> None:
    login(page, site)
    page.get_by_role("button", name=re.compile("log ?out|sign ?out", re.I)).click()
    expect(page.get_by_label(re.compile("password", re.I))).to_be_visible()
