"""Policy-mode renderers against hand-built statuses: exact text where the document gives it,
and the values the Genie IOS XE parsers read back (schemas validate fully in policy mode)."""

from __future__ import annotations

from dataclasses import replace

from smartlic.agent._status import Status, TransportStatus
from smartlic.agent.shell.commands.gateway import license_reported
from smartlic.agent.shell.render import render
from smartlic.agent.shell.replies import CpfStatusView, LicenseView, RumDetailView
from tests.shell.genie_parsers import genie_parse
from tests.shell.policy_statuses import (
    CPF,
    CSLU_URL,
    REPORTS,
    SMART_URL,
    gateway_cslu,
    gateway_default_policy,
    gateway_smart,
)


def show(view: str, status: Status) -> str:
    return render(LicenseView(view, status))  # type: ignore[arg-type]


# The second reference document's "show license usage" for the gateway (its license type
# "Invalid" there; LORAWAN_CPF is a subscription in our catalogue).
DOC_USAGE = """\
License Authorization:
  Status: Not Applicable

LORAWAN_CPF (LORAWAN_CPF):
  Description: LORAWAN_CPF
  Count: 1
  Version: v01
  Status: IN USE
  Export status: NOT RESTRICTED
  Feature Name: LORAWAN_CPF
  Feature Description: LORAWAN_CPF
  Enforcement type: NOT ENFORCED
  License type: Subscription
"""

# The second reference document's example, plus what real devices add to it (issue 10,
# divergence 4): ``Account Information: <none>`` before trust and the 17.x ``VRF:`` block.
DOC_STATUS_HEAD = """\
Utility:
  Status: DISABLED

Smart Licensing Using Policy:
  Status: ENABLED

Account Information:
  Smart Account: <none>
  Virtual Account: <none>

Data Privacy:
  Sending Hostname: yes
    Callhome hostname privacy: DISABLED
    Smart Licensing hostname privacy: DISABLED
  Version privacy: DISABLED

Transport:
  Type: cslu
  Cslu address: http://172.27.164.116:8182/cslu/v1/pi
  Proxy:
    Not Configured
  VRF:
    Not Configured

Policy:
"""

DOC_STATUS_TAIL = """\
Miscellaneous:
  Custom Id: <empty>

Usage Reporting:
  Last ACK received: Feb 23 02:14:41 2021 UTC
  Next ACK deadline: <none>
  Reporting push interval: 0 (no reporting)
  Next ACK push check: <none>
  Next report push: <none>
  Last report push: Feb 23 02:10:41 2021 UTC
  Last report file write: <none>

Trust Code Installed: <none>
"""


def test_usage_is_the_documents() -> None:
    text = show("usage", gateway_cslu())
    assert text == DOC_USAGE
    parsed = genie_parse("usage", text)
    assert parsed["license_authorization"] == {"status": "Not Applicable"}
    entry = parsed["license_name"]["LORAWAN_CPF (LORAWAN_CPF):"]
    assert entry == {
        "description": "LORAWAN_CPF",
        "count": 1,
        "version": "v01",
        "status": "IN USE",
        "export_status": "NOT RESTRICTED",
        "feature_name": "LORAWAN_CPF",
        "feature_description": "LORAWAN_CPF",
        "enforcement_type": "NOT ENFORCED",
        "license_type": "Subscription",
    }


def test_status_cslu_has_the_documents_blocks() -> None:
    text = show("status", gateway_cslu())
    assert text.startswith(DOC_STATUS_HEAD)
    assert text.endswith(DOC_STATUS_TAIL)
    parsed = genie_parse("status", text)
    assert parsed["utility"] == {"status": "DISABLED"}
    assert parsed["smart_licensing_using_policy"] == {"status": "ENABLED"}
    assert parsed["transport"] == {
        "type": "cslu",
        "cslu_address": CSLU_URL,
        "proxy": "Not Configured",
        "vrf": "Not Configured",
    }
    policy = parsed["policy"]
    assert policy["policy_in_use"] == "Installed On Feb 23 02:14:41 2021 UTC"
    assert policy["policy_name"] == "Test Policy"
    assert policy["reporting_ack_required"] == "no (Customer Policy)"
    assert policy["enforced_perpetual_subscription_license_attributes"] == {
        "first_report_requirement_days": "0 (Customer Policy)",
        "reporting_frequency_days": "204 (Customer Policy)",
        "report_on_change_days": "100 (Customer Policy)",
    }
    assert parsed["usage_reporting"]["reporting_push_interval"] == "0 (no reporting)"
    assert parsed["usage_reporting"]["last_report_push"] == "Feb 23 02:10:41 2021 UTC"
    assert parsed["trust_code_installed"].strip() == "<none>"
    # Unknown until an ACK names the account: "<none>", as real devices print (divergence 4).
    assert parsed["account_information"] == {"smart_account": "<none>", "virtual_account": "<none>"}


