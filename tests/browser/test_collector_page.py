"""The collector's web page (the CSLU screen) in a real browser, at desktop and phone width,
against a real ``smartlic collector serve`` process (disconnected: "Cisco Is Not Available")
and a real ``smartlic authority serve`` that answers its files: the device table with its
alerts, Preferences, Add Single Product, Download All for Cisco, Upload from Cisco (a real ACK;
a wrong file refused), authorization codes; and the page and its POSTs refused without the
token's session, changing nothing."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from smartlic.domain.products import make_tag
from smartlic.formats.archive import read_members
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.rum import claimed_key, parse_usage_file
from smartlic.formats.signed import open_report
from tests.browser.conftest import fits_the_width
from tests.collector.procs import (
    DOMAIN,
    TAG,
    VA,
    CollectorProc,
    Stack,
    policy_device,
    smartlic,
)
from tests.devices import PolicyDevice

HSEC = make_tag("hseck9")
VA_PATH = f"/api/v1/accounts/{DOMAIN}/virtual-accounts/{VA}"
UPLOAD_LIMIT = 256 * 1024  # SMARTLIC_COLLECTOR_MAX_UPLOAD_BYTES of the module's collector


@dataclass
class Site:
    stack: Stack
    collector: CollectorProc
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.collector.api

    def prefs(self) -> dict[str, Any]:
        return dict(self.collector.get("/preferences"))

    def devices(self) -> dict[str, dict[str, Any]]:
        return {d["name"]: d for d in self.collector.get("/devices")}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A demo authority and a disconnected collector, each a real process, for the module."""
    stack = Stack(tmp_path_factory.mktemp("collector-page"))
    try:
        stack.start_authority()
        env = stack.collector_env(MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT))
        stack.init_collector(env, offline=True)
        yield Site(stack, stack.start_collector(env), env)
    finally:
        stack.stop()


def login(page: Page, site: Site) -> None:
    page.goto(site.url + "/")  # the REST port's address leads to the page's login
    page.get_by_label("REST API token").fill(site.collector.rest_token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Product Instances")).to_be_visible()


def name_of(device: PolicyDevice) -> str:
    return f"UDI_PID:{device.udi.pid}; UDI_SN:{device.udi.sn}"


def row(page: Page, device: PolicyDevice) -> Any:
    return page.locator("#devices tr", has_text=name_of(device))


# ---------------------------------------------------------------- the device table


def test_device_table_shows_the_alerts(page: Page, site: Site, viewport: str) -> None:
    device = policy_device(f"TABLE{viewport.upper()}")
    site.collector.report(device, device.report(TAG, 1))
    login(page, site)
    expect(row(page, device)).to_contain_text("COMPLETE Usage report from product instance")
    expect(page.get_by_text("Cisco Is Not Available").first).to_be_visible()
    assert fits_the_width(page)


# ---------------------------------------------------------------- preferences


def test_preferences_change_is_persisted(page: Page, site: Site) -> None:
    login(page, site)
    try:
        page.get_by_label("CSSM URL").fill(site.stack.authority_url)
        page.get_by_label("Validate Device").check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("Preferences saved.")
        saved = site.prefs()
        assert saved["authority_url"] == site.stack.authority_url and saved["validate_device"]
        expect(page.get_by_label("Validate Device")).to_be_checked()
        assert fits_the_width(page)
    finally:
        with site.collector.rest() as rest:
            rest.patch("/preferences", json={"authority_url": None, "validate_device": False})


def test_a_wrong_url_is_refused_with_a_message(page: Page, site: Site) -> None:
    login(page, site)
    before = site.prefs()
    page.get_by_label("CSSM URL").fill("authority:8000")
    page.get_by_label("Virtual Account").fill("Elsewhere")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Preferences not saved: CSSM URL: must be an http:// or https:// address"
    )
    expect(page.get_by_label("CSSM URL")).to_have_value("authority:8000")  # kept to correct
    assert site.prefs() == before  # nothing of the change stored (nor the virtual account)


# ---------------------------------------------------------------- Add Single Product


def test_add_single_product(page: Page, site: Site, viewport: str) -> None:
    sn = f"ADD{viewport.upper()}"
    login(page, site)
    page.get_by_label("Product ID (PID)").fill("C9300-24T")
    page.get_by_label("Serial Number (SN)").fill(sn)
    page.get_by_role("button", name="Add Single Product").click()
    expect(page.get_by_role("status")).to_contain_text(f"Added UDI_PID:C9300-24T; UDI_SN:{sn}")
    expect(page.locator("#devices")).to_contain_text(f"UDI_SN:{sn}")
    assert f"UDI_PID:C9300-24T; UDI_SN:{sn}" in site.devices()

    page.get_by_label("Product ID (PID)").fill("C9300-24T")
    page.get_by_label("Serial Number (SN)").fill(sn + "X")
    page.get_by_label("Address").fill("ftp://10.0.0.5")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("secret")
    page.get_by_role("button", name="Add Single Product").click()
    expect(page.get_by_role("alert")).to_contain_text("Address: must be an http:// or https://")
    assert f"UDI_PID:C9300-24T; UDI_SN:{sn}X" not in site.devices()


