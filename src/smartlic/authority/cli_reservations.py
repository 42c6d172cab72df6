"""``smartlic admin reservations ...`` and ``smartlic admin licenses issue-file``: classic
license reservations (SLR / PLR) from a device's request code, and signed node-locked license
files (docs/reservations.md). A reserved device is removed with ``smartlic admin devices
remove DOMAIN PID:SN --return-code CODE``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartlic.authority.cli import cli_errors, open_services, operator, print_table, when
from smartlic.crypto import Udi
from smartlic.errors import InvalidInput
from smartlic.formats.bounds import decimal

__all__ = ["issue_file", "reservations_app"]

reservations_app = typer.Typer(
    help="Classic license reservations (SLR / PLR) from a device's request code.",
    no_args_is_help=True,
)

Domain = Annotated[str, typer.Argument(help="Smart account domain, e.g. demo.example.")]
VaName = Annotated[str, typer.Argument(help="Virtual account name.")]


def _counts(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        name, sep, count = item.rpartition("=")
        number = decimal(count)
        if not sep or not name or number is None:
            raise InvalidInput(f"--license takes TAG_OR_NAME=COUNT, not {item!r}")
        out[name] = number
    return out


@reservations_app.command("reserve")
@cli_errors
def reserve(
    domain: Domain,
    va: VaName,
    request_code: Annotated[
        str,
        typer.Option(
            "--request-code",
            help="The code `license smart reservation request local` printed on the device.",
        ),
    ],
    license: Annotated[
        list[str] | None,
        typer.Option(
            "--license", help="TAG_OR_NAME=COUNT to reserve (repeat); a specific reservation (SLR)."
        ),
    ] = None,
    universal: Annotated[
        bool, typer.Option("--universal", help="Reserve every license (PLR).")
    ] = False,
) -> None:
    """Reserve licenses for a device; prints the authorization code to install on it."""
    licenses = _counts(license or [])
    if bool(licenses) == universal:
        raise InvalidInput("give --license TAG_OR_NAME=N (one or more) or --universal")
    with open_services() as s:
        out = s.reservations.reserve(domain, va, request_code, licenses=licenses,
                                     universal=universal, scope=operator())  # fmt: skip
    typer.echo(out.authorization_code)


@reservations_app.command("list")
@cli_errors
def list_reservations(
    domain: Domain,
    va: Annotated[str | None, typer.Argument(help="Virtual account; all when omitted.")] = None,
) -> None:
    """License reservations: device, type, licenses, issued and returned."""
    with open_services() as s:
        rows = s.reservations.list_reservations(domain, va, scope=operator())
    table = [
        [r.udi, r.virtual_account, r.reservation_type,
         ", ".join(f"{t}={n}" for t, n in r.licenses.items()) or "all",
         when(r.issued_at), when(r.returned_at)]
        for r in rows
    ]  # fmt: skip
    columns = ["UDI", "Virtual account", "Type", "Licenses", "Issued", "Returned"]
    print_table(f"License reservations of {domain} ({len(rows)})", columns, table)


@cli_errors
def issue_file(
    domain: Domain,
    va: VaName,
    udi: Annotated[
        str, typer.Option("--udi", help="The device: PID:<pid>,SN:<serial>, or PID:SN.")
    ],
    feature: Annotated[str, typer.Option("--feature", help="License tag or name (the feature).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the license file.")],
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Count; uncounted when omitted.")
    ] = None,
    eval_days: Annotated[
        int | None, typer.Option("--eval-days", min=1, help="An evaluation license of D days.")
    ] = None,
    standalone: Annotated[
        bool,
        typer.Option(
            "--standalone",
            help="A standalone traditional entitlement, not "
            "taken from the virtual account's holdings.",
        ),
    ] = False,
) -> None:
    """Write a signed node-locked license file for one device and one feature."""
    with open_services() as s:
        issued = s.reservations.issue_file(domain, va, Udi.parse(udi), feature, count=count,
                                           eval_days=eval_days, from_holdings=not standalone,
                                           scope=operator())  # fmt: skip
    out.write_bytes(issued.data)
    typer.echo(f"license file {issued.serial} for {issued.udi} ({issued.feature}) written to {out}")
