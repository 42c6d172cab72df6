"""Routing that costs less per request: a router that refuses a path at once when none of its
routes could match it, and a route whose endpoint's model answer is serialised once.

``GuardedRouter``: FastAPI finds a route by asking each included router in turn, and each
router asks each of its routes (a regular expression, path parameters and scope bookkeeping,
a few microseconds each); the router that matches is walked twice (once to choose it, once to
handle). With ~60 API routes before them, a device-protocol request spent ~0.3 ms finding its
route, and a path near the end of the list ~0.85 ms. A route can only match a path that holds
every literal part of its path (the text around its ``{...}`` parameters), whatever prefix its
router was included under; ``GuardedRouter.matches`` answers "no match" when no route's parts
are all in the path, without asking them. (Every CSSM account route starts with
``.../v1/accounts/``: with the first part alone, a licenses request was matched against the
accounts and tokens routers' routes too, 15 regular expressions and ~100 calls of FastAPI's
bookkeeping.) A path that could match is routed exactly as before.

``SerialisedRoute``:

FastAPI answers an endpoint's return value by validating it again against the response model
(on the thread pool for a sync endpoint: a second hop), then serialising the validated copy.
An endpoint that already built its response model (validated on construction) pays twice for
nothing: on the CSSM devices list, 100 vendor-shaped devices cost more to answer than to read.
``SerialisedRoute`` wraps the endpoint so that a ``BaseModel`` it returns becomes JSON bytes
at once (``model_dump_json``, the same encoder and field names FastAPI would use), still on
the endpoint's own thread; any other return value (a ``Response``, a dict) goes to FastAPI as
before. The response model is still read from the return annotation, so the OpenAPI document
is unchanged.

Usage::

    router = GuardedRouter(tags=[...])                        # an APIRouter in every other way
    router = GuardedRouter(route_class=SerialisedRoute)

    @router.get("/things", summary="...")
    def things(...) -> ThingsOut:         # documented as ThingsOut, answered as its JSON
        return ThingsOut(...)
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

__all__ = ["GuardedRouter", "SerialisedRoute", "model_response"]

JSON = "application/json"


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """``model``'s JSON (by alias, as FastAPI answers a response model)."""
    return Response(model.model_dump_json(by_alias=True), status_code, media_type=JSON)


def _serialising(endpoint: Callable[..., Any], route: SerialisedRoute) -> Callable[..., Any]:
    def answer_of(result: Any) -> Any:
        if type(result) is route.response_model and isinstance(result, BaseModel):
            return model_response(result, route.status_code or 200)
        return result  # anything else: FastAPI's own way (validated against the model)

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def answer_async(*args: Any, **kwargs: Any) -> Any:
            return answer_of(await endpoint(*args, **kwargs))

        answer_async.__serialised__ = True  # type: ignore[attr-defined]
        return answer_async

    @functools.wraps(endpoint)  # __wrapped__: FastAPI reads the signature and annotations there
    def answer(*args: Any, **kwargs: Any) -> Any:
        return answer_of(endpoint(*args, **kwargs))

    answer.__serialised__ = True  # type: ignore[attr-defined]
    return answer


class SerialisedRoute(APIRoute):
    """An ``APIRoute`` answering a returned model as its JSON without validating it again
    (module docstring). Only an instance of exactly the route's response model is answered
    so; a route with ``response_model_include``/``exclude``/``exclude_*`` options is left to
    FastAPI altogether."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        options = ("include", "exclude", "exclude_unset", "exclude_defaults", "exclude_none")
        # include_router builds the route again from the wrapped endpoint: wrapped once
        if not any(kwargs.get(f"response_model_{o}") for o in options) and not hasattr(
            endpoint, "__serialised__"
        ):
            endpoint = _serialising(endpoint, self)
        super().__init__(path, endpoint, **kwargs)


class GuardedRouter(APIRouter):
    """An ``APIRouter`` that refuses at once a path holding none of its routes' literal parts
    (module docstring). A route it cannot read a path from (a nested router, a mount) turns
    the guard off: such a router is walked as FastAPI walks it."""

    _guard: tuple[int, tuple[tuple[str, ...], ...] | None] = (-1, None)

    def _literals(self) -> tuple[tuple[str, ...], ...] | None:
        count, literals = self._guard
        if count != len(self.routes):  # routes are only ever added
            parts = [_parts(r.path) if isinstance(r, Route) else () for r in self.routes]
            literals = None if () in parts else tuple(dict.fromkeys(parts))
            self._guard = (len(self.routes), literals)
        return literals

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        literals = self._literals()
        if literals is not None and scope.get("type") == "http":
            path = scope["path"]
            if not any(all(part in path for part in parts) for parts in literals):
                return Match.NONE, {}
        return super().matches(scope)


_PARAMETER = re.compile(r"\{[^}]*\}")


def _parts(path: str) -> tuple[str, ...]:
    """The literal parts of a route's path: ``/a/{x}/b`` -> ``("/a/", "/b")``."""
    return tuple(part for part in _PARAMETER.split(path) if part)
