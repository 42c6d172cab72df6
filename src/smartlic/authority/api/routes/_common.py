"""What every management router shares."""

from __future__ import annotations

from smartlic.authority.api.schemas.problem import problem_responses

API_PREFIX = "/api/v1"
ACCOUNT = API_PREFIX + "/accounts/{domain}"
VIRTUAL_ACCOUNT = ACCOUNT + "/virtual-accounts/{virtual_account}"
# Every management route can answer these; each route adds its own.
COMMON_PROBLEMS = problem_responses(401, 403, 404, 422)
