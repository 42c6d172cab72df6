"""What the portal's management pages share: form fields read with the names the user sees,
the confirmation step of every destructive action, and the template helpers that ask
``services/scope.py`` whether the logged-in user may change something (so a read-only user's
page is drawn without the form, never with one that is then refused).

Usage::

    name = field(form, "name", "Name", max_length=200)
    count = whole_number(form, "count", "Count", low=1, high=MAX_QUANTITY)
    return confirm_page(request, user, title="Delete Lab?", action=url, button="Delete", ...)
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.datastructures import FormData

from smartlic.authority.services.scope import Principal, scope_in
from smartlic.authority.web.render import page, templates
from smartlic.errors import Forbidden, InvalidInput, SmartlicError
from smartlic.formats.bounds import decimal

__all__ = [
    "confirm_page",
    "explain",
    "field",
    "form_values",
    "may_manage",
    "may_write",
    "whole_number",
]


def may_write(user: Principal | None, domain: str, va: str) -> bool:
    """Whether ``user`` may change virtual account ``va`` (the template's question)."""
    try:
        return user is not None and scope_in(user, domain).can_write(va)
    except Forbidden:
        return False


def may_manage(user: Principal | None, domain: str) -> bool:
    """Whether ``user`` may change the smart account itself (virtual accounts, users, keys)."""
    try:
        return user is not None and scope_in(user, domain).manages
    except Forbidden:
        return False


templates.env.globals.update(may_write=may_write, may_manage=may_manage)


def field(
    form: FormData, name: str, label: str, *, max_length: int = 200, required: bool = True
) -> str:
    """The trimmed text of ``name``; errors name the field by its ``label``."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput(f"{label}: required", pointer=f"/{name}")
    if len(text) > max_length:
        raise InvalidInput(f"{label}: at most {max_length} characters", pointer=f"/{name}")
    return text


def whole_number(form: FormData, name: str, label: str, *, low: int, high: int) -> int:
    text = field(form, name, label, max_length=12)
    number = decimal(text)
    if number is None or not low <= number <= high:
        raise InvalidInput(f"{label}: a whole number from {low} to {high}", pointer=f"/{name}")
    return number


def explain(exc: SmartlicError, **labels: str) -> str:
    """A refusal as the form's user reads it: a service names the field it refuses as the API
    does (``email: not an e-mail address``); the page names it by its label (``E-mail: ...``)."""
    detail = exc.detail
    name = (exc.pointer or "").removeprefix("/")
    for raw in (name, name.replace("_", " ")):
        if name in labels and raw and detail.lower().startswith(raw.lower()):
            detail = labels[name] + detail[len(raw) :]
            break
    return detail[:1].upper() + detail[1:]


def form_values(form: FormData, *names: str) -> dict[str, str]:
    """What the user typed, to fill the form again when it is refused (never a password)."""
    return {n: v[:1000] for n in names if isinstance(v := form.get(n), str)}


def confirm_page(
    request: Request,
    user: Principal,
    *,
    title: str,
    action: str,
    button: str,
    cancel: str,
    lines: list[str] | None = None,
    hidden: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """The second step of a destructive action: what it does, one button, and Cancel."""
    return page(
        request,
        "confirm.html",
        user=user,
        title=title,
        action=action,
        button=button,
        cancel=cancel,
        lines=lines or [],
        hidden=hidden or {},
        **context,
    )
