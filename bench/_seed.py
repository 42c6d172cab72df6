"""Bulk seeding for the compliance benchmark: a virtual account with many product instances,
written straight into the tables in large batches (not through the device protocol, which
would take an hour for 100,000 instances).

The rows are what registration and authorization would have left: ``product_instances``,
their ``instance_usage`` and the ``pool_counters`` the services maintain on write, kept
consistent (``check_counters`` proves it), plus ``holdings`` that leave a few tags short.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select

from smartlic.domain.enums import EntitlementStatus, HoldingKind, InstanceStatus
from smartlic.storage.models import Holding, InstanceUsage, PoolCounter, ProductInstance

BATCH = 5000
# An identity certificate's size, so rows weigh what real ones do (compliance never reads it).
FAKE_PEM = "-----BEGIN CERTIFICATE-----\n" + ("A" * 64 + "\n") * 9 + "-----END CERTIFICATE-----\n"


@dataclass(frozen=True)
class Seeded:
    instances: int
    usage_rows: int
    in_use: dict[str, int]  # license id -> units in use
    short: list[str]  # license ids whose holdings are below their use


def _usage(i: int, tags: int) -> list[tuple[int, int]]:
    """Instance ``i`` uses two distinct tags: (tag index, count)."""
    a = i % tags
    b = (a + 1 + (i // tags) % (tags - 1)) % tags
    return [(a, 1 + i % 3), (b, 1)]


def _instance_rows(va_id: str, count: int, now: datetime) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {
            "id": str(uuid.UUID(int=i + 1)),
            "virtual_account_id": va_id,
            "udi_pid": "C9300-48P",
            "udi_sn": f"BIG{i:08d}",
            "hostname": f"switch-{i:06d}",
            "software_tag": "regid.2026-01.org.smartlic.bench,1.0",
            "registered_at": now,
            "last_contact_at": now,
            "status": InstanceStatus.IN_COMPLIANCE,
            "cert_fingerprint": uuid.uuid4().hex + uuid.uuid4().hex,
            "cert_pem": FAKE_PEM,
            "cert_expires_at": now + timedelta(days=365),
            "export_controlled_allowed": True,
            "token_id": None,
        }


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def seed_instances(engine: Engine, va_id: str, license_ids: list[str], count: int) -> Seeded:
    """Insert ``count`` instances using two tags each, and their pool counters."""
    now = datetime.now(UTC)
    in_use: Counter[str] = Counter()
    usage_rows = 0
    with engine.begin() as conn:
        for batch in _batches(_instance_rows(va_id, count, now)):
            conn.execute(insert(ProductInstance), batch)
            usage = []
            for row in batch:
                i = int(uuid.UUID(row["id"])) - 1
                for tag, units in _usage(i, len(license_ids)):
                    lid = license_ids[tag]
                    in_use[lid] += units
                    usage.append(
                        {
                            "instance_id": row["id"],
                            "license_id": lid,
                            "count": units,
                            "status": EntitlementStatus.AUTHORIZED.value,
                        }
                    )
            conn.execute(insert(InstanceUsage), usage)
            usage_rows += len(usage)
        conn.execute(
            insert(PoolCounter),
            [
                {"virtual_account_id": va_id, "license_id": lid, "in_use": n, "reserved": 0}
                for lid, n in in_use.items()
            ],
        )
    return Seeded(count, usage_rows, dict(in_use), [])


def _holding(va_id: str, lid: str, quantity: int, now: datetime, term: bool) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "virtual_account_id": va_id,
        "license_id": lid,
        "quantity": quantity,
        "kind": HoldingKind.TERM if term else HoldingKind.PERPETUAL,
        "starts_at": now - timedelta(days=30) if term else None,
        "ends_at": now + timedelta(days=335) if term else None,
        "subscription_id": f"SUB-{lid[:8]}" if term else None,
        "created_at": now,
    }


def seed_holdings(engine: Engine, va_id: str, seeded: Seeded, short: int) -> Seeded:
    """A perpetual and a term holding per tag; the first ``short`` tags hold 50 units too few."""
    now = datetime.now(UTC)
    ids = sorted(seeded.in_use)
    rows = []
    for n, lid in enumerate(ids):
        total = seeded.in_use[lid] + (-50 if n < short else 1000)
        rows.append(_holding(va_id, lid, total // 2, now, term=False))
        rows.append(_holding(va_id, lid, total - total // 2, now, term=True))
    with engine.begin() as conn:
        conn.execute(insert(Holding), rows)
    return Seeded(seeded.instances, seeded.usage_rows, seeded.in_use, ids[:short])


def top_up(engine: Engine, va_id: str, seeded: Seeded) -> None:
    """Buy enough for the short tags: the whole virtual account is in compliance."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rows = [_holding(va_id, lid, 100, now, term=False) for lid in seeded.short]
        conn.execute(insert(Holding), rows)


def check_counters(engine: Engine, va_id: str) -> None:
    """The maintained counters equal the sum of the usage rows (what the services keep true)."""
    summed = (
        select(InstanceUsage.license_id, func.sum(InstanceUsage.count))
        .join(ProductInstance, ProductInstance.id == InstanceUsage.instance_id)
        .where(ProductInstance.virtual_account_id == va_id)
        .group_by(InstanceUsage.license_id)
    )
    counted = select(PoolCounter.license_id, PoolCounter.in_use).where(
        PoolCounter.virtual_account_id == va_id
    )
    with engine.connect() as conn:
        sums = {lid: int(n) for lid, n in conn.execute(summed)}
        counters = {lid: int(n) for lid, n in conn.execute(counted)}
    if sums != counters:
        raise AssertionError(f"pool counters disagree with usage: {counters} != {sums}")
