"""Jobs, the report archive, notification settings, webhooks and usage trends (issue 12).

A virtual-account key sees its virtual account's reports, deliveries and trends only;
account-wide settings (subscriptions, webhooks, schedules) need a smart-account admin key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from smartlic.authority.api.deps import (
    PrincipalDep,
    ServicesDep,
    can_read_account,
    can_read_va,
    can_write_account,
    require_admin,
)
from smartlic.authority.api.routes._common import ACCOUNT, API_PREFIX, COMMON_PROBLEMS
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
from smartlic.authority.services.interfaces import Principal
from smartlic.authority.services.reports import ReportOut
from smartlic.authority.services.trends import trend_csv
from smartlic.domain.reports import ReportKind
from smartlic.errors import NotFound

router = APIRouter(tags=["reports and notifications"], responses=COMMON_PROBLEMS)

Limit = Annotated[int, Query(ge=1, le=1000)]


def _read(principal: Principal, domain: str, va: str | None) -> str | None:
    """Check read access; the virtual account a VA-scoped key is limited to (else ``va``)."""
    if va is not None:
        can_read_va(principal, domain, va)
        return va
    can_read_account(principal, domain)
    return principal.virtual_account


def _visible(principal: Principal, report: ReportOut) -> ReportOut:
    scoped = principal.virtual_account
    if scoped is not None and report.virtual_account != scoped:
        raise NotFound(f"no report {report.id!r} in {report.smart_account!r}")
    return report


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
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ReportsPublic:
    va = _read(principal, domain, virtual_account)
    items, total = services.reports.list_reports(
        domain, kind=kind, virtual_account=va, limit=limit, offset=offset
    )
    return ReportsPublic(items=[ReportPublic.model_validate(r) for r in items], total=total)


@router.post(
    ACCOUNT + "/reports", status_code=status.HTTP_201_CREATED, summary="Generate a report now"
)
def generate_report(
    domain: str, body: ReportCreate, services: ServicesDep, principal: PrincipalDep
) -> ReportPublic:
    va = _read(principal, domain, body.virtual_account)
    r = services.reports.generate(
        domain, kind=body.kind, actor=principal.label(), virtual_account=va
    )
    return ReportPublic.model_validate(r)


@router.get(ACCOUNT + "/reports/{report_id}", summary="One archived report with its lines")
def read_report(
    domain: str, report_id: str, services: ServicesDep, principal: PrincipalDep
) -> ReportPublic:
    can_read_account(principal, domain)
    return ReportPublic.model_validate(
        _visible(principal, services.reports.get_report(domain, report_id))
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
    can_read_account(principal, domain)
    r = _visible(principal, services.reports.get_report(domain, report_id))
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
    can_read_account(principal, domain)
    r = _visible(principal, services.reports.get_report(domain, report_id))
    return Response(
        services.reports.pdf_bytes(r),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="report-{r.id}.pdf"'},
    )


@router.get(ACCOUNT + "/report-schedules", summary="Periodic Record schedules")
def list_schedules(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> list[SchedulePublic]:
    can_read_account(principal, domain)
    return [SchedulePublic.model_validate(x) for x in services.reports.list_schedules(domain)]


@router.post(
    ACCOUNT + "/report-schedules",
    status_code=status.HTTP_201_CREATED,
    summary="Add a Periodic Record schedule (smart-account admins)",
)
def add_schedule(
    domain: str, body: ScheduleCreate, services: ServicesDep, principal: PrincipalDep
) -> SchedulePublic:
    can_write_account(principal, domain)
    sch = services.reports.add_schedule(
        domain,
        body.frequency,
        body.time_of_day,
        actor=principal.label(),
        virtual_account=body.virtual_account,
    )
    return SchedulePublic.model_validate(sch)


# ------------------------------------------------------------------ notifications


@router.get(ACCOUNT + "/notifications", summary="Users' e-mail notification settings")
def list_subscriptions(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> list[SubscriptionPublic]:
    can_write_account(principal, domain)
    subs = services.notifications.list_subscriptions(domain)
    return [SubscriptionPublic.model_validate(x) for x in subs]


@router.post(
    ACCOUNT + "/notifications",
    status_code=status.HTTP_201_CREATED,
    summary="Mail a user about an event (smart-account admins)",
)
def subscribe(
    domain: str, body: SubscriptionCreate, services: ServicesDep, principal: PrincipalDep
) -> SubscriptionPublic:
    can_write_account(principal, domain)
    sub = services.notifications.subscribe(
        domain, body.user, body.event, digest=body.digest, actor=principal.label()
    )
    return SubscriptionPublic.model_validate(sub)


# ------------------------------------------------------------------ webhooks


@router.get(ACCOUNT + "/webhooks", summary="Webhook endpoints (smart-account admins)")
def list_webhooks(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> list[WebhookPublic]:
    can_write_account(principal, domain)
    return [WebhookPublic.model_validate(e) for e in services.webhooks.list_endpoints(domain)]


@router.post(
    ACCOUNT + "/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook; the answer carries its signing secret, shown only once",
)
def create_webhook(
    domain: str, body: WebhookCreate, services: ServicesDep, principal: PrincipalDep
) -> WebhookPublic:
    can_write_account(principal, domain)
    ep = services.webhooks.create_endpoint(domain, body.url, body.events, actor=principal.label())
    return WebhookPublic.model_validate(ep)


@router.delete(
    ACCOUNT + "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a webhook and its delivery log",
)
def delete_webhook(
    domain: str, webhook_id: str, services: ServicesDep, principal: PrincipalDep
) -> None:
    can_write_account(principal, domain)
    services.webhooks.delete_endpoint(domain, webhook_id, actor=principal.label())


@router.get(ACCOUNT + "/webhook-deliveries", summary="The delivery log, newest first")
def list_deliveries(
    domain: str, services: ServicesDep, principal: PrincipalDep, limit: Limit = 100
) -> list[DeliveryPublic]:
    can_write_account(principal, domain)
    return [
        DeliveryPublic.model_validate(d)
        for d in services.webhooks.list_deliveries(domain, limit=limit)
    ]


@router.get(ACCOUNT + "/webhook-deliveries/{delivery_id}", summary="One delivery and its log")
def read_delivery(
    domain: str, delivery_id: int, services: ServicesDep, principal: PrincipalDep
) -> DeliveryPublic:
    can_write_account(principal, domain)
    return DeliveryPublic.model_validate(services.webhooks.get_delivery(domain, delivery_id))


@router.post(
    ACCOUNT + "/webhook-deliveries/{delivery_id}/actions/replay",
    status_code=status.HTTP_201_CREATED,
    summary="Send a delivery's payload again (a new delivery)",
)
def replay_delivery(
    domain: str, delivery_id: int, services: ServicesDep, principal: PrincipalDep
) -> DeliveryPublic:
    can_write_account(principal, domain)
    d = services.webhooks.replay(domain, delivery_id, actor=principal.label())
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
    va = _read(principal, domain, virtual_account)
    points = services.trends.series(domain, va, days=days)
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
    va = _read(principal, domain, virtual_account)
    return Response(
        trend_csv(services.trends.series(domain, va, days=days)),
        media_type="text/csv; charset=utf-8",
    )
