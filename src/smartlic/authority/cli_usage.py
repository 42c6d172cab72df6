"""``smartlic admin usage|policy|slac``: Smart Licensing Using Policy at the authority, from the
command line (the same services as the HTTP API, on the configured database).

::

    smartlic admin usage upload demo.example DEFAULT usage.xml --ack ACK_usage.xml
    smartlic admin usage list demo.example
    smartlic admin usage ack demo.example <file id> --out ACK_usage.xml
    smartlic admin usage history demo.example <instance id> [--tag <tag>]
    smartlic admin policy create demo.example policy.json [--va DEFAULT]
    smartlic admin policy list demo.example
    smartlic admin policy show demo.example DEFAULT
    smartlic admin slac request demo.example DEFAULT request.xml --out code.xml
    smartlic admin slac return demo.example <return code>
    smartlic admin slac list demo.example [--all]

``policy_mode_app`` groups the three; it is mounted on ``smartlic admin`` without a name of
its own. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smartlic.authority.cli import cli_errors, open_services, operator, print_table, when
from smartlic.errors import InvalidInput

if TYPE_CHECKING:
    from smartlic.authority.services.interfaces import AuthorizationCodeOut, UsageFileOut

__all__ = ["policy_app", "policy_mode_app", "slac_app", "usage_app"]

usage_app = typer.Typer(
    help="Usage data files (RUM reports) and their acknowledgements.", no_args_is_help=True
)
policy_app = typer.Typer(help="Custom policies of a smart account.", no_args_is_help=True)
slac_app = typer.Typer(help="Authorization codes (SLAC) offline.", no_args_is_help=True)
policy_mode_app = typer.Typer(no_args_is_help=True, add_completion=False)
policy_mode_app.add_typer(usage_app, name="usage")
policy_mode_app.add_typer(policy_app, name="policy")
policy_mode_app.add_typer(slac_app, name="slac")

Domain = Annotated[str, typer.Argument(help="Smart account domain, e.g. demo.example.")]
VaName = Annotated[str, typer.Argument(help="Virtual account name.")]
InFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="File to read.")
]
MAX_FILE_BYTES = 64 * 1024 * 1024  # as the HTTP upload limit


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInput(f"{path} is larger than {MAX_FILE_BYTES} bytes", code="too-large")
    return path.read_bytes()


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    typer.echo(f"wrote {len(data)} bytes to {path}")


# ---------------------------------------------------------------- smartlic admin usage ...


def _file_summary(f: UsageFileOut) -> str:
    return (
        f"usage file {f.id} ({f.file_name}) in {f.virtual_account}: {f.status}, "
        f"{f.instances} device(s), {f.reports} report(s), {f.rejected} rejected; "
        f"ACK {f.acknowledgement}"
    )


@usage_app.command("upload")
@cli_errors
def usage_upload(
    domain: Domain,
    virtual_account: VaName,
    file: InFile,
    ack: Annotated[
        Path | None, typer.Option(help="Also write the ACK file here (when there is one).")
    ] = None,
) -> None:
    """Import a device's usage file (XML) or a .tar.gz bulk archive of usage files."""
    with open_services() as s:
        out = s.usage.upload_usage_file(
            domain, virtual_account, file_name=file.name, content=_read(file), scope=operator()
        )
        data = (
            s.usage.usage_file_ack(domain, out.id, scope=operator())[1]
            if ack and out.ack_name
            else None
        )
    typer.echo(_file_summary(out))
    for error in out.errors[:20]:
        typer.echo(
            f"  rejected {error.get('udi')} report {error.get('report_id')}: {error.get('reason')}"
        )
    if ack is not None and data is not None:
        _write(ack, data)


@usage_app.command("list")
@cli_errors
def usage_list(
    domain: Domain,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
) -> None:
    """List the usage data files received (the "Usage Data Files" report)."""
    with open_services() as s:
        page = s.usage.list_usage_files(domain, limit=limit, scope=operator())
    rows = [
        [
            f.id,
            f.file_name,
            when(f.reported_at),
            f.virtual_account,
            f.status,
            f.instances,
            f.reports,
            f.rejected,
            f.acknowledgement,
        ]
        for f in page.items
    ]
    columns = [
        "Id",
        "File",
        "Reported",
        "Virtual account",
        "Status",
        "Devices",
        "Reports",
        "Rejected",
        "ACK",
    ]
    print_table(f"Usage data files of {domain} ({page.total})", columns, rows)


