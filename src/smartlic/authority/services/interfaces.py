"""Contracts of the authority's services: DTOs and ``typing.Protocol`` interfaces.

Routes, the portal and the CLI call these; ``smartlic.authority.services.*`` implements them
over SQLAlchemy. Every method that reads or changes an account's data takes ``scope``: the
``Principal`` calling (``services/scope.py``), whose tenant rules the service applies and
whose ``label()`` names the change in the event log. Methods raise ``smartlic.errors``
exceptions on bad input or a refusal; nothing stored changes then.
Services own their session: each public call is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from smartlic.authority.services.scope import Principal as Principal  # re-exported: the caller
from smartlic.domain.enums import (
    ComplianceStatus,
    Enforcement,
    HoldingKind,
    Role,
)

# ---------------------------------------------------------------- DTOs

T = TypeVar("T")


@dataclass(frozen=True)
class LicenseMove:
    """One line of a license transfer: ``quantity`` of ``tag`` to virtual account ``target``
    (only holdings of ``kind`` if given)."""

    tag: str
    quantity: int
    target: str
    kind: HoldingKind | None = None


@dataclass(frozen=True)
class SmartAccountOut:
    id: str
    name: str
    domain: str
    created_at: datetime
    number: int = 0  # the stable numeric id of the vendor's API


@dataclass(frozen=True)
class VirtualAccountOut:
    id: str
    smart_account: str  # domain
    name: str
    description: str
    is_default: bool
    created_at: datetime
    number: int = 0  # the stable numeric id of the vendor's API


@dataclass(frozen=True)
class LicenseOut:
    """A catalogue entry (what a license *is*)."""

    tag: str
    name: str  # short name, e.g. network-advantage
    display_name: str
    description: str
    version: str
    enforcement: Enforcement


@dataclass(frozen=True)
class HoldingOut:
    id: str
    tag: str
    quantity: int
    kind: HoldingKind
    starts_at: datetime | None
    ends_at: datetime | None
    subscription_id: str | None
    active: bool  # counts at the clock's now


@dataclass(frozen=True)
class PoolLineOut:
    """One tag in one virtual account: the compliance arithmetic."""

    tag: str
    name: str
    display_name: str
    enforcement: Enforcement
    purchased: int
    in_use: int
    reserved: int
    available: int  # purchased - in_use - reserved (may be negative)
    status: ComplianceStatus
    holdings: list[HoldingOut] = field(default_factory=list)
    # ids of instances using this tag when out of compliance (first page only)
    instances_concerned: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ComplianceOut:
    smart_account: str
    virtual_account: str
    status: ComplianceStatus
    lines: list[PoolLineOut]
    computed_at: datetime


@dataclass(frozen=True)
class TokenOut:
    id: str
    virtual_account: str
    description: str
    created_at: datetime
    expires_at: datetime
    max_uses: int | None
    uses: int
    export_controlled_allowed: bool
    revoked_at: datetime | None
    created_by: str
    status: str  # "active" | "expired" | "revoked" | "used-up"
    text: str | None = None  # only when asked for by a caller who may manage the tokens


@dataclass(frozen=True)
class CreatedToken:
    token: TokenOut
    text: str  # shown once


@dataclass(frozen=True)
class UsageOut:
    tag: str
    count: int
    status: str  # EntitlementStatus value
    display_name: str = ""  # the license's name as the vendor's API shows it


@dataclass(frozen=True)
class InstanceOut:
    id: str
    smart_account: str
    virtual_account: str
    udi_pid: str
    udi_sn: str
    hostname: str
    software_tag: str
    registered_at: datetime
    last_contact_at: datetime | None
    status: str  # InstanceStatus value
    alerts: list[str]
    usage: list[UsageOut]
    certificate_expires: datetime | None
    report_due: datetime | None = None  # policy mode: when the next usage report is due


@dataclass(frozen=True)
class TransferLineOut:
    """One license a transfer moves: the target pool before and after it."""

    tag: str
    name: str
    moving: int  # in use and reserved by the instance
    purchased: int  # the target virtual account's, now
    in_use_after: int  # in use + reserved in the target after the move
    status: str  # ComplianceStatus value of the target pool after the move


@dataclass(frozen=True)
class TransferPreviewOut:
    instance_id: str
    source: str
    target: str
    lines: list[TransferLineOut]
    out_of_compliance: bool
    warnings: list[str]


@dataclass(frozen=True)
class EventFilter:
    """What a reader narrows the event log to; every field optional (the portal's filters)."""

    name_prefixes: Sequence[str] = ()
    virtual_account: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None  # in the subject or the actor
    subject: str | None = None  # exactly this subject (e.g. an instance's ``PID:..,SN:..``)
    oldest_first: bool = False


@dataclass(frozen=True)
class EventOut:
    id: int
    at: datetime
    name: str  # dotted, e.g. instance.registered
    actor: str
    smart_account: str | None
    virtual_account: str | None
    subject: str | None
    properties: dict[str, Any]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int | None  # None on a keyset page (a cursor was given): counting is the slow part
    limit: int
    offset: int
    next_cursor: str | None = None  # the cursor of the next page; None on the last


@dataclass(frozen=True)
class CreatedApiKey:
    id: str
    name: str
    role: Role
    smart_account: str | None
    text: str  # shown once
    virtual_account: str | None = None


@dataclass(frozen=True)
class ApiKeyOut:
    """A management API key as listed (never its text: only a hash is stored)."""

    id: str
    name: str
    role: Role
    smart_account: str | None
    virtual_account: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class UsageFileOut:
    """A usage data file as the "Usage Data Files" report lists it."""

    id: str
    file_name: str
    reported_at: datetime
    virtual_account: str
    status: str  # "Processed" | "Rejected"
    instances: int
    reports: int
    rejected: int
    errors: list[dict[str, Any]]
    acknowledgement: str  # "Received" when an ACK file can be downloaded
    ack_name: str
    duplicate: bool = False  # these bytes were uploaded before: this is that upload's row


@dataclass(frozen=True)
class UsageRecordOut:
    """One RUM report received for an instance (usage history)."""

    report_id: int
    tag: str
    start: datetime
    end: datetime
    last_value: int
    max_value: int
    received_at: datetime


@dataclass(frozen=True)
class PolicyOut:
    id: str
    name: str
    virtual_account: str | None  # None: the whole smart account
    document: dict[str, Any]
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class AuthorizationCodeOut:
    id: str
    udi: str
    virtual_account: str
    tag: str
    count: int
    confirmation_code: str
    issued_at: datetime
    returned_at: datetime | None
    instance_id: str = ""  # the product instance the code was issued to


# ---------------------------------------------------------------- contracts


class AccountsService(Protocol):
    def create_smart_account(
        self, *, name: str, domain: str, scope: Principal
    ) -> SmartAccountOut: ...
    def list_smart_accounts(self, *, scope: Principal) -> list[SmartAccountOut]: ...
    def get_smart_account(self, domain: str, *, scope: Principal) -> SmartAccountOut: ...
    def names_of(
        self, smart_account: str, virtual_account: str | None, *, scope: Principal
    ) -> tuple[str, str | None]: ...
    def create_virtual_account(
        self, domain: str, *, name: str, description: str = "", scope: Principal
    ) -> VirtualAccountOut: ...
    def list_virtual_accounts(
        self, domain: str, *, scope: Principal
    ) -> list[VirtualAccountOut]: ...
    def rename_virtual_account(
        self, domain: str, name: str, *, new_name: str, scope: Principal
    ) -> VirtualAccountOut: ...
    def delete_virtual_account(self, domain: str, name: str, *, scope: Principal) -> None: ...


class LicensesService(Protocol):
    def define_license(
        self,
        *,
        tag: str,
        name: str,
        display_name: str,
        description: str = "",
        version: str = "1.0",
        enforcement: Enforcement = Enforcement.UNENFORCED,
        scope: Principal,
    ) -> LicenseOut: ...
    def list_catalogue(self) -> list[LicenseOut]: ...
    def add_holding(
        self,
        domain: str,
        virtual_account: str,
        *,
        tag: str,
        quantity: int,
        kind: HoldingKind = HoldingKind.PERPETUAL,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        subscription_id: str | None = None,
        scope: Principal,
    ) -> HoldingOut: ...
    def compliance(
        self, domain: str, virtual_account: str, *, scope: Principal
    ) -> ComplianceOut: ...
    def compliance_of(
        self, domain: str, virtual_accounts: list[str] | None = None, *, scope: Principal
    ) -> list[ComplianceOut]: ...
    def transfer(
        self,
        domain: str,
        source: str,
        target: str,
        *,
        tag: str,
        quantity: int,
        kind: HoldingKind | None = None,
        scope: Principal,
    ) -> None: ...
    def transfer_many(
        self, domain: str, source: str, moves: list[LicenseMove], *, scope: Principal
    ) -> None: ...


class TokensService(Protocol):
    def create_token(
        self,
        domain: str,
        virtual_account: str,
        *,
        days: int = 30,
        description: str = "",
        max_uses: int | None = None,
        export_controlled_allowed: bool = True,
        scope: Principal,
    ) -> CreatedToken: ...
    def list_tokens(
        self, domain: str, virtual_account: str, *, with_text: bool = False, scope: Principal
    ) -> list[TokenOut]: ...
    def token_id_by_text(
        self, domain: str, virtual_account: str, text: str, *, scope: Principal
    ) -> str: ...
    def revoke_token(self, domain: str, token_id: str, *, scope: Principal) -> TokenOut: ...


class InstancesService(Protocol):
    def list_instances(
        self,
        domain: str,
        virtual_account: str | None = None,
        *,
        search: str | None = None,
        order: str = "registered",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
        scope: Principal,
    ) -> Page[InstanceOut]: ...
    def resolve_instance(self, domain: str, ref: str, *, scope: Principal) -> str: ...
    def get_instance(self, domain: str, instance_id: str, *, scope: Principal) -> InstanceOut: ...
    def preview_transfer(
        self, domain: str, instance_id: str, *, target: str, scope: Principal
    ) -> TransferPreviewOut: ...
    def transfer_instance(
        self, domain: str, instance_id: str, *, target: str, scope: Principal
    ) -> InstanceOut: ...
    def transfer_instances(
        self, domain: str, moves: Sequence[tuple[str, str]], *, scope: Principal
    ) -> list[InstanceOut]: ...
    def remove_instance(
        self, domain: str, instance_id: str, *, return_code: str | None = None, scope: Principal
    ) -> None: ...
    def remove_instances(
        self, domain: str, removals: Sequence[tuple[str, str | None]], *, scope: Principal
    ) -> None: ...


class DeviceService(Protocol):
    """Device protocol v1 (docs/device-protocol.md): envelopes in, signed envelopes out."""

    def register(self, request: dict[str, Any]) -> dict[str, Any]: ...
    def renew_id(self, envelope: dict[str, Any]) -> dict[str, Any]: ...
    def authorize(self, envelope: dict[str, Any]) -> dict[str, Any]: ...
    def deregister(self, envelope: dict[str, Any]) -> dict[str, Any]: ...
    def convert(self, envelope: dict[str, Any]) -> dict[str, Any]: ...
    def authority_ca(self) -> str:
        """The CA certificate (PEM) every signed answer chains to, for pinning."""
        ...


class EventsService(Protocol):
    def list_events(
        self,
        domain: str | None,
        *,
        name_prefix: str | None = None,
        where: EventFilter | None = None,
        limit: int = 100,
        offset: int = 0,
        cursor: str | None = None,
        scope: Principal,
    ) -> Page[EventOut]: ...


class UsageService(Protocol):
    """Policy-mode usage reporting (docs/usage-protocol.md)."""

    def report_usage(
        self,
        body: dict[str, Any],
        principal: Principal | None = None,
        virtual_account: str | None = None,
    ) -> dict[str, Any]: ...
    def poll(self, body: dict[str, Any], principal: Principal | None = None) -> dict[str, Any]: ...
    def upload_usage_file(
        self,
        domain: str,
        virtual_account: str,
        *,
        file_name: str,
        content: bytes,
        scope: Principal,
    ) -> UsageFileOut: ...
    def list_usage_files(
        self, domain: str, *, limit: int = 100, offset: int = 0, scope: Principal
    ) -> Page[UsageFileOut]: ...
    def usage_file_ack(
        self, domain: str, file_id: str, *, scope: Principal
    ) -> tuple[str, bytes]: ...
    def usage_history(
        self,
        domain: str,
        instance_id: str,
        *,
        tag: str | None = None,
        limit: int = 500,
        scope: Principal,
    ) -> list[UsageRecordOut]: ...


class ApiKeysService(Protocol):
    def create_api_key(
        self,
        *,
        name: str,
        role: Role,
        smart_account: str | None,
        virtual_account: str | None = None,
        actor: str,
    ) -> CreatedApiKey: ...
    def authenticate(self, text: str) -> Principal: ...
    def revoke_api_key(self, key_id: str, *, actor: str) -> None: ...
    def list_api_keys(self, domain: str) -> list[ApiKeyOut]: ...