def test_status_default_policy_is_merged_cisco_default() -> None:
    parsed = genie_parse("status", show("status", gateway_default_policy()))
    policy = parsed["policy"]
    assert policy["policy_in_use"] == "Merged from multiple sources."
    assert "policy_name" not in policy
    assert policy["reporting_ack_required"] == "yes (CISCO default)"
    assert policy["unenforced_non_export_perpetual_attributes"] == {
        "first_report_requirement_days": "365 (CISCO default)",
        "reporting_frequency_days": "0 (CISCO default)",
        "report_on_change_days": "90 (CISCO default)",
    }
    assert parsed["usage_reporting"]["reporting_push_interval"] == "30  days"


def test_status_smart_with_account_and_trust_code() -> None:
    text = show("status", gateway_smart())
    assert "  Reporting push interval: 30  days\n" in text
    parsed = genie_parse("status", text)
    assert parsed["transport"] == {"type": "Smart", "url": SMART_URL, "proxy": "Not Configured",
                                   "vrf": "Not Configured"}  # fmt: skip
    assert parsed["account_information"] == {
        "smart_account": "SA-IOT-Polaris As of Feb 24 00:04:10 2021 UTC",
        "virtual_account": "DEFAULT",
    }
    assert parsed["usage_reporting"]["last_ack_received"] == "Feb 24 00:04:10 2021 UTC"
    assert parsed["usage_reporting"]["next_ack_deadline"] == "May 25 00:04:10 2021 UTC"
    # A standalone device prints its trust code on one line (issue 10, divergence 5).
    assert parsed["trust_code_installed"] == " Feb 23 02:14:41 2021 UTC"


def test_status_with_a_proxy() -> None:
    status = gateway_smart()
    status = replace(status, transport=TransportStatus("smart", SMART_URL, "10.0.0.1", 3128))
    text = show("status", status)
    assert "  Proxy:\n    Address: 10.0.0.1\n    Port: 3128\n" in text


def test_summary_table_and_account() -> None:
    text = show("summary", gateway_smart())
    assert "  LORAWAN_CPF             (LORAWAN_CPF)                     1 IN USE\n" in text
    parsed = genie_parse("summary", text)
    assert parsed["license_usage"] == {
        "LORAWAN_CPF": {
            "license": "LORAWAN_CPF",
            "entitlement": "LORAWAN_CPF",
            "count": "1",
            "status": "IN USE",
        }
    }
    assert parsed["account_information"]["virtual_account"] == "DEFAULT"


def test_summary_truncates_long_display_names() -> None:
    base = gateway_smart()
    assert base.policy is not None
    lic = replace(base.policy.licenses[0], name="network-advantage")
    lic = replace(lic, display_name="C9300-48 Network Advantage")
    status = replace(base, policy=replace(base.policy, licenses=[lic]))
    text = show("summary", status)
    # The real row: "network-advantage       (C9300-48 Network Advan...)       1 IN USE".
    assert "  network-advantage       (C9300-48 Network Advan...)       1 IN USE\n" in text


def test_summary_without_account() -> None:
    parsed = genie_parse("summary", show("summary", gateway_cslu()))
    assert parsed["account_information"] == {"smart_account": "<none>", "virtual_account": "<none>"}


