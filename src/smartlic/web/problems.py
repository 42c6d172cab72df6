"""The one problem+json builder (RFC 9457) and the exception handlers that use it.

Every error the authority's HTTP API answers has this body, media type
``application/problem+json``::

    {"type": "urn:smartlic:problem:<code>", "title": "...", "status": 422,
     "detail": "...", "code": "<stable code>", "pointer": "/quantity", "request_id": "..."}

``pointer`` (RFC 6901, into the request body) is present when one field is at fault. Callers may
add keys (``parameter`` names a bad query/path/header parameter) but never remove these.

On the vendor device API (the authority's ``/services/api/smart-accounts-and-licensing/...``,
a collector's ``/cslu/v1/pi/...``) the same error is answered in the vendor's shape,
``application/json`` ``{"status": "FAILED", "message_code": <code>, "message": <detail>, ...}``
(``formats.device_api.failed``), with the same HTTP status.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartlic.errors import SmartlicError
from smartlic.formats.device_api import failed, is_vendor_path

__all__ = ["PROBLEM_MEDIA_TYPE", "install_problem_handlers", "problem", "problem_response"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"
log = logging.getLogger("smartlic.authority.api")

_HTTP_CODES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    pointer: str | None = None,
    parameter: str | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem+json body; the only place its shape is decided."""
    body: dict[str, Any] = {
        "type": f"urn:smartlic:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if pointer is not None:
        body["pointer"] = pointer
    if parameter is not None:
        body["parameter"] = parameter
    if request_id is not None:
        body["request_id"] = request_id
    body.update(extra)
    return body


def request_id_of(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def problem_response(
    request: Request, headers: dict[str, str] | None = None, **fields: Any
) -> JSONResponse:
    """A problem+json response for ``request``, carrying its request id."""
    rid = request_id_of(request)
    body = problem(request_id=rid, **fields)
    all_headers = dict(headers or {})
    if rid is not None:
        all_headers[REQUEST_ID_HEADER] = rid
    status = body["status"]
    if is_vendor_path(request.url.path):  # the vendor device API answers its own shape
        return JSONResponse(failed(body), status_code=status, headers=all_headers)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )


def _smartlic_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SmartlicError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(
        request,
        headers,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        pointer=exc.pointer,
    )


def _location(loc: Sequence[int | str]) -> tuple[str | None, str | None]:
    """A pydantic error location as (body JSON pointer, name of a query/path/header parameter)."""
    where, *rest = loc if loc else ("body",)
    if where == "body":
        parts = [str(p).replace("~", "~0").replace("/", "~1") for p in rest]
        return "/" + "/".join(parts), None
    return None, ".".join(str(p) for p in rest)


def _first_error_detail(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ())[1:])
    message = str(error.get("msg", "invalid value"))
    return f"{loc}: {message}" if loc else message


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(
            request,
            status=400,
            code="malformed-json",
            title="Malformed JSON",
            detail="the request body is not valid JSON",
        )
    first = errors[0] if errors else {}
    pointer, parameter = _location(tuple(first.get("loc", ())))
    return problem_response(
        request,
        status=422,
        code="invalid-input",
        title="Invalid input",
        detail=_first_error_detail(first),
        pointer=pointer,
        parameter=parameter,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    headers = dict(exc.headers or {})
    return problem_response(
        request, headers, status=exc.status_code, code=code, title=title, detail=detail
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Log the traceback for the operator; the client learns only the request id.
    log.error("unhandled error (request %s)", request_id_of(request), exc_info=exc)
    return problem_response(
        request,
        status=500,
        code="internal",
        title="Internal error",
        detail="the authority failed to process the request; quote the request_id when "
        "reporting it",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error the API can raise through ``problem``."""
    app.add_exception_handler(SmartlicError, _smartlic_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
