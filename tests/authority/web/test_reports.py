"""Portal reports over real HTTP: Usage Data Files (upload, table, ACK download), Policies, and
the CSV reports of licenses and product instances."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import httpx

from smartlic.authority.services.scope import SYSTEM, system
from smartlic.crypto import Udi
from smartlic.domain.enums import Role
from smartlic.domain.policy import CISCO_DEFAULT
from smartlic.formats.rum import usage_file
from smartlic.formats.slp import read_file
from tests.authority.api.helpers import DOMAIN, OTHER, TAG, authorize, new_device, register
from tests.authority.web.conftest import PORTAL, Browser, Portal, html, table, texts
from tests.authority.web.test_inventory import portal_token
from tests.devices import PolicyDevice

FILES_URL = f"{PORTAL}/accounts/{DOMAIN}/usage-files"


def upload(browser: Browser, va: str, name: str, data: bytes) -> httpx.Response:
    browser.page(FILES_URL)
    return browser.post(FILES_URL, {"virtual_account": va}, files={"file": (name, data)})


def test_usage_file_upload_and_ack_download(portal: Portal, alice: Browser) -> None:
    dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", "FOC1"), portal.live.clock)
    data = usage_file([dev.report(TAG, 2), dev.report(OTHER, 1)])
    answer = upload(alice, "Spare", "UD_FOC1.txt", data)
    assert answer.status_code == 303
    doc = alice.page(FILES_URL)
    assert "UD_FOC1.txt: Processed, 1 product instance(s)." in texts(doc, '//p[@role="status"]')
    ((name, _reported, va, status, instances, ack),) = table(doc, "usage-files")
    assert (name, va, status, instances, ack) == (
        "UD_FOC1.txt",
        "Spare",
        "Processed",
        "1",
        "Download",
    )
    (link,) = doc.xpath('//td[@class="ack"]/a/@href')
    got = alice.get(link)
    assert got.status_code == 200 and got.headers["content-type"] == "application/xml"
    assert 'filename="ACK_UD_FOC1.txt"' in got.headers["content-disposition"]
    assert "smartLicenseRumAck" in {name for name, _ in read_file(got.content)}
    rows = table(alice.page(f"{PORTAL}/accounts/{DOMAIN}/va/Spare/licenses"), "licenses")
    assert [r[2] for r in rows if r[0] == "Device metroipaccess"] == ["2"]  # in use


def test_bad_usage_upload_explains_and_stores_nothing(portal: Portal, alice: Browser) -> None:
    answer = upload(alice, "Prod", "junk.txt", b"<smartLicense/>")
    assert answer.status_code == 422
    assert texts(html(answer), '//p[@role="alert"]')
    answer = alice.post(FILES_URL, {"virtual_account": "Prod"})  # no file
    assert answer.status_code == 422
    assert "choose a usage data file" in " ".join(texts(html(answer), '//p[@role="alert"]'))
    assert portal.services.usage.list_usage_files(DOMAIN, scope=SYSTEM).items == []


def test_policies_page_shows_the_policy_in_force(portal: Portal, alice: Browser) -> None:
    custom = CISCO_DEFAULT.to_json() | {"name": "Acme Lab Policy", "ack_required": False}
    portal.services.policies.create_policy(
        DOMAIN, document=custom, virtual_account="Spare", scope=system("t")
    )
    doc = alice.page(f"{PORTAL}/accounts/{DOMAIN}/policies")
    in_force = {row[0]: row[1:4] for row in table(doc, "policy-in-force")}
    assert in_force["Spare"] == ["Acme Lab Policy", "Customer Policy", "No"]
    assert in_force["Prod"] == [CISCO_DEFAULT.name, CISCO_DEFAULT.source, "Yes"]
    assert [row[:2] for row in table(doc, "policies")] == [["Acme Lab Policy", "Spare"]]


def _csv(browser: Browser, path: str) -> list[list[str]]:
    got = browser.get(path)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(got.text)))


def test_csv_reports_of_licenses_and_instances(portal: Portal, alice: Browser) -> None:
    live = portal.live
    device = new_device(live, 42)
    device.hostname = "=cmd|' /C calc'!A0"  # a hostname a spreadsheet would run
    api = live.client(auth=False)
    register(live, api, device, portal_token(alice))
    authorize(live, api, device, {TAG: 3})
    links = alice.page(f"{PORTAL}/accounts/{DOMAIN}/reports").xpath(
        "//table[@id='reports']//a/@href"
    )
    assert f"{PORTAL}/accounts/{DOMAIN}/va/Prod/reports/licenses.csv" in links
    rows = _csv(alice, f"{PORTAL}/accounts/{DOMAIN}/va/Prod/reports/licenses.csv")
    assert rows == [
        ["License", "Tag", "Purchased", "In Use", "Reserved", "Available", "Status"],
        ["Device metroipaccess", TAG, "10", "3", "0", "7", "In Compliance"],
    ]
    header, row = _csv(alice, f"{PORTAL}/accounts/{DOMAIN}/va/Prod/reports/instances.csv")
    assert header[:4] == ["Name", "Hostname", "Product Type", "Virtual Account"]
    assert row[0] == "UDI_PID:ASR-903; UDI_SN:FOX00042"
    assert row[1] == "'=cmd|' /C calc'!A0"  # neutralised
    assert row[2:4] == ["Device", "Prod"]
    assert row[5] == "In Compliance" and row[7] == f"{TAG} x3"


def test_read_only_user_cannot_upload(portal: Portal) -> None:
    rita = portal.user("rita", Role.SMART_ACCOUNT_USER, DOMAIN)
    dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", "FOC9"), portal.live.clock)
    answer = upload(rita, "Prod", "UD_FOC9.txt", usage_file([dev.report(TAG, 1)]))
    assert answer.status_code == 403
    assert portal.services.usage.list_usage_files(DOMAIN, scope=SYSTEM).items == []


def test_portal_user_and_api_key_of_one_virtual_account_see_the_same(
    portal: Portal, alice: Browser
) -> None:
    """One rule for both front ends (services/scope.py): a virtual-account user in the portal
    and a virtual-account key on the API list the same usage files and events."""
    for n, va in enumerate(("Prod", "Spare")):
        dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", f"EQ{n}"), portal.live.clock)
        assert (
            upload(alice, va, f"UD_{va}.txt", usage_file([dev.report(TAG, 1)])).status_code == 303
        )
    key = portal.services.api_keys.create_api_key(
        name="vic-key",
        role=Role.VIRTUAL_ACCOUNT_USER,
        smart_account=DOMAIN,
        virtual_account="Prod",
        actor="t",
    )
    api = portal.live.client(key.text)
    vic = portal.user("vic", Role.VIRTUAL_ACCOUNT_USER, DOMAIN, "Prod")
    files = api.get(f"/api/v1/accounts/{DOMAIN}/usage-files").json()["items"]
    assert [(f["file_name"], f["virtual_account"]) for f in files] == [("UD_Prod.txt", "Prod")]
    assert [(r[0], r[2]) for r in table(vic.page(FILES_URL), "usage-files")] == [
        ("UD_Prod.txt", "Prod")
    ]
    events = api.get(f"/api/v1/accounts/{DOMAIN}/events", params={"limit": 1000}).json()
    doc = vic.page(f"{PORTAL}/accounts/{DOMAIN}/events")
    names = doc.xpath('//table[@id="events"]/tbody/tr/@data-name')
    assert [e["name"] for e in events["items"]] == names
    assert {e["virtual_account"] for e in events["items"]} == {"Prod"}


def test_csv_reports_of_a_virtual_account_with_a_non_ascii_name(
    portal: Portal, alice: Browser
) -> None:
    """Finding 10: a virtual account named "Прод✓" made both CSV downloads answer 500 (the
    name went into a latin-1 header as it was). RFC 6266: an ASCII fallback name and the exact
    name as RFC 5987 ``filename*``."""
    portal.services.accounts.create_virtual_account(DOMAIN, name="Прод✓", scope=SYSTEM)
    for kind in ("licenses", "instances"):
        got = alice.get(f"{PORTAL}/accounts/{DOMAIN}/va/Прод✓/reports/{kind}.csv")
        assert got.status_code == 200, got.text
        disposition = got.headers["content-disposition"]
        fallback, exact = disposition.split("; ")[1:]
        assert fallback == f'filename="{kind}-acme.example-_.csv"'
        assert exact.startswith("filename*=UTF-8''") and exact.isascii()
        assert unquote(exact.removeprefix("filename*=UTF-8''")) == f"{kind}-{DOMAIN}-Прод✓.csv"


def test_page_offsets_past_the_bound_are_an_error_page(portal: Portal, alice: Browser) -> None:
    """Finding 10: ``?offset=9223372036854775808`` overflowed the database's integer (500)."""
    for page_url in (
        f"{PORTAL}/accounts/{DOMAIN}/events",
        f"{PORTAL}/accounts/{DOMAIN}/va/Prod/instances",
    ):
        got = alice.get(page_url, params={"offset": 2**63})
        assert got.status_code == 422, got.text
        assert "offset must be 0-1000000000" in got.text
        assert alice.get(page_url).status_code == 200