def test_all_parses_fully() -> None:
    text = show("all", gateway_smart())
    parsed = genie_parse("all", text)
    sls = parsed["smart_licensing_status"]
    assert sls["smart_licensing_using_policy"] == {"status": "ENABLED"}
    assert sls["policy"]["policy_name"] == "Test Policy"
    assert sls["usage_reporting"]["reporting_push_interval"] == "30  days"
    assert "\nTrust Code Installed: Feb 23 02:14:41 2021 UTC\n" in text
    usage = parsed["license_usage"]["license_name"]["LORAWAN_CPF (LORAWAN_CPF):"]
    assert usage["license_type"] == "Subscription"
    assert parsed["product_information"]["udi"] == {
        "pid": "IXM-LPWA-900-16-K9",
        "sn": "FOC242145DW",
    }
    # The platform's agent version (profile ``ixm``), as a real device prints it.
    assert parsed["agent_version"] == {"smart_agent_for_licensing": "5.1.26_rel/120"}
    # Genie's ShowLicenseAll reads the one-line trust code of a standalone device (as real
    # 17.x standalone devices print it) as the start of a member list and then takes the
    # ``Overall status:`` members for trust code members; those lines are checked as text.
    assert "      Last Confirmation code: 1fc54c75\n" in text
    assert "          Term Count: 1\n" in text
    auth = parsed["license_authorizations"]
    assert auth["purchased_licenses"] == "No Purchase Information Available"
    assert parsed["usage_report_summary"] == {
        "total": "2",
        "purged": "0",
        "total_acknowledged_received": "1",
        "waiting_for_ack": "0",
        "available_to_report": "1",
        "collecting_data": "1",
    }


def test_all_without_authorizations() -> None:
    parsed = genie_parse("all", show("all", gateway_cslu()))
    overall = parsed["license_authorizations"]["overall_status"]["active"]
    assert overall["status"] == "NOT INSTALLED"
    assert parsed["smart_licensing_status"]["transport"]["cslu_address"] == CSLU_URL


def test_udi() -> None:
    parsed = genie_parse("udi", show("udi", gateway_cslu()))
    assert parsed == {"udi_details": {"pid": "IXM-LPWA-900-16-K9", "sn": "FOC242145DW"}}


def test_authorization_not_installed_and_installed() -> None:
    parsed = genie_parse("authorization", show("authorization", gateway_cslu()))
    assert parsed["status"] == "NOT INSTALLED"
    assert parsed["overall status"]["active"]["sn"] == "FOC242145DW"
    assert parsed["purchased_licenses"] == "No Purchase Information Available"
    text = show("authorization", gateway_smart())
    assert "      Status: SMART AUTHORIZATION INSTALLED on Feb 23 02:14:41 2021 UTC\n" in text
    assert genie_parse("authorization", text)["status"] == "SMART AUTHORIZATION"


def test_authorization_shows_the_last_return_code() -> None:
    base = gateway_cslu()
    assert base.policy is not None
    status = replace(base, policy=replace(base.policy, last_return_code="CqaUPW-WSPYiq-ZNU2tK"))
    assert "      Last return code: CqaUPW-WSPYiq-ZNU2tK\n" in show("authorization", status)


def test_rum_id_all() -> None:
    text = show("rum_all", gateway_smart())
    assert text.splitlines()[2:] == [
        "Report Id,          State,    Flag, Feature Name",
        "1614046241          ACK       N     LORAWAN_CPF",
        "1614049841          OPEN      N     LORAWAN_CPF",
    ]
    parsed = genie_parse("rum_all", text)
    assert parsed["smart_license_usage_reports"] == {
        1614046241: {"state": "ACK", "flag": "N", "feature_name": "LORAWAN_CPF"},
        1614049841: {"state": "OPEN", "flag": "N", "feature_name": "LORAWAN_CPF"},
    }


def test_rum_id_detail() -> None:
    parsed = genie_parse("rum_detail", render(RumDetailView(REPORTS[0])))
    assert parsed["report_id"]["1614046241"] == {
        "metric_name": "ENTITLEMENT",
        "feature_name": "LORAWAN_CPF",
        "metric_value": CPF.tag,
        "udi": {"pid": "IXM-LPWA-900-16-K9", "sn": "FOC242145DW"},
        "previous_report_id": "0",
        "next_report_id": "1614049841",
        "state": "ACK",
        "state_change_reason": "ACKED",
        "start_time": "Feb 23 02:10:41 2021 UTC",
        "end_time": "Feb 23 02:10:45 2021 UTC",
        "storage_state": "DELETED",
        "transaction_id": "0",
        "transaction_message": "<none>",
    }


