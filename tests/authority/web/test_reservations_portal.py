"""Portal over real HTTP: Reserve Licenses on a virtual account's Licenses tab (the code shown
is the signed authorization code for the device), Remove with a "Reservation Return Code" on
Product Instances (a wrong one refused, nothing changed), and a node-locked license file issued
and downloaded, verified with the authority's CA."""

from __future__ import annotations

from smartlic.crypto import Udi, generate_key
from smartlic.formats.license_file import read_license_file
from smartlic.formats.reservation import RequestCode, make_return_code, verify_authorization
from smartlic.formats.signed import SignedVerifier
from tests.authority.api.helpers import DOMAIN, TAG
from tests.authority.web.conftest import PORTAL, Browser, Portal, html, table, texts

VA_URL = f"{PORTAL}/accounts/{DOMAIN}/va/Prod"
UDI = Udi("C9300-24UX", "FCW2134L0RN")


def _reserved(browser: Browser) -> str:
    rows = table(browser.page(f"{VA_URL}/licenses"), "licenses")
    [line] = [r for r in rows if len(r) == 6]
    return line[3]


def test_reserve_then_remove_with_the_return_code(portal: Portal, alice: Browser) -> None:
    key = generate_key()
    code = RequestCode.new(UDI, key.public_key()).text
    alice.page(f"{VA_URL}/licenses")
    too_many = alice.post(f"{VA_URL}/reservations", {"request_code": code, f"qty:{TAG}": "11"})
    assert too_many.status_code == 409
    assert "available in the pool" in " ".join(texts(html(too_many), '//p[@role="alert"]'))
    assert _reserved(alice) == "0"

    made = alice.post(f"{VA_URL}/reservations", {"request_code": code, f"qty:{TAG}": "2",
                                                  "reservation_type": "SPECIFIC"})  # fmt: skip
    assert made.status_code == 201, made.text
    [shown] = html(made).xpath('//div[@id="authorization-code"]//textarea/text()')
    verifier = SignedVerifier(portal.live.clock)
    auth = verify_authorization(shown, verifier, ca=portal.live.keys.ca.certificate, udi=UDI)
    assert [(e.tag, e.count) for e in auth.entitlements] == [(TAG, 2)]
    assert _reserved(alice) == "2"
    listed = table(alice.page(f"{VA_URL}/reservations"), "reservations")
    assert listed[0][:3] == [str(UDI), "SPECIFIC", f"{TAG} \u00d7 2"]

    [row] = html(alice.get(f"{VA_URL}/instances")).xpath('//table[@id="instances"]/tbody/tr')
    remove = f"{VA_URL}/instances/{row.get('data-id')}/remove-reserved"
    forged = make_return_code(generate_key(), auth.code_id, UDI)
    assert alice.post(remove, {"return_code": forged}).status_code == 303
    assert "was not removed" in alice.get(f"{VA_URL}/instances").text
    assert _reserved(alice) == "2"
    assert (
        alice.post(remove, {"return_code": make_return_code(key, auth.code_id, UDI)}).status_code
        == 303
    )
    assert "its reservation is returned" in alice.get(f"{VA_URL}/instances").text
    assert _reserved(alice) == "0"


def test_issue_a_license_file(portal: Portal, alice: Browser) -> None:
    alice.page(f"{VA_URL}/licenses")
    form = {"udi": "PID:ASR-903,SN:FOX1234", "feature": "metroipaccess", "count": "1"}
    answer = alice.post(f"{VA_URL}/license-files", form)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].startswith('attachment; filename="LF')
    verifier = SignedVerifier(portal.live.clock)
    lic = read_license_file(answer.content, verifier, ca=portal.live.keys.ca.certificate,
                            udi=Udi("ASR-903", "FOX1234"))  # fmt: skip
    assert (lic.feature, lic.count) == ("metroipaccess", 1)
    bad = alice.post(f"{VA_URL}/license-files", {"udi": "nonsense", "feature": "metroipaccess"})
    assert bad.status_code == 422 and "not a UDI" in bad.text
    # the UDI as people type it (Udi.parse, as the CLI reads it): PID:SN too; a half is refused
    short = alice.post(
        f"{VA_URL}/license-files",
        {"udi": " ASR-903:FOX5 ", "feature": "securityk9", "standalone": "on"},
    )
    assert short.status_code == 200, short.text
    lic = read_license_file(
        short.content, verifier, ca=portal.live.keys.ca.certificate, udi=Udi("ASR-903", "FOX5")
    )
    assert lic.feature == "securityk9"
    half = alice.post(
        f"{VA_URL}/license-files",
        {"udi": "PID:ASR-903", "feature": "securityk9", "standalone": "on"},
    )
    assert half.status_code == 422 and "not a UDI" in half.text


def test_a_license_file_count_is_a_plain_number(portal: Portal, alice: Browser) -> None:
    """A superscript two passes ``str.isdigit`` and made ``int`` raise (a 500); another
    script's digits were read as a count: both refused as the form's error."""
    alice.page(f"{VA_URL}/licenses")
    for count in ("\u00b2", "\u0663"):
        form = {"udi": "PID:ASR-903,SN:FOX1234", "feature": "metroipaccess", "count": count}
        answer = alice.post(f"{VA_URL}/license-files", form)
        assert answer.status_code == 422 and "a whole number" in answer.text, answer.text
