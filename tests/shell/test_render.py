"""Renderers against hand-built ``Status`` values: exact text, and what Genie parses from it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from smartlic.agent._status import TransportStatus
from smartlic.agent.shell.fmt import ios_clock, ios_duration, ios_time, truncate
from smartlic.agent.shell.render import render
from smartlic.agent.shell.replies import LicenseView
from tests.shell.genie_parsers import genie_parse, genie_parse_unchecked
from tests.shell.statuses import (
    DOC_USAGE,
    doc_registered,
    unregistered_eval,
    unregistered_idle,
    utc,
)

# The document's "show license summary" table (first reference document, step 6), with the
# column widths of real devices.
DOC_SUMMARY_TABLE = """\
License Usage:
  License                 Entitlement tag               Count Status
  -----------------------------------------------------------------------------
  Device METRO IP ACCESS  (metroipaccess)                   1 AUTHORIZED
  Device 1588             (1588)                            1 AUTHORIZED
  Device ATM              (atm)                             1 AUTHORIZED
  Device UPOE             (upoe)                            1 AUTHORIZED
  Device GNSS             (gnss)                            1 AUTHORIZED
  Device 6-1GE PORT L...  (1GEupgradelicense)               2 AUTHORIZED
  Device 2-10G PORT L...  (10GEupgradelicense)              2 AUTHORIZED
"""

DOC_STATUS_REGISTRATION = """\
Registration:
  Status: REGISTERED
  Smart Account: BU Production Test
  Virtual Account: Device
  Export-Controlled Functionality: ALLOWED
  Initial Registration: SUCCEEDED on Dec 17 02:31:11 2015 UTC
  Last Renewal Attempt: None
  Next Renewal Attempt: Jun 14 02:31:10 2016 UTC
  Registration Expires: Dec 16 02:25:58 2016 UTC

License Authorization: 
  Status: AUTHORIZED on Feb 01 05:08:29 2016 UTC
  Last Communication Attempt: FAILED on Feb 01 05:08:29 2016 UTC
    Failure reason: Fail to send out Call Home HTTP message.
  Next Communication Attempt: Feb 02 04:09:56 2016 UTC
  Communication Deadline: Mar 16 03:00:33 2016 UTC
