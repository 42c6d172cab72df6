"""Hand-built policy-mode ``Status`` values: the second reference document's gateway.

``gateway_cslu()`` is the IXM gateway of "Workflow for Topology: CSLU Has Access to CSSM"
(transport cslu, the customer policy "Test Policy", an ACK received, LORAWAN_CPF in use);
``gateway_smart()`` the same device on transport smart with a trust code, RUM reports, an
installed authorization code and a history of messages.
"""

from __future__ import annotations

from dataclasses import replace

from smartlic.agent._policy_status import (
    AccountInfo,
    AuthorizationCodeStatus,
    CommStats,
    EventLogEntry,
    MessageHistory,
    PolicyLicenseUsage,
    PolicyModeStatus,
    ReportSummary,
    RumReportStatus,
    TrustCodeStatus,
    UsageReporting,
)
from smartlic.agent._status import (
    AuthorizationStatus,
    RegistrationStatus,
    Status,
    TransportStatus,
)
from smartlic.crypto import Udi
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.domain.policy import CISCO_DEFAULT, GroupAttributes, LicenseGroup, Policy
from smartlic.domain.products import GATEWAY_PROFILE
from tests.shell.statuses import utc

CSLU_URL = "http://172.27.164.116:8182/cslu/v1/pi"
SMART_URL = "http://127.0.0.1:8000/licservice/license"
UDI = Udi("IXM-LPWA-900-16-K9", "FOC242145DW")
CPF = GATEWAY_PROFILE.license("LORAWAN_CPF")

# The document's "Test Policy" (every value "(Customer Policy)" here: our Policy has one source).
TEST_POLICY = Policy(
    name="Test Policy",
    ack_required=False,
    groups={
        LicenseGroup.UNENFORCED_PERPETUAL: GroupAttributes(94, 100, 100),
        LicenseGroup.UNENFORCED_SUBSCRIPTION: GroupAttributes(120, 100, 100),
        LicenseGroup.ENFORCED: GroupAttributes(0, 204, 100),
        LicenseGroup.EXPORT: GroupAttributes(0, 100, 100),
    },
    installed_at=utc(2, 23, "02:14:41", 2021),
)


def cpf_usage(license_type: str = "Subscription") -> PolicyLicenseUsage:
    return PolicyLicenseUsage(
        name=CPF.name,
        display_name=CPF.display_name,
        tag=CPF.tag,
        description=CPF.text,
        count=1,
        version=CPF.version,
        status="IN USE",
        export_status="NOT RESTRICTED",
        feature_name=CPF.name,
        feature_description=CPF.text,
        enforcement_type="NOT ENFORCED",
        license_type=license_type,
    )


def _policy_mode(**changes: object) -> PolicyModeStatus:
    base = PolicyModeStatus(
        policy=TEST_POLICY,
        account=AccountInfo(),
        usage_reporting=UsageReporting(
            last_ack_received=utc(2, 23, "02:14:41", 2021),
            reporting_push_interval_days=0,
            last_report_push=utc(2, 23, "02:10:41", 2021),
        ),
        trust_code=None,
        licenses=[cpf_usage()],
        authorizations=[],
        last_return_code=None,
        reports=[],
        report_summary=ReportSummary(),
        history=MessageHistory(),
        comm_stats={},
        eventlog=[],
        cslu_url=CSLU_URL,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _status(transport: TransportStatus, policy: PolicyModeStatus) -> Status:
    return Status(
        now=utc(2, 24, "00:10:00", 2021),
        enabled=True,
        udi=UDI,
        hostname="Gateway",
        transport=transport,
        registration=RegistrationStatus(state=RegistrationState.UNREGISTERED),
        authorization=AuthorizationStatus(state=AuthorizationState.NONE),
        agent_version="smartlic 0.1.0",
        mode="policy",
        policy=policy,
    )


def gateway_cslu() -> Status:
    return _status(TransportStatus(type="cslu", url=None), _policy_mode())


def gateway_default_policy() -> Status:
    """A fresh gateway: Cisco default policy, nothing reported yet, no licenses in use."""
    usage = UsageReporting(next_ack_deadline=None, reporting_push_interval_days=30)
    policy = _policy_mode(policy=CISCO_DEFAULT, usage_reporting=usage, licenses=[])
    return _status(TransportStatus(type="cslu", url=None), policy)


REPORTS = [
    RumReportStatus(
        report_id=1614046241,
        state="ACK",
        flag="N",
        feature_name="LORAWAN_CPF",
        metric_name="ENTITLEMENT",
        metric_value=CPF.tag,
        udi=str(UDI),
        previous_report_id=0,
        next_report_id=1614049841,
        state_change_reason="ACKED",
        start_time=utc(2, 23, "02:10:41", 2021),
        end_time=utc(2, 23, "02:10:45", 2021),
        storage_state="DELETED",
    ),
    RumReportStatus(
        report_id=1614049841,
        state="OPEN",
        flag="N",
        feature_name="LORAWAN_CPF",
        metric_name="ENTITLEMENT",
        metric_value=CPF.tag,
        udi=str(UDI),
        previous_report_id=1614046241,
        next_report_id=0,
        state_change_reason="None",
        start_time=utc(2, 23, "02:10:45", 2021),
        end_time=utc(2, 24, "00:04:10", 2021),
        storage_state="EXIST",
    ),
]


def gateway_smart() -> Status:
    installed = utc(2, 23, "02:14:41", 2021)
    policy = _policy_mode(
        account=AccountInfo("SA-IOT-Polaris", "DEFAULT", utc(2, 24, "00:04:10", 2021)),
        usage_reporting=UsageReporting(
            last_ack_received=utc(2, 24, "00:04:10", 2021),
            next_ack_deadline=utc(5, 25, "00:04:10", 2021),
            reporting_push_interval_days=30,
            next_report_push=utc(3, 26, "00:04:10", 2021),
            last_report_push=utc(2, 24, "00:04:09", 2021),
        ),
        trust_code=TrustCodeStatus(installed, str(UDI), "key-1"),
        authorizations=[
            AuthorizationCodeStatus("slac-1", installed, "1fc54c75", ((CPF.tag, CPF.name, 1),))
        ],
        reports=REPORTS,
        report_summary=ReportSummary(2, 0, 1, 0, 1, 1),
        history=MessageHistory(
            online={"Trust Establishment": [(installed, "OK")]},
            imports={"RUM ACK": [(installed, "Import Data Successful")]},
        ),
        comm_stats={"Usage Reporting": CommStats(2, 2, 0, "OK_POLL", installed, None, installed)},
        eventlog=[
            EventLogEntry(
                installed, "SAEVT_ENDPOINT_USAGE", f'count="1" entitlementTag="{CPF.tag}"'
            )
        ],
        smart_url=SMART_URL,
    )
    return _status(TransportStatus(type="smart", url=SMART_URL), policy)
