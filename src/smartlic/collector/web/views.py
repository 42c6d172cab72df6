"""The collector's page (the CSLU screen): log in with the REST API token, the product instance
table with its alerts, Preferences, Add Single Product, Download All for Cisco, Upload from
Cisco and authorization codes. Every action calls the collector's services, as the REST API
and the CLI do; the page holds no logic of its own beyond reading its forms."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from smartlic.collector.api.deps import ServicesDep, check_token_hash, get_services
from smartlic.collector.api.rest import PullDeviceCreate
from smartlic.collector.services import CollectorServices
from smartlic.collector.web.render import (
    PAGE,
    LoginRequired,
    PageRoute,
    flash,
    redirect,
    render,
)
from smartlic.crypto import Udi, hash_secret
from smartlic.errors import AuthenticationFailed, InvalidInput, SmartlicError
from smartlic.formats.archive import tar_gz
from smartlic.formats.disposition import attachment_header
from smartlic.web.sessions import checked_form

__all__ = ["router"]

# what a field is called on the page, for messages naming it
LABELS = {
    "authority_url": "CSSM URL",
    "api_key": "API key",
    "smart_account": "Smart Account",
    "virtual_account": "Virtual Account",
    "pid": "Product ID (PID)",
    "sn": "Serial Number (SN)",
    "address": "Address",
    "username": "Username",
    "password": "Password",
}


TEXT_PREFERENCES = ("authority_url", "smart_account", "virtual_account")


def _error_page(request: Request, status: int, message: str) -> Response:
    """A refusal: the page (or, without a session, the login form) with ``message``."""
    if getattr(request.state, "logged_in", False):
        return home_page(request, get_services(request), status, error=message)
    return render(request, "login.html", status, error=message)


class CollectorRoute(PageRoute):
    error_page = staticmethod(_error_page)


router = APIRouter(prefix=PAGE, route_class=CollectorRoute, include_in_schema=False)
root = APIRouter(include_in_schema=False)


@root.get("/")
def to_the_page() -> Response:
    """The REST port's address leads a person to the page (its login form when signed out)."""
    return redirect(PAGE + "/")


# ---------------------------------------------------------------- session


def logged_in(request: Request, services: ServicesDep) -> None:
    """The session holds the SHA-256 of the token it logged in with; a new REST API token
    (``smartlic collector rest-token``) ends it."""
    given = request.session.get("token")
    if not isinstance(given, str):
        raise LoginRequired
    try:
        check_token_hash(services, given, "the session's token was replaced")
    except AuthenticationFailed:
        request.session.clear()
        raise LoginRequired from None
    request.state.logged_in = True


async def checked_post(request: Request, _: Annotated[None, Depends(logged_in)]) -> FormData:
    """A POSTed form of a logged-in session, with its CSRF token checked."""
    return await checked_form(request)


SessionDep = Depends(logged_in)
PostDep = Annotated[FormData, Depends(checked_post)]
LoginFormDep = Annotated[FormData, Depends(checked_form)]


@router.get("/login")
def login_form(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login")
def login(request: Request, services: ServicesDep, form: LoginFormDep) -> Response:
    given = hash_secret(_text(form, "token"))
    try:
        check_token_hash(services, given, "That is not the collector's REST API token.")
    except AuthenticationFailed as exc:
        return render(request, "login.html", 401, error=exc.detail)
    request.session.clear()  # a fresh session (and CSRF token)
    request.session["token"] = given
    return redirect(PAGE + "/")


@router.post("/logout")
def logout(request: Request, form: PostDep) -> Response:
    request.session.clear()
    return redirect(PAGE + "/login")


# ---------------------------------------------------------------- the page


def home_page(
    request: Request, services: CollectorServices, status: int = 200, **context: Any
) -> Response:
    prefs = services.status.prefs().public()
    context.setdefault("values", prefs)
    return render(
        request,
        "home.html",
        status,
        prefs=prefs,
        devices=services.status.devices(alerts=1),
        totals=services.status.totals(),
        requests=services.status.requests(),
        virtual_accounts=services.transfer.virtual_accounts(),
        ports=request.app.state.ports,
        logged_in=True,
        **context,
    )


@router.get("/", dependencies=[SessionDep])
def home(request: Request, services: ServicesDep) -> Response:
    return home_page(request, services)


@router.post("/preferences")
def preferences(request: Request, services: ServicesDep, form: PostDep) -> Response:
    try:
        services.status.change_preferences(_preference_changes(form))
    except InvalidInput as exc:
        values: dict[str, Any] = {k: _text(form, k) for k in TEXT_PREFERENCES}
        values |= {k: form.get(k) == "on" for k in ("connectivity", "validate_device")}
        message = f"Preferences not saved: {_named(exc)}"
        return home_page(request, services, exc.status, error=message, values=values)
    flash(request, "ok", "Preferences saved.")
    return redirect(PAGE + "/#preferences")


def _preference_changes(form: FormData) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "connectivity": form.get("connectivity") == "on",
        "validate_device": form.get("validate_device") == "on",
        "authority_url": _text(form, "authority_url") or None,
        "smart_account": _required(form, "smart_account"),
        "virtual_account": _required(form, "virtual_account"),
    }
    if key := _text(form, "api_key"):  # blank: keep the key the collector has
        changes["api_key"] = key
    return changes


