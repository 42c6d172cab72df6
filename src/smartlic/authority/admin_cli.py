"""``smartlic admin ...``: administer the authority's database directly, through the same
services as the REST API (accounts, virtual accounts, licenses, tokens, devices, events, API
keys; policy mode: usage files, policies, authorization codes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from smartlic.authority.cli import (
    actor,
    cli_errors,
    open_services,
    operator,
    parse_date,
    parse_role,
    print_table,
    resolve_tag,
    when,
)
from smartlic.authority.cli_reservations import issue_file, reservations_app
from smartlic.authority.cli_usage import policy_mode_app
from smartlic.domain.event_text import describe
from smartlic.errors import InvalidInput

if TYPE_CHECKING:
    from smartlic.authority.services.interfaces import EventOut

__all__ = ["admin_app"]

admin_app = typer.Typer(
    help="Administer the authority's database directly (same services as the API).",
    no_args_is_help=True,
)

accounts_app = typer.Typer(help="Smart accounts.", no_args_is_help=True)
va_app = typer.Typer(help="Virtual accounts of a smart account.", no_args_is_help=True)
licenses_app = typer.Typer(help="Catalogue, holdings, compliance, transfers.", no_args_is_help=True)
tokens_app = typer.Typer(help="Registration tokens.", no_args_is_help=True)
devices_app = typer.Typer(help="Product instances.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for the management API.", no_args_is_help=True)
clients_app = typer.Typer(
    help="OAuth2 API clients of the vendor-compatible API (docs/cssm-api.md).",
    no_args_is_help=True,
)
for _sub, _name in (
    (accounts_app, "accounts"),
    (va_app, "va"),
    (licenses_app, "licenses"),
    (tokens_app, "tokens"),
    (devices_app, "devices"),
    (apikey_app, "apikey"),
    (clients_app, "api-clients"),
    (reservations_app, "reservations"),
):
    admin_app.add_typer(_sub, name=_name)
admin_app.add_typer(policy_mode_app)  # usage, policy, slac
licenses_app.command("issue-file")(issue_file)

Domain = Annotated[str, typer.Argument(help="Smart account domain, e.g. demo.example.")]
VaName = Annotated[str, typer.Argument(help="Virtual account name.")]
TagArg = Annotated[str, typer.Argument(help="Entitlement tag, or a license's short name.")]


@accounts_app.command("create")
@cli_errors
def accounts_create(
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Example Corp'.")],
    domain: Domain,
) -> None:
    """Create a smart account (it gets a DEFAULT virtual account)."""
    with open_services() as s:
        created = s.accounts.create_smart_account(name=name, domain=domain, scope=operator())
    typer.echo(f"created smart account {created.name!r} ({created.domain})")


@accounts_app.command("list")
@cli_errors
def accounts_list() -> None:
    """List smart accounts."""
    with open_services() as s:
        rows = [
            [a.domain, a.name, when(a.created_at)]
            for a in s.accounts.list_smart_accounts(scope=operator())
        ]
    print_table("Smart accounts", ["Domain", "Name", "Created"], rows)


@va_app.command("create")
@cli_errors
def va_create(
    domain: Domain,
    name: VaName,
    description: Annotated[str, typer.Option(help="Free text.")] = "",
) -> None:
    """Create a virtual account."""
    with open_services() as s:
        s.accounts.create_virtual_account(
            domain, name=name, description=description, scope=operator()
        )
    typer.echo(f"created virtual account {name!r} in {domain}")


@va_app.command("list")
@cli_errors
def va_list(domain: Domain) -> None:
    """List the virtual accounts of a smart account."""
    with open_services() as s:
        vas = s.accounts.list_virtual_accounts(domain, scope=operator())
    rows = [
        [va.name, "yes" if va.is_default else "", va.description, when(va.created_at)] for va in vas
    ]
    print_table(
        f"Virtual accounts of {domain}", ["Name", "Default", "Description", "Created"], rows
    )


@va_app.command("rename")
@cli_errors
def va_rename(domain: Domain, name: VaName, new_name: str) -> None:
    """Rename a virtual account."""
    with open_services() as s:
        s.accounts.rename_virtual_account(domain, name, new_name=new_name, scope=operator())
    typer.echo(f"renamed virtual account {name!r} to {new_name!r}")


@va_app.command("delete")
@cli_errors
def va_delete(domain: Domain, name: VaName) -> None:
    """Delete an empty virtual account."""
    with open_services() as s:
        s.accounts.delete_virtual_account(domain, name, scope=operator())
    typer.echo(f"deleted virtual account {name!r}")


@licenses_app.command("define")
@cli_errors
def licenses_define(
    tag: Annotated[str, typer.Argument(help="ISO 19770-2 entitlement tag.")],
    name: Annotated[str, typer.Option(help="Short name, e.g. metroipaccess.")],
    display_name: Annotated[str, typer.Option(help="e.g. 'Device METRO IP ACCESS'.")],
    description: str = "",
    version: str = "1.0",
    enforcement: Annotated[str, typer.Option(help="unenforced|enforced|export-controlled")] = (
        "unenforced"
    ),
) -> None:
    """Add a license to the catalogue."""
    from smartlic.domain.enums import Enforcement

    kind = Enforcement(enforcement) if enforcement in set(Enforcement) else None
    if kind is None:
        raise InvalidInput(f"--enforcement: one of {', '.join(Enforcement)}")
    with open_services() as s:
        s.licenses.define_license(
            tag=tag,
            name=name,
            display_name=display_name,
            description=description,
            version=version,
            enforcement=kind,
            scope=operator(),
        )
    typer.echo(f"defined {display_name!r} ({tag})")


@licenses_app.command("catalogue")
@cli_errors
def licenses_catalogue() -> None:
    """List the license catalogue."""
    with open_services() as s:
        rows = [
            [lic.name, lic.display_name, lic.enforcement.value, lic.tag]
            for lic in s.licenses.list_catalogue()
        ]
    print_table("License catalogue", ["Name", "Display name", "Enforcement", "Tag"], rows)


@licenses_app.command("add")
@cli_errors
def licenses_add(
    domain: Domain,
    virtual_account: VaName,
    tag: TagArg,
    quantity: int,
    kind: Annotated[str, typer.Option(help="perpetual|term|demo")] = "perpetual",
    starts: Annotated[str | None, typer.Option(help="Start (ISO date), term/demo.")] = None,
    ends: Annotated[str | None, typer.Option(help="End (ISO date), term/demo.")] = None,
    subscription: Annotated[str | None, typer.Option(help="Subscription id.")] = None,
) -> None:
    """Add a holding (a purchase) to a virtual account."""
    from smartlic.domain.enums import HoldingKind

    if kind not in set(HoldingKind):
        raise InvalidInput(f"--kind: one of {', '.join(HoldingKind)}")
    with open_services() as s:
        holding = s.licenses.add_holding(
            domain,
            virtual_account,
            tag=resolve_tag(s, tag),
            quantity=quantity,
            kind=HoldingKind(kind),
            starts_at=parse_date(starts, "--starts"),
            ends_at=parse_date(ends, "--ends"),
            subscription_id=subscription,
            scope=operator(),
        )
    typer.echo(f"added {holding.quantity} x {tag} ({holding.kind.value}) to {virtual_account}")


@licenses_app.command("list")
@cli_errors
def licenses_list(domain: Domain, virtual_account: VaName) -> None:
    """The license list of a virtual account: purchased, in use, available, status."""
    with open_services() as s:
        view = s.licenses.compliance(domain, virtual_account, scope=operator())
    rows = [
        [ln.display_name, ln.purchased, ln.in_use, ln.reserved, ln.available, ln.status.value]
        for ln in view.lines
    ]
    columns = ["License", "Purchased", "In Use", "Reserved", "Available", "Status"]
    print_table(f"{domain} / {virtual_account}: {view.status.value}", columns, rows)


@licenses_app.command("transfer")
@cli_errors
def licenses_transfer(
    domain: Domain, source: VaName, target: VaName, tag: TagArg, quantity: int
) -> None:
    """Move licenses from one virtual account to another."""
    with open_services() as s:
        s.licenses.transfer(
            domain, source, target, tag=resolve_tag(s, tag), quantity=quantity, scope=operator()
        )
    typer.echo(f"transferred {quantity} x {tag} from {source} to {target}")


@tokens_app.command("create")
@cli_errors
def tokens_create(
    domain: Domain,
    virtual_account: VaName,
    days: Annotated[int, typer.Option(help="Valid for 1-365 days.")] = 30,
    description: str = "",
    max_uses: Annotated[int | None, typer.Option(help="Registrations allowed.")] = None,
    export_controlled: Annotated[bool, typer.Option(help="Allow export-controlled use.")] = True,
) -> None:
    """Create a registration token and print its text (shown once)."""
    with open_services() as s:
        created = s.tokens.create_token(
            domain,
            virtual_account,
            days=days,
            description=description,
            max_uses=max_uses,
            export_controlled_allowed=export_controlled,
            scope=operator(),
        )
    typer.echo(f"token {created.token.id} (expires {when(created.token.expires_at)}):")
    typer.echo(created.text)


@tokens_app.command("list")
@cli_errors
def tokens_list(domain: Domain, virtual_account: VaName) -> None:
    """List the tokens of a virtual account."""
    with open_services() as s:
        tokens = s.tokens.list_tokens(domain, virtual_account, scope=operator())
    rows = [
        [t.id, t.description, when(t.expires_at), f"{t.uses}/{t.max_uses or '-'}", t.status]
        for t in tokens
    ]
    print_table(
        f"Tokens of {domain} / {virtual_account}",
        ["ID", "Description", "Expires", "Uses", "Status"],
        rows,
    )


@tokens_app.command("revoke")
@cli_errors
def tokens_revoke(domain: Domain, token_id: str) -> None:
    """Revoke a token."""
    with open_services() as s:
        token = s.tokens.revoke_token(domain, token_id, scope=operator())
    typer.echo(f"token {token.id} is {token.status}")


@devices_app.command("list")
@cli_errors
def devices_list(
    domain: Domain,
    virtual_account: Annotated[str | None, typer.Option("--va", help="Only this VA.")] = None,
    search: Annotated[str | None, typer.Option(help="Hostname, PID or SN.")] = None,
    limit: int = 50,
    offset: int = 0,
) -> None:
    """List product instances."""
    with open_services() as s:
        page = s.instances.list_instances(
            domain, virtual_account, search=search, limit=limit, offset=offset, scope=operator()
        )
    rows = [
        [i.id[:SHORT_ID], f"{i.udi_pid}:{i.udi_sn}", i.hostname, i.virtual_account, i.status,
         when(i.last_contact_at)]
        for i in page.items
    ]  # fmt: skip
    # a short id and the UDI both name an instance in `devices transfer|remove`
    columns = ["ID", "UDI", "Hostname", "Virtual account", "Status", "Last contact"]
    print_table(f"Product instances of {domain} ({page.total})", columns, rows)


SHORT_ID = 8  # characters of an instance id shown in tables; any unique prefix of 4+ works
Instance = Annotated[
    str, typer.Argument(help="The instance: PID:SN, or its id (a prefix will do).")
]


@devices_app.command("transfer")
@cli_errors
def devices_transfer(
    domain: Domain,
    instance: Instance,
    target: VaName,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what the target pool would hold; move nothing.")
    ] = False,
) -> None:
    """Move a product instance (and its usage) to another virtual account."""
    with open_services() as s:
        instance_id = s.instances.resolve_instance(domain, instance, scope=operator())
        preview = s.instances.preview_transfer(domain, instance_id, target=target, scope=operator())
        if dry_run:
            columns = ["License", "Moving", "Purchased", "In use after", "Status after"]
            rows = [
                [ln.name, ln.moving, ln.purchased, ln.in_use_after, ln.status]
                for ln in preview.lines
            ]
            print_table(f"Transfer to {preview.target} (nothing moved)", columns, rows)
        else:
            moved = s.instances.transfer_instance(
                domain, instance_id, target=target, scope=operator()
            )
            typer.echo(f"instance {moved.id} is now in {moved.virtual_account}")
    for warning in preview.warnings:
        typer.echo(f"warning: {warning}")


@devices_app.command("remove")
@cli_errors
def devices_remove(
    domain: Domain,
    instance: Instance,
    return_code: Annotated[
        str | None,
        typer.Option("--return-code", help="The reservation return code of a reserved device."),
    ] = None,
) -> None:
    """Remove a product instance; its licenses (and reservation) are freed."""
    with open_services() as s:
        instance_id = s.instances.resolve_instance(domain, instance, scope=operator())
        s.instances.remove_instance(domain, instance_id, return_code=return_code, scope=operator())
    typer.echo(f"removed instance {instance_id} ({instance})")


@admin_app.command("events")
@cli_errors
def events(
    domain: Annotated[str | None, typer.Argument(help="Smart account; all when omitted.")] = None,
    prefix: Annotated[str | None, typer.Option(help="e.g. instance.")] = None,
    limit: int = 50,
) -> None:
    """Show the event log, newest first."""
    with open_services() as s:
        page = s.events.list_events(domain, name_prefix=prefix, limit=limit, scope=operator())
    rows = [[when(e.at), e.smart_account, _sentence(e), e.name] for e in page.items]
    columns = ["At", "Smart account", "Event", "Name"]
    print_table(f"Events ({page.total})", columns, rows)


def _sentence(e: EventOut) -> str:
    return describe(
        e.name,
        actor=e.actor,
        virtual_account=e.virtual_account,
        subject=e.subject,
        properties=e.properties,
    )


@apikey_app.command("create")
@cli_errors
def apikey_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin, a smart-account or a virtual-account role.")] = (
        "admin"
    ),
    account: Annotated[str | None, typer.Option(help="Smart account (non-admin roles).")] = None,
    va: Annotated[
        str | None, typer.Option(help="Virtual account (virtual-account roles only).")
    ] = None,
) -> None:
    """Create an API key and print it (shown once); see docs/security.md for the roles."""
    grant = parse_role(role, "--role")
    with open_services() as s:
        created = s.api_keys.create_api_key(
            name=name, role=grant, smart_account=account, virtual_account=va, actor=actor()
        )
    typer.echo(f"API key {created.id} ({created.role.value}):")
    typer.echo(created.text)


@apikey_app.command("revoke")
@cli_errors
def apikey_revoke(key_id: str) -> None:
    """Revoke an API key by its id (it stops working at once)."""
    with open_services() as s:
        s.api_keys.revoke_api_key(key_id, actor=actor())
    typer.echo(f"revoked API key {key_id}")


@clients_app.command("create")
@cli_errors
def clients_create(
    domain: Domain,
    role: Annotated[
        str, typer.Option(help="admin, a smart-account or a virtual-account role.")
    ] = "smart-account-admin",
    virtual_account: Annotated[
        str | None, typer.Option(help="Virtual account (virtual-account roles only).")
    ] = None,
) -> None:
    """Create an OAuth2 client of a smart account; prints its id and secret (shown once)."""
    grant = parse_role(role, "--role")
    with open_services() as s:
        created = s.api_clients.create_client(
            domain, role=grant, virtual_account=virtual_account, actor=actor()
        )
    typer.echo(f"client_id: {created.client_id}")
    typer.echo(f"client_secret: {created.client_secret}")


@clients_app.command("list")
@cli_errors
def clients_list(
    domain: Annotated[str | None, typer.Argument(help="Only this smart account.")] = None,
) -> None:
    """List the OAuth2 clients (never their secrets)."""
    with open_services() as s:
        clients = s.api_clients.list_clients(domain)
    rows = [
        [
            c.client_id,
            c.role.value,
            c.smart_account or "*",
            c.virtual_account or "-",
            when(c.created_at),
            when(c.revoked_at),
        ]
        for c in clients
    ]
    columns = ["Client id", "Role", "Smart account", "VA", "Created", "Revoked"]
    print_table(f"API clients ({len(rows)})", columns, rows)


@clients_app.command("revoke")
@cli_errors
def clients_revoke(client_id: str) -> None:
    """Revoke an OAuth2 client; its access tokens stop working at once."""
    with open_services() as s:
        s.api_clients.revoke_client(client_id, actor=actor())
    typer.echo(f"revoked API client {client_id}")
