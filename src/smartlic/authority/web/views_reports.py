"""Account-wide portal pages: Event Log, Usage Data Files (upload, ACK download), Policies and
Reports (CSV downloads of licenses and product instances per virtual account).

A user whose grants name single virtual accounts sees only those virtual accounts' rows: the
services filter them (``services/scope.py``), exactly as for an API key.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData, UploadFile

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.api.deps_usage import attachment
from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import EventFilter, EventOut, Page
from smartlic.authority.services.scope import scope_in
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import (
    FormDep,
    UserDep,
    close_files,
    read_va,
    write_va,
)
from smartlic.authority.web.lists import listing
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect, when
from smartlic.authority.web.views import (
    ACCOUNT,
    VA,
    account_context,
    instance_name,
    product_type,
)
from smartlic.domain.event_text import CATEGORIES, category_prefixes, describe, details
from smartlic.errors import InvalidInput
from smartlic.formats.disposition import attachment_header

__all__ = ["event_row", "router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
EVENTS_PAGE = 100
FILES_PAGE = 200
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------- event log


@router.get(ACCOUNT + "/events")
def events(
    request: Request,
    domain: str,
    services: ServicesDep,
    user: UserDep,
    type: str = "",
    virtual_account: str = "",
    since: str = "",
    until: str = "",
    search: str = "",
    offset: int = 0,
) -> Response:
    ctx = account_context(services, user, domain, "events")
    filters = {
        "type": type,
        "virtual_account": virtual_account,
        "since": since,
        "until": until,
        "search": search[:100],
    }
    oldest_first = request.query_params.get("order") == "asc"
    try:
        where = EventFilter(
            name_prefixes=category_prefixes(type),
            virtual_account=virtual_account[:100] or None,
            since=_day(since, "From"),
            until=_day(until, "To", next_day=True),
            search=search[:100] or None,
            oldest_first=oldest_first,
        )
    except InvalidInput as exc:
        return _events_page(request, ctx, None, filters, error=exc.detail, status=422)
    found = services.events.list_events(
        domain, where=where, limit=EVENTS_PAGE, offset=max(offset, 0), scope=user
    )
    return _events_page(request, ctx, found, filters)


def _events_page(
    request: Request,
    ctx: dict[str, Any],
    found: Page[EventOut] | None,
    filters: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    rows = [event_row(e) for e in (found.items if found else [])]
    query = "".join(f"&{k}={quote(v)}" for k, v in filters.items() if v)
    oldest_first = request.query_params.get("order") == "asc"
    return page(
        request,
        "events.html",
        status,
        found=found,
        rows=rows,
        filters=filters,
        query=query,
        categories=list(CATEGORIES),
        oldest_first=oldest_first,
        paged=query + ("&order=asc" if oldest_first else ""),
        error=error,
        **ctx,
    )


def event_row(e: EventOut) -> dict[str, Any]:
    """One event as the portal shows it: the sentence and its labelled details."""
    sentence = describe(
        e.name,
        actor=e.actor,
        virtual_account=e.virtual_account,
        subject=e.subject,
        properties=e.properties,
    )
    return {"e": e, "sentence": sentence, "details": details(e.properties)}


def _day(text: str, label: str, *, next_day: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` date of the filter form as the start (or the end) of that UTC day."""
    if not text:
        return None
    try:
        day = datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{label}: a date as YYYY-MM-DD, not {text[:20]!r}") from None
    if not 2000 <= day.year <= 9998:
        raise InvalidInput(f"{label}: a date between the years 2000 and 9998")
    return day + timedelta(days=1) if next_day else day


# ---------------------------------------------------------------- usage data files


def _usage_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = account_context(services, user, domain, "usage")
    lst = listing(request.query_params, tuple(_FILE_COLUMNS), default="reported", descending=True)
    files = lst.apply(
        services.usage.list_usage_files(domain, limit=FILES_PAGE, scope=user).items,
        _FILE_COLUMNS,
        text=lambda f: f"{f.file_name} {f.virtual_account} {f.status}",
    )
    # a reader sees the files and their ACKs, and no upload form it could not use
    allowed = scope_in(user, domain)
    upload_to = [va for va in ctx["vas"] if allowed.can_write(va.name)]
    return page(
        request,
        "usage_files.html",
        status,
        files=files,
        error=error,
        upload_to=upload_to,
        listing=lst,
        **ctx,
    )


