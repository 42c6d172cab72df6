"""The *Users* page of a smart account: its users and their roles, for the account's
administrators (smart-account or authority admins; others get 403, as the API's account
management does). A user is created with a role, given another role, disabled or enabled, or
removed from the account (every role in it taken away, after a confirmation).

The rules are ``services/account_users.py``'s (which asks ``services/scope.py``): no one changes
their own roles, and disabling a user who also holds roles in other accounts needs the right to
manage those accounts too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.account_users import ACCOUNT_ROLES
from smartlic.authority.services.users import GrantOut, UserPrincipal
from smartlic.authority.web.auth import FormDep, UserDep, write_account
from smartlic.authority.web.lists import listing
from smartlic.authority.web.manage import confirm_page, explain, field, form_values
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect, segment
from smartlic.authority.web.views import ACCOUNT, account_context
from smartlic.domain.enums import Role
from smartlic.errors import Conflict, Forbidden, InvalidInput, NotFound

__all__ = ["ROLE_NAMES", "role_label", "router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
USERS = ACCOUNT + "/users"
USER = USERS + "/{username}"
REFUSED = (InvalidInput, NotFound, Conflict, Forbidden)
LABELS = {
    "username": "Username",
    "password": "Password",
    "email": "E-mail",
    "role": "Role",
    "virtual_account": "Virtual account",
}
ROLE_NAMES = {
    Role.ADMIN: "Authority Administrator",
    Role.SMART_ACCOUNT_ADMIN: "Smart Account Administrator",
    Role.SMART_ACCOUNT_USER: "Smart Account User (read-only)",
    Role.VIRTUAL_ACCOUNT_ADMIN: "Virtual Account Administrator",
    Role.VIRTUAL_ACCOUNT_USER: "Virtual Account User (read-only)",
}


def role_label(g: GrantOut) -> str:
    where = f" of {g.virtual_account}" if g.virtual_account else ""
    return ROLE_NAMES[g.role] + where


_COLUMNS: dict[str, Any] = {
    "user": lambda m: m.user.username,
    "name": lambda m: m.user.display_name,
    "email": lambda m: m.user.email,
}


def users_url(domain: str, *parts: str) -> str:
    return "/".join([f"{PORTAL}/accounts/{domain}/users", *map(segment, parts)])


@router.get(USERS)
def users(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    return _users_page(request, services, user, domain)


def _users_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    *,
    error: str | None = None,
    status: int = 200,
    **values: Any,
) -> Response:
    ctx = account_context(services, user, domain, "users", manage=True)
    lst = listing(request.query_params, tuple(_COLUMNS), default="user")
    members = lst.apply(
        services.account_users.list_members(domain, scope=user),
        _COLUMNS,
        text=lambda m: f"{m.user.username} {m.user.display_name} {m.user.email}",
    )
    return page(
        request,
        "users.html",
        status,
        members=members,
        listing=lst,
        roles=[(r.value, ROLE_NAMES[r]) for r in ACCOUNT_ROLES],
        role_label=role_label,
        error=error,
        values=values,
        **ctx,
    )


def _role(form: FormData) -> tuple[str, str | None]:
    role = field(form, "role", "Role", max_length=50)
    va = field(form, "virtual_account", "Virtual account", required=False)
    return role, (va if role.startswith("virtual-account") else None)


@router.post(USERS)
def create_user(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_account(user, domain)
    values = form_values(form, "username", "display_name", "email", "role", "virtual_account")
    try:
        role, va = _role(form)
        password = form.get("password")
        created = services.account_users.create(
            domain,
            username=field(form, "username", "Username", max_length=100),
            password=password if isinstance(password, str) else "",
            role=role,
            virtual_account=va,
            display_name=field(form, "display_name", "Display name", required=False),
            email=field(form, "email", "E-mail", max_length=320, required=False),
            scope=user,
        )
    except REFUSED as exc:
        return _users_page(request, services, user, domain, error=explain(exc, **LABELS),
                           status=exc.status, create=values)  # fmt: skip
    flash(request, "ok", f"User {created.user.username} created.")
    return redirect(users_url(domain))


@router.post(USER + "/role")
def change_role(
    request: Request, domain: str, username: str, services: ServicesDep, user: UserDep,
    form: FormDep,
) -> Response:  # fmt: skip
    write_account(user, domain)
    try:
        role, va = _role(form)
        member = services.account_users.set_role(domain, username, role, va, scope=user)
    except REFUSED as exc:
        return _users_page(
            request, services, user, domain, error=explain(exc, **LABELS), status=exc.status
        )
    roles = ", ".join(role_label(g) for g in member.grants)
    flash(request, "ok", f"{username} is now {roles} in {domain}.")
    return redirect(users_url(domain))


@router.post(USER + "/disable")
def disable_user(
    request: Request, domain: str, username: str, services: ServicesDep, user: UserDep,
    form: FormDep,
) -> Response:  # fmt: skip
    return _set_disabled(request, services, user, domain, username, form.get("enable") != "yes")


def _set_disabled(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    username: str,
    disabled: bool,
) -> Response:
    write_account(user, domain)
    try:
        services.account_users.set_disabled(domain, username, disabled, scope=user)
    except REFUSED as exc:
        return _users_page(
            request, services, user, domain, error=explain(exc, **LABELS), status=exc.status
        )
    done = "disabled: every session of the user has ended" if disabled else "enabled again"
    flash(request, "ok", f"User {username} {done}.")
    return redirect(users_url(domain))


@router.get(USER + "/remove")
def remove_confirmation(
    request: Request, domain: str, username: str, services: ServicesDep, user: UserDep
) -> Response:
    write_account(user, domain)
    member = services.account_users.get_member(domain, username, scope=user)
    roles = ", ".join(role_label(g) for g in member.grants)
    return confirm_page(
        request,
        user,
        title=f"Remove {username} from {domain}?",
        lines=[f"{username} loses every role in this smart account ({roles}).",
               "The user keeps its roles in other smart accounts, if any."],
        action=users_url(domain, username, "remove"),
        button="Remove from account",
        cancel=users_url(domain),
    )  # fmt: skip


@router.post(USER + "/remove")
def remove_user(
    request: Request, domain: str, username: str, services: ServicesDep, user: UserDep,
    form: FormDep,
) -> Response:  # fmt: skip
    write_account(user, domain)
    try:
        services.account_users.remove(domain, username, scope=user)
    except REFUSED as exc:
        return _users_page(
            request, services, user, domain, error=explain(exc, **LABELS), status=exc.status
        )
    flash(request, "ok", f"{username} no longer has a role in {domain}.")
    return redirect(users_url(domain))
