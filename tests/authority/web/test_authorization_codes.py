"""The portal's Authorization Codes tab over real HTTP: a device's request file uploaded and
the code file downloaded, the code listed, its return code entered and the licenses freed; the
refusals (a reader, another tenant's code, a wrong code, a file that is no request) change
nothing."""

from __future__ import annotations

import httpx
import pytest

from smartlic.authority.services.scope import SYSTEM, system
from smartlic.crypto import Udi
from smartlic.domain.enums import Enforcement, Role
from smartlic.domain.products import make_tag
from smartlic.formats.slp import read_file, write_file
from tests.authority.api.helpers import DOMAIN
from tests.authority.web.conftest import OTHER_DOMAIN, PORTAL, Browser, Portal, html, table, texts
from tests.devices import PolicyDevice

HSEC = make_tag("hseck9")
CODES = f"{PORTAL}/accounts/{DOMAIN}/authorization-codes"


@pytest.fixture
def hsec(portal: Portal) -> str:
    s = portal.services
    s.licenses.define_license(tag=HSEC, name="hseck9", display_name="HSECK9",
                              enforcement=Enforcement.ENFORCED, scope=system("t"))  # fmt: skip
    s.licenses.add_holding(DOMAIN, "Prod", tag=HSEC, quantity=1, scope=system("t"))
    return HSEC


def request_file(dev: PolicyDevice) -> bytes:
    return write_file([("smartLicenseAuthRequest", dev.auth_request({HSEC: 1}))])


def reserved(portal: Portal) -> int:
    lines = portal.services.licenses.compliance(DOMAIN, "Prod", scope=SYSTEM).lines
    return next(ln.reserved for ln in lines if ln.tag == HSEC)


def ask(browser: Browser, data: bytes, va: str = "Prod") -> httpx.Response:
    browser.page(CODES)
    return browser.post(
        CODES + "/requests", {"virtual_account": va}, files={"file": ("req.xml", data)}
    )


def test_request_file_in_code_file_out_then_returned(
    portal: Portal, alice: Browser, hsec: str
) -> None:
    dev = PolicyDevice(Udi("C8300-1N1S-4T2X", "AIR1"), portal.live.clock)
    got = ask(alice, request_file(dev))
    assert got.status_code == 200 and got.headers["content-type"] == "application/xml"
    assert 'filename="AuthorizationCode.xml"' in got.headers["content-disposition"]
    sections = dict(read_file(got.content))
    assert "smartLicenseAuthorization" in sections
    ((device, va, lic, count, _confirmation, _issued, returned),) = table(
        alice.page(CODES), "authorization-codes"
    )
    assert (device, va, lic, count, returned) == (
        "PID:C8300-1N1S-4T2X,SN:AIR1",
        "Prod",
        "hseck9",
        "1",
        "-",
    )
    assert reserved(portal) == 1
    (code,) = portal.services.authorizations.list_codes(DOMAIN, scope=SYSTEM)
    answer = alice.post(CODES + "/returns", {"return_code": dev.return_code(code.id)})
    assert answer.status_code == 303
    doc = alice.page(CODES)
    assert texts(doc, '//p[@role="status"]') == [
        "1 license(s) of PID:C8300-1N1S-4T2X,SN:AIR1 returned to Prod."
    ]
    assert table(doc, "authorization-codes")[0][0] == "No outstanding authorization codes."
    assert len(table(alice.page(CODES + "?all=1"), "authorization-codes")) == 1
    assert reserved(portal) == 0


def test_refusals_explain_and_change_nothing(portal: Portal, alice: Browser, hsec: str) -> None:
    first = PolicyDevice(Udi("C8300-1N1S-4T2X", "AIR2"), portal.live.clock)
    second = PolicyDevice(Udi("C8300-1N1S-4T2X", "AIR3"), portal.live.clock)
    assert ask(alice, request_file(first)).status_code == 200
    # the pool is empty now: a clear message, no second code
    refused = ask(alice, request_file(second))
    assert refused.status_code == 409
    assert texts(html(refused), '//p[@role="alert"]')
    not_a_request = ask(alice, b"<smartLicense/>")
    assert not_a_request.status_code == 422
    assert "one authorization request" in texts(html(not_a_request), '//p[@role="alert"]')[0]
    wrong = alice.post(CODES + "/returns", {"return_code": "not-a-code"})
    assert wrong.status_code == 422 and texts(html(wrong), '//p[@role="alert"]')
    # a reader sees the codes and no forms; its posts are refused
    rita = portal.user("rita", Role.SMART_ACCOUNT_USER, DOMAIN)
    doc = rita.page(CODES)
    assert len(table(doc, "authorization-codes")) == 1
    assert doc.xpath("//form[contains(@action, 'authorization-codes')]") == []
    (code,) = portal.services.authorizations.list_codes(DOMAIN, scope=SYSTEM)
    answer = rita.post(CODES + "/returns", {"return_code": first.return_code(code.id)})
    assert answer.status_code == 403
    assert ask(rita, request_file(second)).status_code == 403
    # another tenant's admin cannot return acme's code through its own account
    olga = portal.user("olga", Role.SMART_ACCOUNT_ADMIN, OTHER_DOMAIN)
    theirs = f"{PORTAL}/accounts/{OTHER_DOMAIN}/authorization-codes"
    olga.page(theirs)
    stolen = olga.post(theirs + "/returns", {"return_code": first.return_code(code.id)})
    assert stolen.status_code == 404
    assert reserved(portal) == 1
    assert len(portal.services.authorizations.list_codes(DOMAIN, scope=SYSTEM)) == 1
