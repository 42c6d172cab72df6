"""All tables, re-exported from one private module per aggregate."""

from smartlic.storage.base import Base
from smartlic.storage.models._accounts import (
    ApiKey,
    NumberCounter,
    SmartAccount,
    VirtualAccount,
)
from smartlic.storage.models._api_clients import AccessToken, ApiClient
from smartlic.storage.models._events import Event, SeenNonce
from smartlic.storage.models._instances import InstanceUsage, ProductInstance, RegistrationToken
from smartlic.storage.models._licenses import Holding, License, PoolCounter
from smartlic.storage.models._notices import (
    AlertMark,
    CollectorContact,
    Job,
    NotificationSubscription,
    OutboxMail,
    Report,
    ReportSchedule,
    UsageRollup,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from smartlic.storage.models._portal import LoginAttempt, PortalSession
from smartlic.storage.models._reservations import (
    LicenseFileRow,
    LicenseReservation,
    LicenseReservationLine,
)
from smartlic.storage.models._usage import (
    AuthorizationCode,
    Policy,
    PollTask,
    RumReportRow,
    UsageFile,
)
from smartlic.storage.models._users import RoleGrant, User

__all__ = [
    "AccessToken",
    "AlertMark",
    "ApiClient",
    "ApiKey",
    "AuthorizationCode",
    "Base",
    "CollectorContact",
    "Event",
    "Holding",
    "InstanceUsage",
    "Job",
    "License",
    "LicenseFileRow",
    "LicenseReservation",
    "LicenseReservationLine",
    "LoginAttempt",
    "NotificationSubscription",
    "NumberCounter",
    "OutboxMail",
    "Policy",
    "PollTask",
    "PoolCounter",
    "PortalSession",
    "ProductInstance",
    "RegistrationToken",
    "Report",
    "ReportSchedule",
    "RoleGrant",
    "RumReportRow",
    "SeenNonce",
    "SmartAccount",
    "UsageFile",
    "UsageRollup",
    "User",
    "VirtualAccount",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
