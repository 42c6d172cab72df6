"""Portal pages of issue 12: the report archive (view, CSV, PDF, generate), usage trend
charts (SVG drawn on the server: no script, works air-gapped) and the logged-in user's own
e-mail notification settings.

A user whose grants name single virtual accounts sees only those virtual accounts' reports
and trends, and may generate reports only for them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.notifications import NoticeEvent
from smartlic.authority.services.reports import ReportOut
from smartlic.authority.services.scope import scope_in
from smartlic.authority.services.trends import TrendPoint, svg_chart
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import FormDep, UserDep, read_account
from smartlic.authority.web.lists import listing
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect
from smartlic.authority.web.views import ACCOUNT, account_context
from smartlic.domain.reports import ReportKind
from smartlic.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
ARCHIVE_PAGE = 200


def _whole_account(user: UserPrincipal, domain: str) -> bool:
    return scope_in(user, domain).sees_all


def _report(services: Services, user: UserPrincipal, domain: str, report_id: str) -> ReportOut:
    return services.reports.get_report(domain, report_id, scope=user)


@router.get(ACCOUNT + "/report-archive")
def archive(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    ctx = account_context(services, user, domain, "archive")
    items, total = services.reports.list_reports(domain, limit=ARCHIVE_PAGE, scope=user)
    lst = listing(request.query_params, tuple(_ARCHIVE), default="generated", descending=True)
    items = lst.apply(
        items, _ARCHIVE, text=lambda r: f"{r.kind.value} {r.virtual_account or ''} {r.generated_by}"
    )
    return page(request, "report_archive.html", reports=items, total=total, kinds=list(ReportKind),
                whole=_whole_account(user, domain), listing=lst, **ctx)  # fmt: skip


_ARCHIVE: dict[str, Any] = {
    "generated": lambda r: r.generated_at,
    "kind": lambda r: r.kind.value,
    "va": lambda r: r.virtual_account or "",
    "shortfalls": lambda r: r.shortfalls,
    "by": lambda r: r.generated_by,
}


@router.post(ACCOUNT + "/report-archive")
def generate(domain: str, services: ServicesDep, user: UserDep, form: FormDep) -> Response:
    va = str(form.get("virtual_account") or "") or None
    kind = str(form.get("kind") or "manual")
    if kind not in set(ReportKind):
        raise InvalidInput(f"kind: one of {', '.join(ReportKind)}", pointer="/kind")
    r = services.reports.generate(domain, kind=ReportKind(kind), scope=user, virtual_account=va)
    return redirect(f"{PORTAL}/accounts/{domain}/report-archive/{r.id}")


@router.get(ACCOUNT + "/report-archive/{report_id}")
def view_report(
    request: Request, domain: str, report_id: str, services: ServicesDep, user: UserDep
) -> Response:
    ctx = account_context(services, user, domain, "archive")
    return page(request, "report_view.html", report=_report(services, user, domain, report_id),
                **ctx)  # fmt: skip


@router.get(ACCOUNT + "/report-archive/{report_id}/report.csv")
def report_csv(domain: str, report_id: str, services: ServicesDep, user: UserDep) -> Response:
    r = _report(services, user, domain, report_id)
    return Response(
        services.reports.csv_text(r),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{r.id}.csv"'},
    )


@router.get(ACCOUNT + "/report-archive/{report_id}/report.pdf")
def report_pdf(domain: str, report_id: str, services: ServicesDep, user: UserDep) -> Response:
    r = _report(services, user, domain, report_id)
    return Response(
        services.reports.pdf_bytes(r),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="report-{r.id}.pdf"'},
    )


@router.get(ACCOUNT + "/trends")
def trends(
    request: Request, domain: str, services: ServicesDep, user: UserDep, days: int = 30
) -> Response:
    ctx = account_context(services, user, domain, "trends")
    days = min(max(days, 1), 366)
    charts = []
    for va in ctx["vas"]:
        series: dict[str, list[TrendPoint]] = {}
        for p in services.trends.series(domain, va.name, days=days, scope=user):
            series.setdefault(p.license, []).append(p)
        for name, points in series.items():
            # svg_chart escapes every text it writes; the markup is ours
            charts.append((va.name, name, Markup(svg_chart(points, title=f"{va.name}: {name}"))))
    return page(request, "trends.html", charts=charts, days=days, **ctx)


@router.get(ACCOUNT + "/notifications")
def notifications(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    ctx = account_context(services, user, domain, "notifications")
    mine = {
        s.event: s for s in services.notifications.list_subscriptions(domain, user.name, scope=user)
    }
    email = services.users.get_user(user.name).email
    return page(request, "notifications.html", events=list(NoticeEvent), mine=mine, email=email,
                **ctx)  # fmt: skip


@router.post(ACCOUNT + "/notifications")
def save_notifications(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    """Each event: ``off``, ``immediate`` or ``digest`` (the user's own settings only)."""
    read_account(user, domain)
    subs = services.notifications.list_subscriptions(domain, user.name, scope=user)
    current = {s.event for s in subs}
    for event in NoticeEvent:
        how = str(form.get(f"event-{event.value}") or "off")
        if how in ("immediate", "digest"):
            services.notifications.subscribe(
                domain, user.name, event, digest=how == "digest", scope=user
            )
        elif event in current:
            services.notifications.unsubscribe(domain, user.name, event, scope=user)
    flash(request, "ok", "Notification settings saved.")
    return redirect(f"{PORTAL}/accounts/{domain}/notifications")
