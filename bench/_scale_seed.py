"""Seeding the scale benchmark's database with PostgreSQL ``COPY`` (psycopg's ``cursor.copy``).

The accounts, licenses, a registration token and an admin API key are made through the
services (their hashes and sealed texts must be real); the bulk — product instances, their
usage and pool counters, holdings, usage history (``rum_reports``) and the event log — is
streamed as COPY text, the rows shaped like the ones registration, authorization and ingest
leave. The pool counters are summed from the usage rows in SQL, so compliance reads what the
services would have kept.

Layout (``Size`` gives the counts): one smart account, ``accounts`` virtual accounts; the
first (``VA0000``) holds ``big`` instances, the others share the rest; every instance uses one
of ``tags`` licenses; the usage history and the events are spread over 2026-01-01 to
2026-11-28, so they fall into several quarterly partitions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

SPAN_START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
SPAN_S = int(datetime(2026, 11, 28, tzinfo=UTC).timestamp()) - SPAN_START
CHUNK = 20_000
# a certificate's size, so instance rows weigh what real ones do (COPY text: newlines escaped)
FAKE_PEM = "-----BEGIN CERTIFICATE-----\\n" + ("A" * 64 + "\\n") * 9 + "-----END CERTIFICATE-----"
EVENT_NAMES = [
    "instance.registered",
    "instance.authorized",
    "usage.reported",
    "instance.renewed",
    "token.created",
    "license.holding_added",
    "instance.removed",
    "token.revoked",
]
SOFTWARE_TAG = "regid.2026-01.org.smartlic.bench,1.0"


@dataclass(frozen=True)
class Size:
    instances: int
    usage: int
    events: int
    accounts: int = 1000
    tags: int = 20
    big: int = 100_000  # instances of the virtual account whose compliance is measured


def instance_id(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def va_of(i: int, size: Size) -> int:
    """The virtual account (index) of instance ``i``."""
    if i < size.big:
        return 0
    return 1 + (i - size.big) % (size.accounts - 1)


def _ts(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def _spread(i: int, n: int) -> int:
    return SPAN_START + (i * SPAN_S) // max(n, 1)


def instance_lines(size: Size, va_ids: list[str]) -> Iterator[str]:
    expires = _ts(SPAN_START + 2 * 365 * 86400)
    for i in range(size.instances):
        at = _ts(_spread(i, size.instances))
        yield (
            f"{instance_id(i)}\t{va_ids[va_of(i, size)]}\tC9300-48P\tSC{i:09d}\t"
            f"sw-{i:07d}.example.net\t{SOFTWARE_TAG}\t{at}\t{at}\tIn Compliance\t"
            f"{i:064x}\t{FAKE_PEM}\t{expires}\tt\n"
        )


INSTANCE_COLS = (
    "id, virtual_account_id, udi_pid, udi_sn, hostname, software_tag, registered_at, "
    "last_contact_at, status, cert_fingerprint, cert_pem, cert_expires_at, "
    "export_controlled_allowed"
)


def usage_lines(size: Size, license_ids: list[str]) -> Iterator[str]:
    for i in range(size.instances):
        yield f"{instance_id(i)}\t{license_ids[i % size.tags]}\t1\tAUTHORIZED\n"


def rum_lines(size: Size, license_ids: list[str], tags: list[str]) -> Iterator[str]:
    per = max(size.usage // max(size.instances, 1), 1)
    for n in range(size.usage):
        i, k = (n // per) % size.instances, n % per
        t = i % size.tags
        end = _spread(k * size.instances + i, per * size.instances)
        start = end - 3600
        ms = (
            f'[{{"log_time": {start}, "metric_name": "ENTITLEMENT", "start_time": {start}, '
            f'"end_time": {end}, "sample_interval": 3600, "num_samples": 1, "meta": {{}}, '
            f'"value": {{"type": "COUNT", "value": "1"}}}}]'
        )
        yield (
            f"{instance_id(i)}\t{k + 1}\t{license_ids[t]}\t"
            f"{tags[t]}\t{start}\t{end}\t1\t1\t{ms}\t{_ts(end + 60)}\n"
        )


RUM_COLS = (
    "instance_id, report_id, license_id, entitlement_tag, start_time, end_time, last_value, "
    "max_value, measurements, received_at"
)


def event_lines(size: Size, sa_id: str, va_names: list[str]) -> Iterator[str]:
    for n in range(size.events):
        i = n % size.instances
        name = EVENT_NAMES[(n * 7) % len(EVENT_NAMES)]
        yield (
            f"{_ts(_spread(n, size.events))}\t{name}\tdevice\t{sa_id}\t"
            f"{va_names[va_of(i, size)]}\tPID:C9300-48P,SN:SC{i:09d}\t{{}}\n"
        )


EVENT_COLS = "at, name, actor, smart_account_id, virtual_account, subject, properties"


def copy_rows(
    conn: psycopg.Connection, table: str, cols: str, lines: Iterator[str], total: int
) -> float:
    """COPY ``lines`` into ``table`` in chunks, its plain indexes dropped meanwhile and built
    once after (far faster than row by row); prints progress; returns seconds taken."""
    t0 = time.monotonic()
    indexes = drop_indexes(conn, table)
    _copy(conn, table, cols, lines, total, t0)
    for ddl in indexes:
        conn.execute(ddl)
    conn.commit()
    took = time.monotonic() - t0
    print(f"  {table}: {total:,} rows in {took:.0f} s ({total / max(took, 1e-9):,.0f}/s)")
    return took


def drop_indexes(conn: psycopg.Connection, table: str) -> list[str]:
    """Drop ``table``'s indexes that back no constraint; returns the DDL that rebuilds them."""
    rows = conn.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "WHERE t.relname = %s AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
        (table,),
    ).fetchall()
    for name, _ddl in rows:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    return [ddl.replace(" ON ONLY ", " ON ") for _name, ddl in rows]


