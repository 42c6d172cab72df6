"""``smartlic admin user``: portal users and their roles, on the configured database.

::

    smartlic admin user create alice --display-name "Alice" --email alice@acme.example
    smartlic admin user grant alice smart-account-admin --account acme.example
    smartlic admin user grant vic virtual-account-user --account acme.example --va Prod
    smartlic admin user revoke alice smart-account-admin --account acme.example
    smartlic admin user disable alice        # and: enable
    smartlic admin user set-password alice   # a reset; ends every session of alice
    smartlic admin user list

The password is asked for twice without echo (or given with ``--password``, e.g. in scripts).
"""

from __future__ import annotations

from typing import Annotated

import typer

from smartlic.authority.cli import (
    actor,
    cli_errors,
    open_services,
    parse_role,
    print_table,
    when,
)
from smartlic.errors import InvalidInput

__all__ = ["user_app"]

user_app = typer.Typer(help="Portal users and their roles.", no_args_is_help=True)

Username = Annotated[str, typer.Argument(help="Login name, e.g. alice.")]
RoleArg = Annotated[
    str,
    typer.Argument(
        help="admin, smart-account-admin, smart-account-user, virtual-account-admin or "
        "virtual-account-user."
    ),
]
AccountOpt = Annotated[
    str | None, typer.Option("--account", help="Smart account domain (all roles but admin).")
]
VaOpt = Annotated[str | None, typer.Option("--va", help="Virtual account (virtual-account-*).")]
# Optional on the command line: when omitted it is prompted for (twice, without echo), so the
# help must not call it required (issue 13).
PasswordOpt = Annotated[
    str | None,
    typer.Option(
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Prompted for (twice, without echo) when omitted; give it only in scripts.",
    ),
]


def _entered(password: str | None) -> str:
    """The ``--password`` given or typed at the prompt (Click prompts whenever it is omitted)."""
    if password is None:
        raise InvalidInput("password: give --password or type it when asked")
    return password


@user_app.command("create")
@cli_errors
def user_create(
    username: Username,
    password: PasswordOpt = None,
    display_name: Annotated[str, typer.Option(help="Shown in the portal.")] = "",
    email: Annotated[str, typer.Option(help="E-mail address.")] = "",
) -> None:
    """Create a portal user (it has no role until granted one)."""
    with open_services() as s:
        s.users.create_user(
            username=username,
            password=_entered(password),
            display_name=display_name,
            email=email,
            actor=actor(),
        )
    typer.echo(f"created user {username!r}")


@user_app.command("list")
@cli_errors
def user_list() -> None:
    """List portal users and their roles."""
    with open_services() as s:
        users = s.users.list_users()
    rows = [
        [
            u.username,
            u.display_name,
            u.email,
            "disabled" if u.disabled else "active",
            ", ".join(_grant_text(g.role.value, g.smart_account, g.virtual_account)
                      for g in u.grants),
            when(u.created_at),
        ]
        for u in users
    ]  # fmt: skip
    columns = ["Username", "Name", "E-mail", "Status", "Roles", "Created"]
    print_table("Portal users", columns, rows)


def _grant_text(role: str, account: str | None, va: str | None) -> str:
    scope = "/".join(p for p in (account, va) if p)
    return f"{role} ({scope})" if scope else role


@user_app.command("grant")
@cli_errors
def user_grant(
    username: Username, role: RoleArg, account: AccountOpt = None, va: VaOpt = None
) -> None:
    """Give a user a role over the authority, a smart account or a virtual account."""
    with open_services() as s:
        s.users.grant(
            username,
            parse_role(role, "role"),
            smart_account=account,
            virtual_account=va,
            actor=actor(),
        )
    typer.echo(f"granted {_grant_text(role, account, va)} to {username!r}")


@user_app.command("revoke")
@cli_errors
def user_revoke(
    username: Username, role: RoleArg, account: AccountOpt = None, va: VaOpt = None
) -> None:
    """Take a role away from a user."""
    with open_services() as s:
        s.users.revoke(
            username,
            parse_role(role, "role"),
            smart_account=account,
            virtual_account=va,
            actor=actor(),
        )
    typer.echo(f"revoked {_grant_text(role, account, va)} from {username!r}")


@user_app.command("disable")
@cli_errors
def user_disable(username: Username) -> None:
    """Stop a user from logging in (open portal sessions end at once)."""
    with open_services() as s:
        s.users.set_disabled(username, True, actor=actor())
    typer.echo(f"user {username!r} is disabled")


@user_app.command("set-password")
@cli_errors
def user_set_password(
    username: Username,
    password: PasswordOpt = None,
) -> None:
    """Reset a user's password; every portal session of the user ends at once."""
    with open_services() as s:
        s.users.set_password(username, _entered(password), actor=actor())
    typer.echo(f"password of {username!r} changed; its portal sessions have ended")


@user_app.command("enable")
@cli_errors
def user_enable(username: Username) -> None:
    """Let a disabled user log in again."""
    with open_services() as s:
        s.users.set_disabled(username, False, actor=actor())
    typer.echo(f"user {username!r} is enabled")