"""  # noqa: W291 - real devices print "License Authorization: " with a trailing space


def show(view: str, status=None) -> str:  # type: ignore[no-untyped-def]
    return render(LicenseView(view, status or doc_registered()))  # type: ignore[arg-type]


def test_ios_time_and_duration_formats() -> None:
    assert ios_time(utc(12, 17, "02:31:11", 2015)) == "Dec 17 02:31:11 2015 UTC"
    assert ios_time(utc(2, 1, "05:08:29", 2016)) == "Feb 01 05:08:29 2016 UTC"
    span = timedelta(days=89, hours=23, minutes=20, seconds=20)
    assert ios_duration(span) == "89 days, 23 hours, 20 minutes, 20 seconds"
    assert ios_duration(timedelta(days=71, hours=22, minutes=1, seconds=59)) == (
        "71 days, 22 hours, 1 minutes, 59 seconds"
    )
    assert ios_duration(timedelta(seconds=-5)) == "0 days, 0 hours, 0 minutes, 0 seconds"
    assert ios_clock(utc(3, 3, "10:43:41", 2022)) == "10:43:41.000 UTC Thu Mar 3 2022"


def test_truncate_like_the_summary_table() -> None:
    assert truncate("Device 6-1GE PORT LICENSE", 22) == "Device 6-1GE PORT L..."
    assert truncate("Device METRO IP ACCESS", 22) == "Device METRO IP ACCESS"


def test_summary_reproduces_the_document_table() -> None:
    text = show("summary")
    assert text.endswith(DOC_SUMMARY_TABLE)
    assert "  Status: AUTHORIZED\n  Last Communication Attempt: FAILED\n" in text
    assert "  Next Renewal Attempt: Jun 14 02:31:10 2016 UTC\n" in text


def test_status_registration_and_authorization_blocks() -> None:
    text = show("status")
    assert text.startswith("Smart Licensing is ENABLED\n\nUtility:\n  Status: DISABLED\n")
    assert DOC_STATUS_REGISTRATION in text
    assert "Transport:\n  Type: Callhome\n" in text


def test_genie_parses_summary_values() -> None:
    parsed = genie_parse("summary", show("summary"))
    assert parsed["account_information"] == {
        "smart_account": "BU Production Test",
        "virtual_account": "Device",
    }
    rows = parsed["license_usage"]
    assert [(tag, int(row["count"])) for tag, row in rows.items()] == DOC_USAGE
    assert rows["1GEupgradelicense"]["license"] == "Device 6-1GE PORT L..."
    assert {row["status"] for row in rows.values()} == {"AUTHORIZED"}


def test_genie_parses_status_values() -> None:
    parsed = genie_parse("status", show("status"))
    assert parsed["account_information"]["virtual_account"] == "Device"
    assert parsed["transport"] == {"type": "Callhome"}
    assert parsed["utility"] == {"status": "DISABLED"}
    assert parsed["data_privacy"]["sending_hostname"] == "yes"


def test_genie_parses_status_transport_when_unregistered() -> None:
    parsed = genie_parse("status", show("status", unregistered_idle()))
    assert parsed["transport"] == {"type": "Transport Off"}
    assert "account_information" not in parsed


def test_genie_parses_smart_transport_with_url_and_proxy() -> None:
    transport = TransportStatus(type="smart", url="http://127.0.0.1:8000/api/device/v1")
    parsed = genie_parse("status", show("status", replace(doc_registered(), transport=transport)))
    assert parsed["transport"] == {
        "type": "Smart",
        "url": "http://127.0.0.1:8000/api/device/v1",
        "proxy": "Not Configured",
    }
    proxied = replace(transport, proxy_address="proxy.example", proxy_port=3128)
    text = show("status", replace(doc_registered(), transport=proxied))
    assert "  Proxy:\n    Address: proxy.example\n    Port: 3128\n" in text


def test_genie_parses_usage_values() -> None:
    parsed = genie_parse_unchecked("usage", show("usage"))
    assert parsed["license_authorization"] == {"status": "AUTHORIZED on Feb 01 05:08:29 2016 UTC"}
    names = list(parsed["license_name"])
    assert names[0] == "Device METRO IP ACCESS (metroipaccess):"
    assert names[-1] == "Device 2-10G PORT LICENSE (10GEupgradelicense):"
    port = parsed["license_name"]["Device 6-1GE PORT LICENSE (1GEupgradelicense):"]
    assert port == {
        "description": "Device 6-1GE PORT LICENSE",
        "count": 2,
        "version": "1.0",
        "status": "AUTHORIZED",
        "export_status": "NOT RESTRICTED",
    }


def test_genie_parses_all_values() -> None:
    parsed = genie_parse("all", show("all"))
    assert parsed["product_information"]["udi"] == {"pid": "ASR-903", "sn": "FOX1234ABCD"}
    assert parsed["agent_version"]["smart_agent_for_licensing"] == "5.1.26_rel/120"  # asr903's
    sls = parsed["smart_licensing_status"]
    assert sls["account_information"]["smart_account"] == "BU Production Test"
    assert sls["export_authorization_key"] == {"features_authorized": "<none>"}
    licenses = parsed["license_usage"]["license_name"]
    assert len(licenses) == len(DOC_USAGE)
    assert licenses["Device ATM (atm):"]["count"] == 1


def test_genie_tech_support_parses_classic_dates() -> None:
    # Only this Genie parser reads the classic Registration/Authorization fields.
    sls = genie_parse_unchecked("tech", show("tech"))["smart_licensing_status"]
    assert sls["initial_registration"] == "SUCCEEDED on Dec 17 02:31:11 2015 UTC"
    assert sls["next_renewal_attempt"] == "Jun 14 02:31:10 2016 UTC"
    assert sls["registration_expires"] == "Dec 16 02:25:58 2016 UTC"
    assert sls["last_communication_attempt"] == "FAILED on Feb 01 05:08:29 2016 UTC"
    assert sls["failure_reason"] == "Fail to send out Call Home HTTP message."
    assert sls["next_communication_attempt"] == "Feb 02 04:09:56 2016 UTC"
    assert sls["communication_deadline"] == "Mar 16 03:00:33 2016 UTC"
    assert sls["miscellaneous"]["evaluation_mode"] == "Not In Use"
    assert sls["miscellaneous"]["evaluation_period_remaining"] == (
        "89 days, 23 hours, 20 minutes, 20 seconds"
    )


def test_eval_mode_outputs() -> None:
    status = unregistered_eval()
    summary = show("summary", status)
    assert "  Status: UNREGISTERED\n  Export-Controlled Functionality: NOT ALLOWED\n" in summary
    assert (
        "  Status: EVAL MODE\n"
        "  Evaluation Period Remaining: 46 days, 7 hours, 17 minutes, 24 seconds\n"
    ) in summary
    rows = genie_parse("summary", summary)["license_usage"]
    assert rows == {
        "atm": {"license": "Device ATM", "entitlement": "atm", "count": "1", "status": "EVAL MODE"}
    }
    usage = genie_parse_unchecked("usage", show("usage", status))
    assert usage["license_authorization"] == {"status": "EVAL MODE"}
    assert usage["license_name"]["Device ATM (atm):"]["status"] == "EVAL MODE"


def test_no_licenses_in_use() -> None:
    status = unregistered_idle()
    assert "  Status: No Licenses in Use\n" in show("status", status)
    assert show("summary", status).endswith("License Usage:\n  No licenses in use\n")
    assert "License Usage\n==============\n\nNo licenses in use\n" in show("all", status)


def test_disabled_prints_one_line() -> None:
    status = replace(unregistered_idle(), enabled=False)
    assert show("status", status) == "Smart Licensing is DISABLED\n"


def test_udi() -> None:
    text = show("udi")
    assert text == "UDI: PID:ASR-903,SN:FOX1234ABCD\n"
    assert genie_parse("udi", text) == {"udi_details": {"pid": "ASR-903", "sn": "FOX1234ABCD"}}


@pytest.mark.parametrize("view", ["status", "summary", "all"])
def test_integrity_error_is_shown_first(view: str) -> None:
    status = replace(doc_registered(), state_integrity_error="signature mismatch")
    first = show(view, status).splitlines()[0]
    assert first == "% License state failed its integrity check: signature mismatch"
