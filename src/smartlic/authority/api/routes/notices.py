"""Jobs, the report archive, notification settings, webhooks and usage trends (issue 12).

A virtual-account key sees its virtual account's reports, deliveries and trends only;
account-wide settings (subscriptions, webhooks, schedules) need a smart-account admin key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import ACCOUNT, API_PREFIX, COMMON_PROBLEMS, Offset
from smartlic.authority.api.schemas.notices import (
    DeliveryPublic,
    JobPublic,
    JobRunPublic,
    ReportCreate,
    ReportPublic,
    ReportsPublic,
    ScheduleCreate,
    SchedulePublic,
    SubscriptionCreate,
    SubscriptionPublic,
    TrendPointPublic,
    WebhookCreate,
    WebhookPublic,
)
from smartlic.authority.services.scope import require_admin
from smartlic.authority.services.trends import trend_csv
from smartlic.domain.reports import ReportKind
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(tags=["reports and notifications"], responses=COMMON_PROBLEMS)

Limit = Annotated[int, Query(ge=1, le=1000)]


# ------------------------------------------------------------------ jobs


@router.get(API_PREFIX + "/jobs", summary="The job runner's jobs and their state (admins)")
def list_jobs(services: ServicesDep, principal: PrincipalDep) -> list[JobPublic]:
    require_admin(principal)
    return [JobPublic.model_validate(j) for j in services.jobs.list_jobs()]


@router.post(API_PREFIX + "/jobs/actions/run-due", summary="Run the due jobs now (admins)")
def run_due(services: ServicesDep, principal: PrincipalDep) -> list[JobRunPublic]:
    require_admin(principal)
    return [JobRunPublic.model_validate(r) for r in services.jobs.run_due()]


# ------------------------------------------------------------------ reports


@router.get(ACCOUNT + "/reports", summary="The report archive, newest first")
def list_reports(
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    kind: ReportKind | None = None,
    virtual_account: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ReportsPublic:
    items, total = services.reports.list_reports(
        domain,
        kind=kind,
        virtual_account=virtual_account,
        limit=limit,
        offset=offset,
        scope=principal,
    )
    return ReportsPublic(items=[ReportPublic.model_validate(r) for r in items], total=total)


@router.post(
    ACCOUNT + "/reports", status_code=status.HTTP_201_CREATED, summary="Generate a report now"
)
def generate_report(
    domain: str, body: ReportCreate, services: ServicesDep, principal: PrincipalDep
) -> ReportPublic:
    r = services.reports.generate(
        domain,
        kind=body.kind,
        scope=principal,
        virtual_account=body.virtual_account,
    )
    return ReportPublic.model_validate(r)


@router.get(ACCOUNT + "/reports/{report_id}", summary="One archived report with its lines")
def read_report(
    domain: str, report_id: str, services: ServicesDep, principal: PrincipalDep
) -> ReportPublic:
    return ReportPublic.model_validate(
        services.reports.get_report(domain, report_id, scope=principal)
    )


@router.get(
    ACCOUNT + "/reports/{report_id}/csv",
    summary="A report as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def report_csv(
    domain: str, report_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    r = services.reports.get_report(domain, report_id, scope=principal)
    return Response(
        services.reports.csv_text(r),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{r.id}.csv"'},
    )


@router.get(
    ACCOUNT + "/reports/{report_id}/pdf",
    summary="A report as a PDF document",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def report_pdf(
    domain: str, report_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    r = services.reports.get_report(domain, report_id, scope=principal)
    return Response(
        services.reports.pdf_bytes(r),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="report-{r.id}.pdf"'},
    )


@router.get(ACCOUNT + "/report-schedules", summary="Periodic Record schedules")
def list_schedules(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> list[SchedulePublic]:
    schedules = services.reports.list_schedules(domain, scope=principal)
    return [SchedulePublic.model_validate(x) for x in schedules]


@router.post(
    ACCOUNT + "/report-schedules",
    status_code=status.HTTP_201_CREATED,
    summary="Add a Periodic Record schedule (smart-account admins)",
)
def add_schedule(
    domain: str, body: ScheduleCreate, services: ServicesDep, principal: PrincipalDep
) -> SchedulePublic:
    sch = services.reports.add_schedule(
        domain,
        body.frequency,
        body.time_of_day,
        scope=principal,
        virtual_account=body.virtual_account,
    )
    return SchedulePublic.model_validate(sch)


# ------------------------------------------------------------------ notifications


@router.get(ACCOUNT + "/notifications", summary="Users' e-mail notification settings")
def list_subscriptions(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> list[SubscriptionPublic]:
    subs = services.notifications.list_subscriptions(domain, scope=principal)
    return [SubscriptionPublic.model_validate(x) for x in subs]


@router.post(
    ACCOUNT + "/notifications",
    status_code=status.HTTP_201_CREATED,
    summary="Mail a user about an event (smart-account admins)",
)
def subscribe(
    domain: str, body: SubscriptionCreate, services: ServicesDep, principal: PrincipalDep
) -> SubscriptionPublic:
    sub = services.notifications.subscribe(
        domain,
        body.user,
        body.event,
        digest=body.digest,
        scope=principal,
    )
    return SubscriptionPublic.model_validate(sub)


# ------------------------------------------------------------------ webhooks


@router.get(ACCOUNT + "/webhooks", summary="Webhook endpoints (smart-account admins)")
def list_webhooks(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> list[WebhookPublic]:
    endpoints = services.webhooks.list_endpoints(domain, scope=principal)
    return [WebhookPublic.model_validate(e) for e in endpoints]


@router.post(
    ACCOUNT + "/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook; the answer carries its signing secret, shown only once",
)
def create_webhook(
    domain: str, body: WebhookCreate, services: ServicesDep, principal: PrincipalDep
) -> WebhookPublic:
    ep = services.webhooks.create_endpoint(domain, body.url, body.events, scope=principal)
    return WebhookPublic.model_validate(ep)


@router.delete(
    ACCOUNT + "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a webhook and its delivery log",
)
def delete_webhook(
    domain: str, webhook_id: str, services: ServicesDep, principal: PrincipalDep
) -> None:
    services.webhooks.delete_endpoint(domain, webhook_id, scope=principal)


@router.get(ACCOUNT + "/webhook-deliveries", summary="The delivery log, newest first")
def list_deliveries(
    domain: str, services: ServicesDep, principal: PrincipalDep, limit: Limit = 100
) -> list[DeliveryPublic]:
    deliveries = services.webhooks.list_deliveries(domain, limit=limit, scope=principal)
    return [DeliveryPublic.model_validate(d) for d in deliveries]


@router.get(ACCOUNT + "/webhook-deliveries/{delivery_id}", summary="One delivery and its log")
def read_delivery(
    domain: str, delivery_id: int, services: ServicesDep, principal: PrincipalDep
) -> DeliveryPublic:
    d = services.webhooks.get_delivery(domain, delivery_id, scope=principal)
    return DeliveryPublic.model_validate(d)


@router.post(
    ACCOUNT + "/webhook-deliveries/{delivery_id}/actions/replay",
    status_code=status.HTTP_201_CREATED,
    summary="Send a delivery's payload again (a new delivery)",
)
def replay_delivery(
    domain: str, delivery_id: int, services: ServicesDep, principal: PrincipalDep
) -> DeliveryPublic:
    d = services.webhooks.replay(domain, delivery_id, scope=principal)
    return DeliveryPublic.model_validate(d)


# ------------------------------------------------------------------ usage trends


@router.get(ACCOUNT + "/usage-trends", summary="Daily in use against purchased")
def usage_trends(
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    virtual_account: Annotated[str | None, Query(max_length=200)] = None,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> list[TrendPointPublic]:
    points = services.trends.series(domain, virtual_account, days=days, scope=principal)
    return [TrendPointPublic.model_validate(p) for p in points]


@router.get(
    ACCOUNT + "/usage-trends/csv",
    summary="Usage trends as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def usage_trends_csv(
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    virtual_account: Annotated[str | None, Query(max_length=200)] = None,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> Response:
    points = services.trends.series(domain, virtual_account, days=days, scope=principal)
    return Response(
        trend_csv(points),
        media_type="text/csv; charset=utf-8",
    )
