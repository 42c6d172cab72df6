"""The authority's services over SQLAlchemy; ``build_services`` wires them.

Usage::

    engine = make_engine(url)
    services = build_services(engine, clock, AuthorityKeys.load(key_dir))
    services.accounts.create_smart_account(name="Example", domain="example.com", actor="cli")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services._principal_cache import PrincipalCache
from smartlic.authority.services.account_users import AccountUsersService
from smartlic.authority.services.api_clients import SqlApiClientsService
from smartlic.authority.services.egress import EgressPolicy
from smartlic.authority.services.interfaces import (
    AccountsService,
    ApiKeysService,
    DeviceService,
    EventsService,
    InstancesService,
    LicensesService,
    TokensService,
    UsageService,
)
from smartlic.authority.services.jobs import JobRunner
from smartlic.authority.services.login_throttle import LoginPolicy, SqlLoginThrottle
from smartlic.authority.services.notifications import SmtpConfig, SqlNotificationsService
from smartlic.authority.services.policies import SqlPoliciesService
from smartlic.authority.services.portal_sessions import SqlPortalSessionsService
from smartlic.authority.services.reports import SqlReportsService
from smartlic.authority.services.reservations import SqlReservationsService
from smartlic.authority.services.slac import SqlAuthorizationService
from smartlic.authority.services.trends import SqlTrendsService
from smartlic.authority.services.trust import SqlTrustService
from smartlic.authority.services.users import SqlUsersService
from smartlic.authority.services.webhooks import SqlWebhooksService
from smartlic.clock import Clock
from smartlic.formats.archive import DEFAULT_LIMITS as DEFAULT_ARCHIVE_LIMITS
from smartlic.formats.archive import ArchiveLimits

__all__ = ["Services", "build_services"]


@dataclass
class Services:
    accounts: AccountsService
    licenses: LicensesService
    tokens: TokensService
    instances: InstancesService
    device: DeviceService
    events: EventsService
    api_keys: ApiKeysService
    usage: UsageService
    trust: SqlTrustService
    authorizations: SqlAuthorizationService
    reservations: SqlReservationsService
    policies: SqlPoliciesService
    users: SqlUsersService
    account_users: AccountUsersService  # the users of one smart account, as its admins see them
    portal_sessions: SqlPortalSessionsService
    login_throttle: SqlLoginThrottle
    api_clients: SqlApiClientsService
    engine: Engine  # the one all of them share (readiness and state figures read it)
    reports: SqlReportsService
    notifications: SqlNotificationsService
    webhooks: SqlWebhooksService
    trends: SqlTrendsService
    jobs: JobRunner  # every periodic task (services/schedule.py lists them)


def build_services(
    engine: Engine,
    clock: Clock,
    keys: AuthorityKeys,
    *,
    replay_window_s: float = 300.0,
    archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    login_policy: LoginPolicy | None = None,
    smtp: SmtpConfig | None = None,
    revocation_stamp: Path | None = None,
    egress: EgressPolicy | None = None,
    collector_sync: timedelta = timedelta(days=1),
) -> Services:
    """``revocation_stamp``: the file through which every process of the authority learns
    of revocations (``_principal_cache.py``); None: this process only."""
    from smartlic.authority.services.accounts import SqlAccountsService
    from smartlic.authority.services.api_keys import SqlApiKeysService
    from smartlic.authority.services.device import SqlDeviceService
    from smartlic.authority.services.events import SqlEventsService
    from smartlic.authority.services.instances import SqlInstancesService
    from smartlic.authority.services.licenses import SqlLicensesService
    from smartlic.authority.services.schedule import standard_jobs
    from smartlic.authority.services.tokens import SqlTokensService
    from smartlic.authority.services.usage import SqlUsageService

    licenses = SqlLicensesService(engine, clock)
    reports = SqlReportsService(engine, clock)
    webhooks = SqlWebhooksService(engine, clock, keys.sealing_key, egress or EgressPolicy())
    trends = SqlTrendsService(engine, clock)
    specs = standard_jobs(
        engine,
        clock,
        reports,
        webhooks,
        trends,
        smtp=smtp,
        replay_window_s=replay_window_s,
        collector_sync=collector_sync,
    )
    users = SqlUsersService(engine, clock)
    principals = PrincipalCache(clock, stamp=revocation_stamp)
    api_clients = SqlApiClientsService(engine, clock, users, principals)
    return Services(
        accounts=SqlAccountsService(engine, clock, principals),
        licenses=licenses,
        tokens=SqlTokensService(engine, clock, keys),
        instances=SqlInstancesService(engine, clock),
        device=SqlDeviceService(engine, clock, keys, replay_window_s=replay_window_s),
        events=SqlEventsService(engine, clock),
        api_keys=SqlApiKeysService(engine, clock),
        usage=SqlUsageService(
            engine, clock, keys, replay_window_s=replay_window_s, archive_limits=archive_limits
        ),
        trust=SqlTrustService(engine, clock, keys, replay_window_s=replay_window_s),
        authorizations=SqlAuthorizationService(
            engine, clock, keys, replay_window_s=replay_window_s
        ),
        reservations=SqlReservationsService(engine, clock, keys, replay_window_s=replay_window_s),
        policies=SqlPoliciesService(engine, clock),
        users=users,
        account_users=AccountUsersService(engine, clock, users),
        portal_sessions=SqlPortalSessionsService(engine, clock),
        login_throttle=SqlLoginThrottle(engine, clock, login_policy),
        api_clients=api_clients,
        engine=engine,
        reports=reports,
        notifications=SqlNotificationsService(engine, clock),
        webhooks=webhooks,
        trends=trends,
        jobs=JobRunner(engine, clock, specs),
    )
