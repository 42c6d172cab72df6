"""Device ownership: who may move a device (a UDI) or pin a key on it (docs/security.md,
"Device ownership").

A UDI proves nothing: PID and serial number are printed on the box and sent in the clear. So
every service that creates, moves or keys a product instance asks this module:

1. A device the authority does not know lands where the token (or the channel) says.
2. A device it knows is re-registered or re-trusted with ``force`` only with proof: a request
   signed by its current identity (classic) or trust key (policy mode), or a token of the
   smart account that already holds it (the owner wiping and re-registering it). Anything
   else raises ``OwnershipNotProven``; ``logs_refusals`` writes the refusal into the *holding*
   account's event log, and the transaction, rolled back, has changed nothing.
3. A channel (a collector's API key, a user's usage file upload) may introduce new devices
   into the virtual account it is for and pin their first key. It never replaces a pinned key,
   never keys a classic device (one holding an identity certificate), and never keys a device
   of another virtual account.
4. A trust key is one device's: pinning a key another device holds is refused (``key-in-use``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartlic.authority.services._base import device_actor
from smartlic.authority.services._files import udi_of
from smartlic.crypto import Udi
from smartlic.errors import Conflict, OwnershipNotProven, SignatureInvalid
from smartlic.storage.models import ProductInstance, SmartAccount, VirtualAccount

if TYPE_CHECKING:  # the services import this module
    from smartlic.authority.services._base import ServiceBase

__all__ = [
    "INSTANCE_ID_BY_UDI",
    "find_instance",
    "holder_of",
    "pin_key",
    "record_move",
    "require_owner",
    "require_pinned",
    "require_unkeyed_in",
]


_BY_UDI = (
    select(ProductInstance)
    .where(ProductInstance.udi_pid == bindparam("pid"), ProductInstance.udi_sn == bindparam("sn"))
    .with_for_update()
)  # built once: every registration asks


# The id of the instance with the UDI bound as ``pid``, ``sn`` (``find_instance``'s question,
# as a column): registration asks it in its token's SELECT, its common answer being none.
INSTANCE_ID_BY_UDI = (
    select(ProductInstance.id)
    .where(ProductInstance.udi_pid == bindparam("pid"), ProductInstance.udi_sn == bindparam("sn"))
    .scalar_subquery()
)


def find_instance(s: Session, udi: Udi) -> ProductInstance | None:
    """The instance of ``udi``, its row locked (PostgreSQL) by the lookup itself: its callers
    go on to change its key, its codes or its pools, and an instance's row is locked before
    its pools and read with the lock (``_usage.lock_instances``). Read without it, a transfer
    committing in between left a code drawn from the pool the device had left, and a code
    request holding its pools waited on the row the transfer held while the transfer waited
    on those pools (a deadlock)."""
    return s.scalar(_BY_UDI, {"pid": udi.pid, "sn": udi.sn})


def holder_of(s: Session, inst: ProductInstance) -> tuple[VirtualAccount, SmartAccount]:
    va = s.get_one(VirtualAccount, inst.virtual_account_id)
    return va, va.smart_account


def require_owner(
    s: Session, inst: ProductInstance, claimant: SmartAccount, *, proven: bool
) -> None:
    """Rule 2: ``proven`` (signed by the device's current key) or a token of the holder."""
    sa = holder_of(s, inst)[1]
    if proven or sa.id == claimant.id:
        return
    raise OwnershipNotProven(
        f"{udi_of(inst)} is held by another smart account: move it with a request signed by the "
        "device's current identity, or with a token of the account that holds it",
        holder=sa.domain,
        claimant=claimant.domain,
    )


def record_move(
    service: ServiceBase, s: Session, inst: ProductInstance, claimant: SmartAccount
) -> None:
    """A device leaving its smart account (with proof): ``instance.moved_away`` in the log of
    the account it leaves, which does not learn where it went."""
    va, sa = holder_of(s, inst)
    if sa.id != claimant.id:
        service.record(
            s,
            "instance.moved_away",
            actor=device_actor(udi_of(inst)),
            smart_account=sa,
            virtual_account=va.name,
            subject=str(udi_of(inst)),
        )


def require_pinned(inst: ProductInstance, key_id: str) -> bool:
    """True when ``key_id`` is the device's pinned trust key; False when none is pinned;
    refused when another key is (rule 3: a pinned key is never replaced by a channel)."""
    if inst.trust_key_id is None:
        return False
    if inst.trust_key_id != key_id:
        raise SignatureInvalid("the report is not signed with the device's trust code")
    return True


def require_unkeyed_in(s: Session, inst: ProductInstance, va: VirtualAccount) -> None:
    """Rule 3 for a known device with no trust key, reached through a channel for ``va``."""
    if inst.cert_fingerprint is not None:
        raise OwnershipNotProven(
            f"{udi_of(inst)} is registered with an identity certificate; a trust code for it "
            "comes only from the device itself (license smart trust idtoken)",
            holder=holder_of(s, inst)[1].domain,
        )
    if inst.virtual_account_id != va.id:
        raise OwnershipNotProven(
            f"{udi_of(inst)} belongs to another virtual account than this channel's",
            holder=holder_of(s, inst)[1].domain,
        )


def pin_key(
    s: Session,
    make: Callable[[], ProductInstance],
    key_id: str,
    public_key: str,
    now: datetime,
) -> ProductInstance:
    """Rule 4: pin ``key_id`` on the instance ``make`` returns (existing or new), in a savepoint
    so that a refusal leaves neither a half-made instance nor a poisoned transaction.

    The SELECT finds a key another device already holds; the savepoint catches what the SELECT
    cannot see: another transaction pinning the same key (or introducing the same UDI) at the
    same moment, which the unique indexes refuse at flush.
    """
    taken = s.scalar(select(ProductInstance).where(ProductInstance.trust_key_id == key_id))
    try:
        with s.begin_nested():
            inst = make()
            if taken is not None and taken is not inst:
                raise _key_in_use()
            inst.trust_key_id, inst.trust_public_key = key_id, public_key
            inst.trust_installed_at = now
            s.add(inst)
            s.flush()
    except IntegrityError as exc:
        raise Conflict(
            "another request claimed this device or this key at the same moment; send again",
            code="key-in-use",
        ) from exc
    return inst


def _key_in_use() -> Conflict:
    return Conflict(
        "this key is already the trust code of another device; each device signs with its own",
        code="key-in-use",
    )