def test_history_message_skeleton() -> None:
    parsed = genie_parse("history", show("history", gateway_cslu()))
    assert set(parsed["message_history"].values()) == {"No past history"}
    assert set(parsed["import_message_history"].values()) == {"No past Import history"}


def test_history_message_entries() -> None:
    text = show("history", gateway_smart())
    assert "Trust Establishment:\n  Feb 23 02:14:41 2021 UTC: OK\n" in text
    assert "Import RUM ACK:\n  Feb 23 02:14:41 2021 UTC: Import Data Successful\n" in text


def test_eventlog() -> None:
    assert show("eventlog", gateway_cslu()) == " No EventLog Found.\n"
    parsed = genie_parse("eventlog", show("eventlog", gateway_smart()))
    assert parsed["event_log"] == [
        {"log_message": f'SAEVT_ENDPOINT_USAGE count="1" entitlementTag="{CPF.tag}"'}
    ]


def test_tech_support_sections() -> None:
    text = show("tech", gateway_smart())
    for heading in (
        "Smart Licensing Tech Support info",
        "Usage Report Summary:",
        "Communication Statistics:",
        "Product Information",
        "Agent Version",
    ):
        assert f"\n{heading}\n" in f"\n{text}"
    assert "Usage Reporting:\n  Attempts: Total=2, Success=2, Fail=0" in text
    assert "  Last Response: OK_POLL on Feb 23 02:14:41 2021 UTC\n" in text
    assert f"  Entitlement Tag: {CPF.tag}\n" in text
    parsed = genie_parse("tech", text)  # schema-checked (issue 10, divergence 1)
    reporting = parsed["communication_statistics"]["usage_reporting"]
    assert reporting["attempts"] == "Total=2, Success=2, Fail=0"
    assert reporting["last_success_time"] == "Feb 23 02:14:41 2021 UTC"
    assert parsed["usage_report_summary"]["total"] == 2
    assert parsed["license_usage"]["handle"][1]["entitlement_tag"] == CPF.tag
    assert parsed["other_info"]["agent_state"] == "authorized"
    assert parsed["other_info"]["transport"] == "Smart"


def test_cpf_status_is_the_documents() -> None:
    text = render(CpfStatusView(True, True, "Successful", True, True))
    assert text == (
        "Enabled : Yes\n"
        "Running : Yes\n"
        "NS Registration : Successful\n"
        "License Status: Reported - Yes, Acknowledged - Yes\n"
    )


def test_alerts_lead_the_status() -> None:
    base = gateway_cslu()
    assert base.policy is not None
    alert = "Reporting overdue: the ACK was required by 2021-05-24T00:04:10Z"
    status = replace(base, policy=replace(base.policy, alerts=[alert]))
    text = show("status", status)
    assert text.startswith(f"% {alert}\n\nUtility:\n")
    assert genie_parse("status", text)["utility"] == {"status": "DISABLED"}


def test_cpf_license_status_from_the_reports() -> None:
    smart = gateway_smart().policy
    assert license_reported(smart, CPF.tag) == (True, True)  # one ACK, one still open
    assert license_reported(gateway_cslu().policy, CPF.tag) == (False, False)  # no reports
    assert smart is not None
    acked, open_ = smart.reports
    sent = replace(open_, state="CLOSED")  # pushed since the ACK, no ACK yet
    assert license_reported(replace(smart, reports=[acked, sent]), CPF.tag) == (True, True)
    assert license_reported(replace(smart, reports=[sent]), CPF.tag) == (True, False)
    unsent = replace(
        smart, reports=[sent], usage_reporting=replace(smart.usage_reporting, last_report_push=None)
    )
    assert license_reported(unsent, CPF.tag) == (False, False)
    assert license_reported(None, CPF.tag) == (False, False)
