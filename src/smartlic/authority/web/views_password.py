"""The user's own password: ``/portal/password``.

The current password is asked for (a borrowed, unlocked browser cannot change it) and wrong
answers count against log-in throttling like wrong log-ins. A change ends every other session
of the user at once; the browser it was made from stays logged in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.web.auth import FormDep, UserDep, client_address, session_id
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect
from smartlic.errors import AuthenticationFailed, InvalidInput, TooManyAttempts

__all__ = ["router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.get("/password")
def password_form(request: Request, user: UserDep) -> Response:
    return page(request, "password.html", user=user)


@router.post("/password")
def change_password(
    request: Request, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    current, new = _field(form, "current_password"), _field(form, "new_password")
    address, throttle = client_address(request), services.login_throttle
    try:
        if new != _field(form, "confirm_password"):
            raise InvalidInput("the new password and its confirmation differ")
        throttle.check(user.name, address)
        services.users.change_password(user.name, current, new, keep_session=session_id(request))
    except TooManyAttempts as exc:
        answer = page(request, "password.html", 429, user=user, error=_sentence(exc.detail))
        answer.headers["Retry-After"] = str(exc.retry_after)
        return answer
    except AuthenticationFailed as exc:
        throttle.failed(user.name, address)
        return page(request, "password.html", 403, user=user, error=_sentence(exc.detail))
    except InvalidInput as exc:
        return page(request, "password.html", 422, user=user, error=_sentence(exc.detail))
    flash(request, "ok", "Your password was changed. Your other sessions were logged out.")
    return redirect(PORTAL + "/")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