# ---------------------------------------------------------------- the files


def usage_reports(archive: bytes) -> dict[str, list[dict[str, Any]]]:
    """``dev_...txt`` name -> the RUM reports in it, each signature verified."""
    files = {n: d for n, d in read_members(archive) if n.rsplit("/", 1)[-1].startswith("dev_")}
    out = {}
    for name, data in files.items():
        envelopes = parse_usage_file(data)
        for env in envelopes:
            open_report(env, claimed_key(env)[1])  # raises unless the signature verifies
        out[name.rsplit("/", 1)[-1]] = envelopes
    return out


def at_the_authority(site: Site, archive: bytes) -> bytes:
    """What a person does at CSSM: upload the usage file, download its ACK archive."""
    with site.stack.authority() as api:
        files = {"file": ("UD_SA.tar.gz", archive, "application/gzip")}
        created = api.post(f"{VA_PATH}/usage-files", files=files)
        assert created.status_code == 201, created.text
        ack = api.get(f"/api/v1/accounts/{DOMAIN}/usage-files/{created.json()['id']}/ack")
        assert ack.status_code == 200, ack.text
        return ack.content


def download(page: Page, button: str, tmp_path: Path) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    return saved.name, saved.read_bytes()


def upload(page: Page, name: str, content: bytes, mime: str = "application/gzip") -> None:
    file = {"name": name, "mimeType": mime, "buffer": content}
    page.get_by_label("File from Cisco").set_input_files(file)  # type: ignore[arg-type]
    page.get_by_role("button", name="Upload from Cisco").click()


def test_download_all_and_upload_from_cisco(
    page: Page, site: Site, viewport: str, tmp_path: Path
) -> None:
    device = policy_device(f"FILE{viewport.upper()}")
    site.collector.report(device, device.report(TAG, 2))
    login(page, site)
    name, archive = download(page, "Download All for Cisco", tmp_path)
    assert re.fullmatch(r"UD_SA_\d+\.tar\.gz", name)
    reports = usage_reports(archive)
    [mine] = [envs for n, envs in reports.items() if f"_{device.udi.sn}_" in n]
    assert len(mine) == 1
    page.reload()  # a download leaves the page as it was
    expect(row(page, device)).to_contain_text("COMPLETE Usage report exported for CSSM")

    ack = at_the_authority(site, archive)
    upload(page, "ACK_UD_SA.tar.gz", ack)
    expect(page.get_by_role("status")).to_contain_text("reports acknowledged")
    expect(row(page, device)).to_contain_text("COMPLETE Acknowledgement received from CSSM")
    assert site.devices()[name_of(device)]["pending"] == 0
    assert fits_the_width(page)


def test_one_download_per_virtual_account(
    page: Page, site: Site, viewport: str, tmp_path: Path
) -> None:
    """A device filed under another virtual account (``/cslu/v1/pi/Spare-1``): its own file."""
    device = policy_device(f"SPARE{viewport.upper()}")
    url = f"{site.collector.pi}/Spare-1/v2/devices/reportusage"
    answer = httpx.post(url, json=device.body(device.report(TAG, 1)), timeout=30)
    assert answer.status_code == 200, answer.text
    login(page, site)
    page.get_by_label("Download for").select_option("Spare")
    _, archive = download(page, "Download All for Cisco", tmp_path)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as outer:
        manifest = outer.extractfile("manifest.mf")
        assert manifest is not None and b"Specification-VA: Spare" in manifest.read()
    names = list(usage_reports(archive))  # these devices only: the others are the default VA's
    assert f"_{device.udi.sn}_" in " ".join(names) and all("_SPARE" in n for n in names)


def test_a_file_that_is_not_an_ack_is_refused(
    page: Page, site: Site, viewport: str, tmp_path: Path
) -> None:
    device = policy_device(f"NOTACK{viewport.upper()}")
    site.collector.report(device, device.report(TAG, 1))
    before = site.collector.get("/status")
    login(page, site)
    _, usage = download(page, "Download All for Cisco", tmp_path)  # a usage file, not an ACK
    before = site.collector.get("/status")
    upload(page, "UD_SA.tar.gz", usage)
    expect(page.get_by_role("alert")).to_contain_text("Upload from Cisco refused, nothing changed:")
    upload(page, "notes.txt", b"hello", "text/plain")
    expect(page.get_by_role("alert")).to_contain_text("Upload from Cisco refused")
    assert site.collector.get("/status") == before
    expect(row(page, device)).not_to_contain_text("Acknowledgement received")


