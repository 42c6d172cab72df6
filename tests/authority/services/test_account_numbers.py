"""Numeric account ids (the vendor's ``account_id`` / ``virtual_account_id``) are never given
twice: not after a delete, not to two creations running at once in different processes
(``accounts.next_number``, 0013_number_counters)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from smartlic.authority.services.accounts import next_number
from smartlic.authority.services.interfaces import VirtualAccountOut
from smartlic.authority.services.scope import SYSTEM
from smartlic.errors import NotFound
from smartlic.storage.models import SmartAccount, VirtualAccount
from tests.authority.services.conftest import World


def test_a_deleted_accounts_id_is_never_given_again(world: World) -> None:
    accounts, d = world.services.accounts, world.domain
    temp = accounts.create_virtual_account(d, name="Temp", scope=SYSTEM)
    accounts.delete_virtual_account(d, "Temp", scope=SYSTEM)
    lab = accounts.create_virtual_account(d, name="Lab", scope=SYSTEM)
    assert lab.number == temp.number + 1
    sa = accounts.get_smart_account(d, scope=SYSTEM)
    with pytest.raises(NotFound, match=f"no virtual account {temp.number}"):
        accounts.names_of(str(sa.number), str(temp.number), scope=SYSTEM)
    assert accounts.names_of(str(sa.number), str(lab.number), scope=SYSTEM) == (d, "Lab")
    other = accounts.create_smart_account(name="Other", domain="other.example", scope=SYSTEM)
    assert other.number == sa.number + 1
    default = accounts.list_virtual_accounts("other.example", scope=SYSTEM)[0]
    assert default.number == lab.number + 1  # virtual account ids count across accounts


def test_creations_at_once_get_distinct_ids(world: World, engine: Engine) -> None:
    """A creation holding its id uncommitted (another authority process) makes a concurrent
    one wait for the counter and take the next id; with ``max + 1`` both took the same and
    the second to commit failed on the unique index."""
    accounts = world.services.accounts
    created: list[VirtualAccountOut | BaseException] = []

    def create() -> None:
        try:
            created.append(accounts.create_virtual_account(world.domain, name="B", scope=SYSTEM))
        except BaseException as exc:  # reported below
            created.append(exc)

    with Session(engine) as s, s.begin():
        sa_id = s.query(SmartAccount.id).filter_by(domain=world.domain).scalar()
        held = next_number(s, VirtualAccount.number)
        racer = threading.Thread(target=create)
        racer.start()
        racer.join(timeout=1.0)  # blocked on the counter (PostgreSQL) or the write lock
        now = datetime.now(UTC)
        s.add(VirtualAccount(smart_account_id=sa_id, name="A", number=held, created_at=now))
    racer.join(timeout=60)
    [other] = created
    assert isinstance(other, VirtualAccountOut), other
    assert other.number == held + 1