_FILE_COLUMNS: dict[str, Any] = {
    "name": lambda f: f.file_name,
    "reported": lambda f: f.reported_at,
    "va": lambda f: f.virtual_account,
    "status": lambda f: f.status,
    "devices": lambda f: f.instances,
}


@router.get(ACCOUNT + "/usage-files")
def usage_files(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    return _usage_page(request, services, user, domain)


def _file_of(form: FormData) -> tuple[str, bytes]:
    item = form.get("file")
    if not isinstance(item, UploadFile) or not item.filename:
        raise InvalidInput("choose a usage data file (or a .tar.gz archive) to upload")
    return item.filename, item.file.read()


@router.post(ACCOUNT + "/usage-files")
def upload_usage_file(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    va = form.get("virtual_account")
    try:
        if not isinstance(va, str) or not va:
            raise InvalidInput("choose the virtual account that receives the file")
        write_va(user, domain, va)  # before the file is read
        name, content = _file_of(form)
        out = services.usage.upload_usage_file(
            domain, va, file_name=name, content=content, scope=user
        )
    except InvalidInput as exc:
        return _usage_page(request, services, user, domain, error=exc.detail, status=422)
    finally:
        close_files(form)
    if out.duplicate:
        flash(
            request,
            "ok",
            f"This file was already uploaded on {when(out.reported_at)} as "
            f"{out.file_name}: nothing was processed again; download the same ACK below.",
        )
    else:
        kind = "ok" if out.status == "Processed" else "error"
        flash(request, kind, f"{out.file_name}: {out.status}, {out.instances} product instance(s).")
    return redirect(f"{PORTAL}/accounts/{domain}/usage-files")


@router.get(ACCOUNT + "/usage-files/{file_id}/ack")
def download_ack(domain: str, file_id: str, services: ServicesDep, user: UserDep) -> Response:
    name, data = services.usage.usage_file_ack(domain, file_id, scope=user)
    return attachment(name, data)


# ---------------------------------------------------------------- policies


@router.get(ACCOUNT + "/policies")
def policies(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    ctx = account_context(services, user, domain, "policies")
    installed = services.policies.list_policies(domain, scope=user)
    in_force = [
        (va.name, services.policies.policy_in_force(domain, va.name, scope=user))
        for va in ctx["vas"]
    ]
    return page(request, "policies.html", installed=installed, in_force=in_force, **ctx)


# ---------------------------------------------------------------- reports


@router.get(ACCOUNT + "/reports")
def reports(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    ctx = account_context(services, user, domain, "reports")
    return page(request, "reports.html", **ctx)


def _cell(value: object) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; hostnames come from devices.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return Response(
        out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment_header(name)},
    )  # fmt: skip


@router.get(VA + "/reports/licenses.csv")
def licenses_csv(domain: str, va: str, services: ServicesDep, user: UserDep) -> Response:
    view = services.licenses.compliance(domain, va, scope=user)
    header = ["License", "Tag", "Purchased", "In Use", "Reserved", "Available", "Status"]
    rows = [
        [ln.display_name, ln.tag, ln.purchased, ln.in_use, ln.reserved, ln.available,
         ln.status.value]
        for ln in view.lines
    ]  # fmt: skip
    return _csv(f"licenses-{domain}-{va}.csv", header, rows)


@router.get(VA + "/reports/instances.csv")
def instances_csv(domain: str, va: str, services: ServicesDep, user: UserDep) -> Response:
    read_va(user, domain, va)
    header = ["Name", "Hostname", "Product Type", "Virtual Account", "Last Contact", "Status",
              "Alerts", "Licenses"]  # fmt: skip
    rows = []
    offset, limit = 0, 1000
    while True:
        found = services.instances.list_instances(
            domain, va, limit=limit, offset=offset, scope=user
        )
        for i in found.items:
            used = "; ".join(f"{u.tag} x{u.count}" for u in i.usage)
            last = i.last_contact_at.isoformat() if i.last_contact_at else ""
            rows.append([instance_name(i), i.hostname, product_type(i), i.virtual_account, last,
                         i.status, "; ".join(i.alerts), used])  # fmt: skip
        offset += limit
        if offset >= (found.total or 0):  # an offset page always counts
            break
    return _csv(f"instances-{domain}-{va}.csv", header, rows)
