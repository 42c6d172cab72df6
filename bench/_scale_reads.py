"""The reads bench/scale.py times: one list, run over HTTP (``measure``) or through the services
in-process with the database's own plans captured (``explain``).

Each read is a kind (the route) and the query parameters a client would send; the ids a read
needs (a device, a deep page's cursor) are picked before any clock starts, the devices at random
over the million. The rows marked ``keyset`` are the pages clients should use on a large account
(``cursor``: every page costs the same); the ``offset`` rows stay for compatibility (they count
the total, which is the slow part).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import _scale_seed as seed
import httpx
import psycopg

from smartlic.formats.cursor import encode_cursor

DOMAIN = "scale.example"
BASE = f"/api/v1/accounts/{DOMAIN}"


@dataclass(frozen=True)
class Read:
    kind: str  # devices | usage | compliance | events
    params: dict[str, Any] = field(default_factory=dict)  # the HTTP query parameters
    target: str = ""  # the instance (usage) or the virtual account (compliance)

    def path(self) -> str:
        return {
            "devices": f"{BASE}/devices",
            "usage": f"{BASE}/devices/{self.target}/usage",
            "compliance": f"{BASE}/virtual-accounts/{self.target}/licenses",
            "events": f"{BASE}/events",
        }[self.kind]

    def over_http(self, api: httpx.Client) -> httpx.Response:
        return api.get(self.path(), params=self.params)

    def through(self, svc: Any, scope: Any) -> Any:
        """The service call the route makes (what runs in the database is the same)."""
        p = self.params
        if self.kind == "devices":
            return svc.instances.list_instances(
                DOMAIN,
                p.get("virtual_account"),
                search=p.get("search"),
                limit=p.get("limit", 50),
                offset=p.get("offset", 0),
                cursor=p.get("cursor"),
                scope=scope,
            )
        if self.kind == "usage":
            return svc.usage.usage_history(DOMAIN, self.target, scope=scope)
        if self.kind == "compliance":
            return svc.licenses.compliance(DOMAIN, self.target, scope=scope)
        return svc.events.list_events(
            DOMAIN,
            name_prefix=p.get("name_prefix"),
            limit=p.get("limit", 100),
            offset=p.get("offset", 0),
            cursor=p.get("cursor"),
            scope=scope,
        )


def targeted(label: str) -> bool:
    """Whether the read p99 < 50 ms target applies: not to the offset pages, kept for
    compatibility (they count every match for ``total``; clients page large lists by cursor)."""
    return ", offset" not in label


def _cursor_at(url: str, where: str, params: tuple[Any, ...], offset: int) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT registered_at, id FROM product_instances {where} "
            f"ORDER BY registered_at, id OFFSET {offset} LIMIT 1",
            params,
        ).fetchone()
    assert row is not None, "no instance at that offset"
    return encode_cursor([row[0], row[1]])


def reads(st: dict[str, Any], n: int) -> dict[str, list[Read]]:
    """label -> the calls of that read (``n`` of each; fewer of the ones that count a million
    rows, which take seconds each)."""
    size = seed.Size(**st["size"])
    url, vas = st["url"], st["va_names"]
    mid = size.instances // 2
    few = max(n // 20, 5)
    big_deep = _cursor_at(url, "WHERE virtual_account_id = %s", (st["va_ids"][0],), size.big // 2)
    deep = _cursor_at(url, "", (), mid)
    rnd = random.Random(14)

    def dev(**params: Any) -> Read:
        return Read("devices", params)

    def ev(**params: Any) -> Read:
        return Read("events", params)

    def serial() -> str:
        return f"SC{rnd.randrange(size.instances):09d}"

    return {
        "devices: first page, offset (counts the total)": [dev(limit=50)] * few,
        "devices: first page, keyset": [dev(limit=50, cursor="")] * n,
        f"devices: deep page, offset {mid:,}": [dev(limit=50, offset=mid)] * few,
        "devices: deep page, keyset": [dev(limit=50, cursor=deep)] * n,
        f"devices of {vas[0]} ({size.big:,}): deep page, keyset": [
            dev(limit=50, virtual_account=vas[0], cursor=big_deep)
        ]
        * n,
        "devices: search by serial number": [dev(search=serial()) for _ in range(n)],
        "devices: search by UDI (PID:SN)": [dev(search=f"C9300-48P:{serial()}") for _ in range(n)],
        "devices: search by hostname (100 hits), keyset": [
            dev(search=f"sw-{rnd.randrange(size.instances // 100):05d}", cursor="")
            for _ in range(n)
        ],
        "usage history of one device": [
            Read("usage", target=seed.instance_id(rnd.randrange(size.instances))) for _ in range(n)
        ],
        f"compliance of {vas[0]} ({size.big:,} instances)": [Read("compliance", target=vas[0])] * n,
        "events: name_prefix filter, offset (counts the total)": [
            ev(name_prefix="token.", limit=100)
        ]
        * few,
        "events: name_prefix filter, keyset": [ev(name_prefix="token.", limit=100, cursor="")] * n,
        "events: deep page, keyset": [
            ev(limit=100, cursor=encode_cursor([max(size.events // 2, 1)]))
        ]
        * n,
    }
