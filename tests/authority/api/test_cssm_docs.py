"""docs/cssm-api.md against the app: the compatibility table lists exactly the vendor routes
the authority registers (``done`` rows), and every ``METHOD /path`` the page tells a reader to
call is a route."""

from __future__ import annotations

import re
from pathlib import Path

from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import ok

DOC = Path(__file__).parents[3] / "docs" / "cssm-api.md"
SA = "/services/api/smart-accounts-and-licensing"
VENDOR = (SA + "/", "/as/", "/oauth2/")
CALL = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) ((?:SA|/)[^`?\s]*)[^`]*`")
PARAM = re.compile(r"\{[^}]+\}")

Route = tuple[str, str]


def _route(method: str, path: str) -> Route:
    """A route with its parameters unnamed (the page writes ``{d}`` for ``{domain}``)."""
    return method, PARAM.sub("{}", path.replace("SA/", SA + "/", 1))


def _rows(text: str) -> list[tuple[str, str]]:
    """(paths, status) of each row of the compatibility table."""
    section = text.split("## Compatibility table", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [row.strip("| ").split(" | ") for row in table[1:]]  # the header aside
    return [(c[1], " | ".join(c[2:])) for c in cells]


def _table(text: str) -> set[Route]:
    """The routes of the table's rows whose status is ``done``."""
    rows = [paths for paths, status in _rows(text) if status.startswith("done")]
    return {_route(m, p) for paths in rows for m, p in CALL.findall(paths)}


def _registered(live: LiveAuthority) -> set[Route]:
    paths = ok(live.client(auth=False).get("/openapi.json"))["paths"]
    return {_route(m.upper(), p) for p, ops in paths.items() for m in ops}


def test_the_compatibility_table_is_the_vendor_routes(live_authority: LiveAuthority) -> None:
    registered = _registered(live_authority)
    vendor = {r for r in registered if r[1].startswith(VENDOR)}
    assert _table(DOC.read_text()) == vendor


def test_every_call_the_page_names_is_a_route(live_authority: LiveAuthority) -> None:
    registered = _registered(live_authority)
    text = DOC.read_text()
    for paths, status in _rows(text):
        if not status.startswith("done"):  # what the page says is not offered
            text = text.replace(paths, "")
    named = {_route(m, p) for m, p in CALL.findall(text)}
    assert len(named) > 25 and named - registered == set()