def _copy(
    conn: psycopg.Connection, table: str, cols: str, lines: Iterator[str], total: int, t0: float
) -> None:
    done = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        buf: list[str] = []
        for line in lines:
            buf.append(line)
            if len(buf) == CHUNK:
                copy.write("".join(buf))
                done += len(buf)
                buf = []
                _progress(table, done, total, t0)
        copy.write("".join(buf))
    conn.commit()


def _progress(table: str, done: int, total: int, t0: float) -> None:
    if done % 1_000_000 == 0:
        rate = done / max(time.monotonic() - t0, 1e-9)
        print(f"  {table}: {done:,}/{total:,} ({rate:,.0f}/s)", flush=True)


def sum_counters(conn: psycopg.Connection) -> None:
    """The pool counters the services maintain on write, summed once from the usage rows."""
    conn.execute(
        "INSERT INTO pool_counters (virtual_account_id, license_id, in_use, reserved) "
        "SELECT p.virtual_account_id, u.license_id, sum(u.count), 0 FROM instance_usage u "
        "JOIN product_instances p ON p.id = u.instance_id "
        "GROUP BY p.virtual_account_id, u.license_id"
    )
    conn.commit()


def holding_lines(va_ids: list[str], license_ids: list[str], size: Size) -> Iterator[str]:
    """A perpetual holding of every tag in every virtual account, enough for its use."""
    now = _ts(SPAN_START)
    for v, va in enumerate(va_ids):
        quantity = size.big if v == 0 else max(size.instances // len(va_ids), 100)
        for lid in license_ids:
            yield f"{uuid.uuid4()}\t{va}\t{lid}\t{quantity}\tperpetual\t{now}\n"


HOLDING_COLS = "id, virtual_account_id, license_id, quantity, kind, created_at"

Step = Callable[[psycopg.Connection], float]