@usage_app.command("ack")
@cli_errors
def usage_ack(
    domain: Domain,
    file_id: Annotated[str, typer.Argument(help="Usage file id (see 'usage list').")],
    out: Annotated[Path | None, typer.Option(help="Where to write (default: its name).")] = None,
) -> None:
    """Download the ACK of a usage data file (XML, or .tar.gz for a bulk archive)."""
    with open_services() as s:
        name, data = s.usage.usage_file_ack(domain, file_id, scope=operator())
    _write(out or Path(Path(name).name), data)


@usage_app.command("history")
@cli_errors
def usage_history(
    domain: Domain,
    instance_id: Annotated[str, typer.Argument(help="Product instance id.")],
    tag: Annotated[str | None, typer.Option(help="Only this license's tag.")] = None,
) -> None:
    """The RUM reports received from one device, newest first."""
    with open_services() as s:
        records = s.usage.usage_history(domain, instance_id, tag=tag, scope=operator())
    rows = [
        [
            r.report_id,
            r.tag,
            when(r.start),
            when(r.end),
            r.last_value,
            r.max_value,
            when(r.received_at),
        ]
        for r in records
    ]
    columns = ["Report", "Tag", "Start", "End", "Last", "Max", "Received"]
    print_table(f"Usage of {instance_id}", columns, rows)


# ---------------------------------------------------------------- smartlic admin policy ...


@policy_app.command("create")
@cli_errors
def policy_create(
    domain: Domain,
    file: InFile,
    va: Annotated[str | None, typer.Option(help="Assign to this virtual account only.")] = None,
) -> None:
    """Install a custom policy from a JSON file (the format of Policy.to_json())."""
    document = _json_object(file)
    with open_services() as s:
        created = s.policies.create_policy(
            domain, document=document, virtual_account=va, scope=operator()
        )
    scope = f"{domain}/{va}" if va else domain
    typer.echo(f"installed policy {created.name!r} for {scope} (id {created.id})")


def _json_object(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read(file))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file} is not JSON: {exc}", code="malformed-json") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{file}: a policy is a JSON object")
    return data


@policy_app.command("list")
@cli_errors
def policy_list(domain: Domain) -> None:
    """List the custom policies of a smart account."""
    with open_services() as s:
        policies = s.policies.list_policies(domain, scope=operator())
    rows = [
        [
            p.name,
            p.virtual_account or "(smart account)",
            "yes" if p.active else "",
            when(p.created_at),
            p.id,
        ]
        for p in policies
    ]
    print_table(f"Policies of {domain}", ["Name", "Scope", "Active", "Created", "Id"], rows)


@policy_app.command("show")
@cli_errors
def policy_show(domain: Domain, virtual_account: VaName) -> None:
    """Print the policy in force for a virtual account (JSON)."""
    with open_services() as s:
        document = s.policies.policy_in_force(domain, virtual_account, scope=operator())
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


# ---------------------------------------------------------------- smartlic admin slac ...


@slac_app.command("request")
@cli_errors
def slac_request(
    domain: Domain,
    virtual_account: VaName,
    file: InFile,
    out: Annotated[Path, typer.Option(help="Where to write the code file.")] = Path(
        "AuthorizationCode.xml"
    ),
) -> None:
    """Answer a device's authorization request file with an authorization code file."""
    with open_services() as s:
        data = s.authorizations.request_file(
            domain, virtual_account, content=_read(file), scope=operator()
        )
    _write(out, data)


@slac_app.command("return")
@cli_errors
def slac_return(
    domain: Domain,
    code: Annotated[str, typer.Argument(help="The return code the device printed.")],
) -> None:
    """Enter a device's return code: its licenses go back to the pool."""
    with open_services() as s:
        freed = s.authorizations.return_code(code, domain=domain, scope=operator())
    for c in freed:
        typer.echo(f"returned {c.count} x {c.tag} of {c.udi} ({c.virtual_account})")


@slac_app.command("list")
@cli_errors
def slac_list(
    domain: Domain,
    all_codes: Annotated[bool, typer.Option("--all", help="Include returned codes.")] = False,
) -> None:
    """List the authorization codes issued in a smart account."""
    with open_services() as s:
        codes = s.authorizations.list_codes(domain, include_returned=all_codes, scope=operator())
    print_table(f"Authorization codes of {domain}", _CODE_COLUMNS, map(_code_row, codes))


_CODE_COLUMNS = ["Code", "Device", "Virtual account", "Tag", "Count", "Issued", "Returned"]


def _code_row(c: AuthorizationCodeOut) -> list[object]:
    return [
        c.id,
        c.udi,
        c.virtual_account,
        c.tag,
        c.count,
        when(c.issued_at),
        when(c.returned_at) if c.returned_at else None,
    ]
