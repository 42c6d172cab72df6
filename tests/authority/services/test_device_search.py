"""The device search (services/_search.py): a case-insensitive substring of hostname, PID or
serial number, with a UDI ``PID:SN`` looked up exactly. On PostgreSQL the table is analysed
first, so the search probes its trigram indexes with the rarest part of the text and checks the
whole text on each candidate: the answers must be exactly the substring matches.

The instances are inserted as rows (what registration stores; hundreds of registrations would
only add signatures this read does not look at)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from smartlic.authority.services._search import Sample, rarest_window
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.domain.enums import InstanceStatus
from smartlic.storage.models import ProductInstance, VirtualAccount
from tests.authority.services.conftest import World

N = 240
# (pid, sn, hostname) of the fleet: serials that share their common prefix, as real ones do
SPECIAL = [
    ("ISR4331", "FOC2148X0AB", "edge-1.lab"),
    ("ISR4331", "foc2148x0ac", "edge-2.lab"),  # a serial stored in lower case
    ("C9300-48P", "ZZ1", "lab-sc000000007-spare"),  # holds another device's serial
    ("C9300-48P", "ZZ2", "100%_up"),  # LIKE's wildcards, literally
]


def _fleet(world: World, engine: Engine) -> list[tuple[str, str, str]]:
    rows = [("C9300-48P", f"SC{n:09d}", f"sw-{n:07d}.example.net") for n in range(N)]
    rows += SPECIAL
    start = world.clock.now()
    with Session(engine) as s, s.begin():
        vas = dict(s.execute(select(VirtualAccount.name, VirtualAccount.id)).all())
        for n, (pid, sn, host) in enumerate(rows):
            s.add(
                ProductInstance(
                    virtual_account_id=vas["East" if n % 3 else "West"],
                    udi_pid=pid,
                    udi_sn=sn,
                    hostname=host,
                    software_tag="t",
                    registered_at=start + timedelta(seconds=n),
                    last_contact_at=start,
                    status=InstanceStatus.IN_COMPLIANCE,
                )
            )
    if engine.dialect.name == "postgresql":  # the planner's sample the search reads
        with engine.begin() as conn:
            conn.execute(text("ANALYZE product_instances"))
    return rows


def _found(world: World, search: str, **kw: object) -> list[str]:
    page = world.services.instances.list_instances(
        world.domain, search=search, limit=1000, scope=SYSTEM, **kw
    )
    assert page.total == len(page.items)
    return [f"{i.udi_pid}:{i.udi_sn}" for i in page.items]


def _expected(rows: list[tuple[str, str, str]], search: str) -> list[str]:
    t = search.lower()
    return [f"{p}:{s}" for p, s, h in rows if t in p.lower() or t in s.lower() or t in h.lower()]


@pytest.mark.parametrize(
    "search",
    [
        "SC000000007",  # a whole serial: also the hostname that holds it
        "sc000000123",
        "SC00000012",
        "sw-0000123",
        "0000123.example",
        "FOC2148X0A",  # both cases of the stored serials
        "x0ac",
        "isr",
        "100%_",
        "%",
        "example",  # nearly everything
        "zz",  # too short for a trigram
        "nothing-like-it",
    ],
)
def test_search_is_a_substring_of_hostname_pid_or_serial(
    world: World, engine: Engine, search: str
) -> None:
    rows = _fleet(world, engine)
    assert _found(world, search) == _expected(rows, search)


def test_a_udi_finds_its_device_by_the_unique_key(world: World, engine: Engine) -> None:
    _fleet(world, engine)
    assert _found(world, "C9300-48P:SC000000005") == ["C9300-48P:SC000000005"]
    assert _found(world, " c9300-48p:sc000000005 ") == ["C9300-48P:SC000000005"]
    assert _found(world, "ISR4331:foc2148x0ac") == ["ISR4331:foc2148x0ac"]
    assert _found(world, "C9300-48P:SC999999999") == []
    # the virtual account and the caller's scope still bound it (SC000000005 is in East)
    assert _found(world, "C9300-48P:SC000000005", virtual_account="West") == []
    world.services.accounts.create_smart_account(
        name="Other", domain="other.example", scope=system("t")
    )
    world.services.accounts.create_virtual_account("other.example", name="O", scope=system("t"))
    page = world.services.instances.list_instances(
        "other.example", search="C9300-48P:SC000000005", scope=SYSTEM
    )
    assert (page.items, page.total) == ([], 0)


def test_a_broad_search_pages_like_a_filtered_list(world: World, engine: Engine) -> None:
    """More matches than the search lists by id: the page's own sort finds them; offset and
    keyset pages give the same rows, in the registration order."""
    rows = _fleet(world, engine)
    world.services.instances.candidates = 10  # type: ignore[attr-defined]
    svc = world.services.instances
    page = svc.list_instances(world.domain, search="sw-", limit=7, offset=3, scope=SYSTEM)
    expected = _expected(rows, "sw-")
    assert page.total == len(expected) == N
    assert [f"{i.udi_pid}:{i.udi_sn}" for i in page.items] == expected[3:10]
    seen, cursor = [], ""
    while cursor is not None:
        keyset = svc.list_instances(
            world.domain, search="sw-", limit=50, cursor=cursor, scope=SYSTEM
        )
        assert keyset.total is None
        seen += [f"{i.udi_pid}:{i.udi_sn}" for i in keyset.items]
        cursor = keyset.next_cursor
    assert seen == expected
    assert _found(world, "SC000000007") == _expected(rows, "SC000000007")  # a few: by id


def test_a_udi_as_people_type_it_finds_its_device(world: World, engine: Engine) -> None:
    """The search box reads a UDI by the one rule (``Udi.parse``): the long form copied from
    ``show license udi`` finds the device too; a text that is not a UDI, or names no device,
    is matched as a substring, as before."""
    rows = _fleet(world, engine)
    for typed in ("PID:C9300-48P,SN:SC000000005", " pid:c9300-48p, sn:sc000000005 "):
        assert _found(world, typed) == ["C9300-48P:SC000000005"]
    for other in ("SC1", ":SC000000005", "C9300-48P:", "a:b:c", "C9300 48P:SC1", "100%_up:",
                  "PID:C9300-48P", "PID:C9300-48P,SN:SC999999999", "sw-1.example.net"):  # fmt: skip
        assert _found(world, other) == _expected(rows, other)


def test_the_index_is_probed_with_the_rarest_run_of_the_text() -> None:
    serials = Sample(common=[], spread=[f"sc{n:09d}" for n in range(0, 1_000_000, 9_901)])
    # sc0, c00, 000 are in every sampled serial: the probe is a run of the distinctive tail
    for needle in ("sc000092089", "sc000791890"):
        probe = rarest_window(needle, serials)
        assert probe in needle[4:] and len(probe) >= 4
    assert rarest_window("zzz", serials) == "zzz"  # nothing common: the whole text
    assert rarest_window("sc000092089", None) == "sc000092089"  # no statistics
    assert rarest_window("a-b", serials) == "a-b"  # no trigram of letters and digits
    pids = Sample(common=[("c9300-48p", 0.9)], spread=["isr4331", "asr1001"])
    assert pids.share("930") == pytest.approx(0.9)
    assert rarest_window("c9300-48p:sc1", pids) == "sc1"
    # pg_trgm pads the words it splits at "-" and ".": a probe stays inside one word
    hosts = Sample(common=[], spread=[f"sw-{n:07d}.example.net" for n in range(0, 10**6, 9_901)])
    assert rarest_window("sw-06452", hosts) == "06452"
    assert rarest_window("sw-0123456.example.net", hosts) in "0123456"


def test_postgresql_probes_the_index_with_a_rare_run(world: World, engine: Engine) -> None:
    """After ANALYZE, a serial number is looked for through its distinctive tail, and the whole
    text is checked on each row the index returns."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the trigram indexes are PostgreSQL's")
    rows = _fleet(world, engine)
    seen: list[tuple[str, object]] = []

    def record(_conn: object, _cur: object, statement: str, params: object, *_: object) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert _found(world, "SC000000123") == _expected(rows, "SC000000123")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    probes = [
        v
        for statement, params in seen
        if "strpos" in statement and isinstance(params, dict)
        for v in params.values()
        if isinstance(v, str) and v != "sc000000123" and v in "sc000000123"
    ]
    assert probes and all(len(p) < len("sc000000123") for p in probes)
