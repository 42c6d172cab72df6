"""The ``smartlic`` command: one Typer app mounting a sub-app per component.

::

    smartlic authority init|serve|demo|db    set up and run the authority (authority/cli.py)
    smartlic admin ...                       administer the authority's database (below)
    smartlic lab advance|show|reset          the shared lab clock (lab.py)
    smartlic device --state DIR ...          an IOS-like shell on a simulated device

Nothing heavy is imported until a command runs: configuration, the database and FastAPI load
inside the commands, and the device shell is imported only when ``device`` is invoked, so
``smartlic --help`` stays fast. The admin commands call the authority's services directly on
the configured database (``SMARTLIC_AUTHORITY_*``), one service call each.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

import smartlic
from smartlic.authority.admin_cli import admin_app
from smartlic.authority.cli import authority_app
from smartlic.authority.cli_notices import jobs_app, notifications_app, reports_app, webhooks_app
from smartlic.authority.cli_users import user_app
from smartlic.formats.bounds import clean_text
from smartlic.lab import lab_app

if TYPE_CHECKING:
    # Typer vendors click and types its group API against that copy.
    from typer import _click as click

__all__ = ["app", "main"]

# name -> (module, attribute, short help) of sub-apps imported only when invoked
LAZY_APPS = {
    "collector": ("smartlic.collector.cli", "collector_app", "The collector (CSLU / satellite)."),
    "device": (
        "smartlic.agent.shell.cli",
        "app",
        "An IOS-like shell on a simulated device running the license manager.",
    ),
}


class LazyGroup(TyperGroup):
    """A Typer group whose ``LAZY_APPS`` are imported when invoked, not at start-up."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Every argument must be text (``bounds.clean_text``): a byte the locale cannot
        decode reaches ``argv`` as a lone surrogate, and a command printing or storing it
        raised UnicodeEncodeError (a traceback) instead of refusing it."""
        for arg in args:
            if not clean_text(arg):
                shown = arg.encode("utf-8", "backslashreplace").decode()[:60]
                typer.echo(f"Error [invalid-input]: not valid UTF-8 text: {shown}", err=True)
                raise typer.Exit(2)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *sorted(self._lazy())]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._lazy():
            return super().get_command(ctx, cmd_name)
        module, attribute, short_help = LAZY_APPS[cmd_name]
        sub = typer.main.get_command(getattr(importlib.import_module(module), attribute))
        sub.name, sub.short_help = cmd_name, sub.short_help or short_help
        return sub

    @staticmethod
    def _lazy() -> dict[str, tuple[str, str, str]]:
        """The lazy apps whose module exists (the device shell may be absent)."""
        return {name: spec for name, spec in LAZY_APPS.items() if _importable(spec[0])}


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


app = typer.Typer(
    name="smartlic",
    cls=LazyGroup,
    help="smartlic: self-hosted smart licensing (authority, collector, device agent).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(authority_app, name="authority")
app.add_typer(admin_app, name="admin")
admin_app.add_typer(user_app, name="user")  # portal users (authority/cli_users.py)
for _sub, _name in (  # issue 12 (authority/cli_notices.py)
    (jobs_app, "jobs"),
    (reports_app, "reports"),
    (notifications_app, "notifications"),
    (webhooks_app, "webhooks"),
):
    admin_app.add_typer(_sub, name=_name)
app.add_typer(lab_app, name="lab")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smartlic {smartlic.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """smartlic: self-hosted smart licensing (authority, collector, device agent)."""


def main() -> None:
    """Entry point of the ``smartlic`` console script."""
    app()
