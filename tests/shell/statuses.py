"""Hand-built ``Status`` values for renderer tests: the reference document's example device."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from smartlic.agent._status import (
    Attempt,
    AuthorizationStatus,
    LicenseUsage,
    RegistrationStatus,
    Status,
    TransportStatus,
)
from smartlic.crypto import Udi
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.domain.products import DEFAULT_PROFILE

# The document's show-command examples, in order (first reference document, steps 5 and 6).
DOC_USAGE = [
    ("metroipaccess", 1),
    ("1588", 1),
    ("atm", 1),
    ("upoe", 1),
    ("gnss", 1),
    ("1GEupgradelicense", 2),
    ("10GEupgradelicense", 2),
]


def utc(month: int, day: int, hms: str, year: int) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(year, month, day, h, m, s, tzinfo=UTC)


def usage(name: str, count: int, status: str = "AUTHORIZED") -> LicenseUsage:
    spec = DEFAULT_PROFILE.license(name)
    return LicenseUsage(
        name=spec.name,
        display_name=spec.display_name,
        tag=spec.tag,
        description=spec.text,
        count=count,
        version=spec.version,
        status=status,
    )


def doc_registered() -> Status:
    """The registered, authorized device of the document's ``show license status`` example."""
    return Status(
        now=utc(2, 1, "05:10:00", 2016),
        enabled=True,
        udi=Udi("ASR-903", "FOX1234ABCD"),
        hostname="Device",
        transport=TransportStatus(type="callhome", url=None),
        registration=RegistrationStatus(
            state=RegistrationState.REGISTERED,
            smart_account="BU Production Test",
            virtual_account="Device",
            export_controlled_allowed=True,
            initial_registration=Attempt(utc(12, 17, "02:31:11", 2015), succeeded=True),
            last_renewal_attempt=None,
            next_renewal_attempt=utc(6, 14, "02:31:10", 2016),
            registration_expires=utc(12, 16, "02:25:58", 2016),
        ),
        authorization=AuthorizationStatus(
            state=AuthorizationState.AUTHORIZED,
            state_since=utc(2, 1, "05:08:29", 2016),
            last_communication_attempt=Attempt(
                utc(2, 1, "05:08:29", 2016),
                succeeded=False,
                failure_reason="Fail to send out Call Home HTTP message.",
            ),
            next_communication_attempt=utc(2, 2, "04:09:56", 2016),
            communication_deadline=utc(3, 16, "03:00:33", 2016),
            evaluation_remaining=timedelta(days=89, hours=23, minutes=20, seconds=20),
        ),
        licenses=[usage(name, count) for name, count in DOC_USAGE],
    )


S26_REMAINING = timedelta(days=46, hours=7, minutes=17, seconds=24)


def unregistered_eval(remaining: timedelta = S26_REMAINING) -> Status:
    """Smart Licensing enabled, not registered, ``license feature atm`` in use."""
    base = doc_registered()
    return replace(
        base,
        transport=TransportStatus(type="off", url=None),
        registration=RegistrationStatus(state=RegistrationState.UNREGISTERED),
        authorization=AuthorizationStatus(
            state=AuthorizationState.EVAL,
            evaluation_remaining=remaining,
            evaluation_in_use=True,
        ),
        licenses=[usage("atm", 1, "EVAL MODE")],
    )


def unregistered_idle() -> Status:
    base = unregistered_eval()
    return replace(
        base,
        authorization=AuthorizationStatus(state=AuthorizationState.NONE),
        licenses=[],
    )
