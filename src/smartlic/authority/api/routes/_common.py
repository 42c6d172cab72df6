"""What every management router shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.formats.bounds import MAX_OFFSET
from smartlic.formats.cursor import MAX_CURSOR

API_PREFIX = "/api/v1"
ACCOUNT = API_PREFIX + "/accounts/{domain}"
VIRTUAL_ACCOUNT = ACCOUNT + "/virtual-accounts/{virtual_account}"
# Every management route can answer these; each route adds its own.
COMMON_PROBLEMS = problem_responses(401, 403, 404, 422)

# Page parameters of every list route; ``limit`` is then capped at settings.max_page_size and
# the services check both again (formats.bounds.check_page).
Limit = Annotated[int, Query(ge=1, le=2**31 - 1, description="rows per page (capped)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR,
        description="keyset page: the `next_cursor` of the previous page, or empty for the "
        "first; no `total` is counted (fast on any page of a large list). Not with `offset`.",
    ),
]


def next_link(request: Request, token: str | None) -> str | None:
    """The path and query of the next keyset page (the same filters, the new cursor)."""
    if token is None:
        return None
    url = request.url.remove_query_params("offset").include_query_params(cursor=token)
    return f"{url.path}?{url.query}"