# ---------------------------------------------------------------- authorization codes


def ask_for_a_code(site: Site, device: PolicyDevice) -> None:
    body = {
        "data": {
            "timestamp": timestamp_ms(device.clock.now()),
            "nonce": make_nonce(),
            "requests": [device.auth_request({HSEC: 1})],
        }
    }
    answer = httpx.post(f"{site.collector.pi}/v2/devices/authrequest", json=body, timeout=30)
    assert answer.status_code == 200, answer.text


def test_authorization_codes(page: Page, site: Site, viewport: str, tmp_path: Path) -> None:
    device = policy_device(f"SLAC{viewport.upper()}")
    ask_for_a_code(site, device)
    login(page, site)
    requests = page.locator("#requests tr", has_text=name_of(device))
    expect(requests).to_contain_text("Waiting for CSSM")
    name, request_file = download(page, "Download Authorization Requests for Cisco", tmp_path)
    assert name.startswith(f"AUTH_{device.udi.pid}_{device.udi.sn}_")
    with site.stack.authority() as api:
        files = {"file": (name, request_file, "application/xml")}
        code = api.post(f"{VA_PATH}/authorization-requests", files=files)
    assert code.status_code == 200, code.text
    upload(page, "AuthorizationCode.xml", code.content, "application/xml")
    expect(page.get_by_role("status")).to_contain_text("1 new of 1 files")
    expect(requests).to_contain_text("Authorization code received")
    expect(row(page, device)).to_contain_text("COMPLETE Authorization code received from CSSM")


# ---------------------------------------------------------------- attacks


def state(site: Site) -> tuple[Any, ...]:
    return site.prefs(), site.devices(), site.collector.get("/status")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


ACTIONS: list[tuple[str, dict[str, str]]] = [
    ("/ui/preferences", {"smart_account": "evil", "virtual_account": "Evil", "connectivity": "on"}),
    ("/ui/devices", {"pid": "EVIL", "sn": "EVIL1"}),
    ("/ui/export", {}),
    ("/ui/requests", {}),
    ("/ui/actions/pull", {}),
    ("/ui/logout", {}),
]


def test_without_the_token_nothing_is_shown_or_changed(site: Site) -> None:
    """No session (or a wrong token, or a session's form without its CSRF token): refused,
    and nothing stored changes."""
    before = state(site)
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        page = anonymous.get("/ui/")
        assert page.status_code == 303 and page.headers["location"] == "/ui/login"
        form = anonymous.get("/ui/login")
        token = csrf_of(form.text)  # a login form's token, but no logged-in session
        for path, data in ACTIONS:
            refused = anonymous.post(path, data={"csrf_token": token, **data})
            assert refused.status_code == 401, (path, refused.text)
            assert "Log in with the collector&#39;s REST API token first" in refused.text
        files = {"file": ("ack.xml", b"<smartLicense/>", "application/xml")}
        assert (
            anonymous.post("/ui/import", data={"csrf_token": token}, files=files).status_code == 401
        )
        wrong = anonymous.post("/ui/login", data={"csrf_token": token, "token": "slk_guess"})
        assert wrong.status_code == 401 and "not the collector" in wrong.text
        assert anonymous.get("/ui/").status_code == 303
    assert state(site) == before


def test_a_session_form_without_its_csrf_token_changes_nothing(site: Site) -> None:
    before = state(site)
    with httpx.Client(base_url=site.url, timeout=30) as browser:
        token = csrf_of(browser.get("/ui/login").text)
        logged = browser.post(
            "/ui/login", data={"csrf_token": token, "token": site.collector.rest_token}
        )
        assert logged.status_code == 303
        for path, data in ACTIONS:
            for sent in ({}, {"csrf_token": "forged"}):
                refused = browser.post(path, data={**sent, **data})
                assert refused.status_code == 403, (path, refused.text)
                assert "security token is missing or out of date" in refused.text
        home = browser.get("/ui/")
        assert home.status_code == 200  # the session itself still works
        big = {"file": ("ack.tar.gz", b"\0" * (UPLOAD_LIMIT + 1), "application/gzip")}
        too_big = browser.post("/ui/import", data={"csrf_token": csrf_of(home.text)}, files=big)
        assert too_big.status_code == 413  # the REST import's limit, before anything is read
        assert state(site) == before
        # a new REST API token ends every session made with the old one
        printed = smartlic(site.env, "collector", "rest-token")
        site.collector.rest_token = printed.split()[-1]
        assert browser.get("/ui/").status_code == 303
        refused = browser.post("/ui/devices", data={"csrf_token": token, "pid": "P", "sn": "OLD"})
        assert refused.status_code == 401
    assert state(site) == before