@router.post("/devices")
def add_device(request: Request, services: ServicesDep, form: PostDep) -> Response:
    names = ("pid", "sn", "address", "username", "password")
    try:
        body = PullDeviceCreate.model_validate({n: _text(form, n) or None for n in names})
    except ValidationError as exc:
        raise InvalidInput(_validation_message(exc)) from None
    device = services.puller.add_device(
        Udi(body.pid, body.sn), body.address, body.username, body.password
    )
    how = f"collected from {device.address}" if device.mode == "pull" else "known"
    flash(request, "ok", f"Added {device.name} ({how}).")
    return redirect(PAGE + "/")


@router.post("/actions/sync")
def sync(request: Request, services: ServicesDep, form: PostDep) -> Response:
    done = asdict(services.forwarder.sync())
    flash(request, "ok", "Synchronised with CSSM: " + _summary(done))
    return redirect(PAGE + "/")


@router.post("/actions/pull")
def pull(request: Request, services: ServicesDep, form: PostDep) -> Response:
    done = asdict(services.puller.pull_all())
    flash(request, "ok", "Collected from the product instances: " + _summary(done))
    return redirect(PAGE + "/")


# ---------------------------------------------------------------- files


@router.post("/export")
def download_all(request: Request, services: ServicesDep, form: PostDep) -> Response:
    """Download All for Cisco: the usage file of every report not yet acknowledged."""
    result = services.transfer.export(_text(form, "virtual_account") or None)
    if result.reports == 0:
        note = "Nothing to download: no usage report is waiting for CSSM."
        return home_page(request, services, notice=note)
    return _file(result.name, result.content, "application/gzip")


@router.post("/import")
def upload_from_cisco(request: Request, services: ServicesDep, form: PostDep) -> Response:
    """Upload from Cisco: an ACK archive or file, or authorization code files."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("Upload from Cisco: choose the file CSSM gave you first.")
    try:
        done = services.transfer.import_acks(upload.file.read(), upload.filename)
    except SmartlicError as exc:
        message = f"Upload from Cisco refused, nothing changed: {exc.detail}"
        return home_page(request, services, exc.status, error=message)
    text = f"{upload.filename}: {done.new_files} new of {done.files} files, "
    flash(request, "ok", text + f"{done.acknowledged} reports acknowledged.")
    return redirect(PAGE + "/")


@router.post("/requests")
def authorization_requests(request: Request, services: ServicesDep, form: PostDep) -> Response:
    """The authorization requests waiting for a code, for CSSM: one request file as it is
    (CSSM takes one at a time), several in a ``.tar.gz``."""
    files = services.transfer.export_requests()
    if not files:
        note = "No authorization request is waiting for a code."
        return home_page(request, services, notice=note)
    if len(files) == 1:
        return _file(files[0][0], files[0][1], "application/xml")
    stamp = int(services.status.now().timestamp())
    return _file(f"AUTH_REQUESTS_{stamp}.tar.gz", tar_gz(files), "application/gzip")


# ---------------------------------------------------------------- helpers


def _file(name: str, content: bytes, media_type: str) -> Response:
    headers = {"Content-Disposition": attachment_header(name)}
    return Response(content, media_type=media_type, headers=headers)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _required(form: FormData, name: str) -> str:
    if not (value := _text(form, name)):
        raise InvalidInput(f"preference {name}: required", pointer=f"/{name}")
    return value


def _named(exc: InvalidInput) -> str:
    """``preference authority_url: ...`` as the page names the field: ``CSSM URL: ...``."""
    name = (exc.pointer or "").lstrip("/")
    if name in LABELS and ":" in exc.detail:
        return f"{LABELS[name]}:{exc.detail.split(':', 1)[1]}"
    return exc.detail


def _validation_message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{LABELS.get(name, name or 'Add Single Product')}: {message}"


def _summary(done: dict[str, Any]) -> str:
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in done.items() if isinstance(v, int)]
    errors = [str(e) for e in done.get("errors", [])]
    return ", ".join(parts) + (f". Errors: {'; '.join(errors)}" if errors else ".")
