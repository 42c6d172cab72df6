"""``smartlic admin jobs|reports|notifications|webhooks``: the job runner, the report archive,
users' notification settings and webhooks, on the configured database.

::

    smartlic admin jobs run-due                       # whatever is due now (the server also does)
    smartlic admin jobs list
    smartlic admin reports generate demo.example --virtual-account DEFAULT --kind manual
    smartlic admin reports list demo.example
    smartlic admin reports show demo.example REPORT_ID [--csv | --pdf FILE]
    smartlic admin reports schedule demo.example --frequency weekly --at 06:00
    smartlic admin notifications subscribe demo.example demo --event compliance-warning --digest
    smartlic admin webhooks create demo.example https://hooks.example/x --event 'compliance.*'
    smartlic admin webhooks deliveries demo.example
    smartlic admin webhooks replay demo.example DELIVERY_ID
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartlic.authority.cli import cli_errors, open_services, operator, print_table, when
from smartlic.domain.reports import Frequency, ReportKind
from smartlic.errors import InvalidInput

__all__ = ["jobs_app", "notifications_app", "reports_app", "webhooks_app"]

jobs_app = typer.Typer(help="The job runner (periodic tasks).", no_args_is_help=True)
reports_app = typer.Typer(help="Report archive and schedules.", no_args_is_help=True)
notifications_app = typer.Typer(help="Users' e-mail notification settings.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints and deliveries.", no_args_is_help=True)

Domain = Annotated[str, typer.Argument(help="Smart account domain, e.g. demo.example.")]
VaOpt = Annotated[
    str | None, typer.Option("--virtual-account", "--va", help="One virtual account.")
]


@jobs_app.command("run-due")
@cli_errors
def jobs_run_due() -> None:
    """Run every job that is due now; prints one line per job run."""
    with open_services() as s:
        for out in s.jobs.run_due():
            typer.echo(f"{out.name}: {out.status} ({out.summary})")


@jobs_app.command("run")
@cli_errors
def jobs_run(name: Annotated[str, typer.Argument(help="Job name, e.g. mail.send.")]) -> None:
    """Run one job now, due or not."""
    with open_services() as s:
        out = s.jobs.run_now(name)
    typer.echo(f"{name}: held by another process" if out is None else f"{name}: {out.status}")


@jobs_app.command("list")
@cli_errors
def jobs_list() -> None:
    """Each job's schedule and last run."""
    with open_services() as s:
        rows = [
            [j.name, f"{j.every_s:g}s", when(j.next_run_at), when(j.last_finished_at),
             j.last_status, str(j.runs), j.last_error or ""]
            for j in s.jobs.list_jobs()
        ]  # fmt: skip
    print_table("Jobs", ["Job", "Every", "Next", "Last", "Status", "Runs", "Error"], rows)


@reports_app.command("generate")
@cli_errors
def reports_generate(
    domain: Domain,
    virtual_account: VaOpt = None,
    kind: Annotated[str, typer.Option(help="manual, periodic or compliance-warning.")] = "manual",
) -> None:
    """Generate and archive a report now; prints its id."""
    if kind not in set(ReportKind):
        raise InvalidInput(f"kind: one of {', '.join(ReportKind)}")
    with open_services() as s:
        r = s.reports.generate(
            domain,
            kind=ReportKind(kind),
            scope=operator(),
            virtual_account=virtual_account,
        )
    typer.echo(r.id)


@reports_app.command("list")
@cli_errors
def reports_list(
    domain: Domain,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 100,
) -> None:
    """The archive, newest first."""
    if kind is not None and kind not in set(ReportKind):
        raise InvalidInput(f"kind: one of {', '.join(ReportKind)}")
    with open_services() as s:
        items, total = s.reports.list_reports(
            domain, kind=ReportKind(kind) if kind else None, limit=limit, scope=operator()
        )
    rows = [
        [r.id, r.kind.value, r.virtual_account or "(all)", when(r.generated_at),
         r.generated_by, str(r.shortfalls)]
        for r in items
    ]  # fmt: skip
    print_table(
        f"Reports of {domain} ({total})",
        ["Id", "Kind", "Virtual account", "Generated", "By", "Short"],
        rows,
    )


@reports_app.command("show")
@cli_errors
def reports_show(
    domain: Domain,
    report_id: Annotated[str, typer.Argument(help="Report id.")],
    csv: Annotated[bool, typer.Option("--csv", help="Print the CSV.")] = False,
    pdf: Annotated[Path | None, typer.Option(help="Write the PDF document here.")] = None,
) -> None:
    """One archived report (table, CSV or PDF)."""
    with open_services() as s:
        r = s.reports.get_report(domain, report_id, scope=operator())
        if csv:
            typer.echo(s.reports.csv_text(r), nl=False)
            return
        if pdf is not None:
            pdf.write_bytes(s.reports.pdf_bytes(r))
            typer.echo(f"wrote {pdf}")
            return
    cols = ["virtual_account", "tag", "purchased", "in_use", "reserved", "shortfall", "status"]
    print_table(
        f"{r.kind.value} report {r.id} ({when(r.generated_at)})",
        cols,
        [[str(row[c]) for c in cols] for row in r.rows],
    )


@reports_app.command("schedule")
@cli_errors
def reports_schedule(
    domain: Domain,
    frequency: Annotated[str, typer.Option(help="daily, weekly (Mondays), monthly (the 1st).")],
    at: Annotated[str, typer.Option("--at", help="Time of day, HH:MM UTC.")] = "06:00",
    virtual_account: VaOpt = None,
) -> None:
    """Add a Periodic Record schedule."""
    if frequency not in set(Frequency):
        raise InvalidInput(f"frequency: one of {', '.join(Frequency)}")
    with open_services() as s:
        sch = s.reports.add_schedule(
            domain,
            Frequency(frequency),
            at,
            scope=operator(),
            virtual_account=virtual_account,
        )
    typer.echo(f"schedule {sch.id}: {frequency} at {at}, first {when(sch.next_run_at)}")


@reports_app.command("schedules")
@cli_errors
def reports_schedules(domain: Domain) -> None:
    """List the Periodic Record schedules."""
    with open_services() as s:
        rows = [
            [x.id, x.frequency.value, x.time_of_day, x.virtual_account or "(all)",
             when(x.next_run_at)]
            for x in s.reports.list_schedules(domain, scope=operator())
        ]  # fmt: skip
    print_table("Schedules", ["Id", "Frequency", "At", "Virtual account", "Next"], rows)


@notifications_app.command("subscribe")
@cli_errors
def notifications_subscribe(
    domain: Domain,
    user: Annotated[str, typer.Argument(help="Username.")],
    event: Annotated[
        str,
        typer.Option(
            help="compliance-warning, license-expiring, token-expiring, instance-not-reporting, "
            "ack-overdue, report-ready or collector-out-of-sync."
        ),
    ],
    digest: Annotated[bool, typer.Option("--digest", help="In the daily digest.")] = False,
) -> None:
    """Mail USER about EVENT in the smart account (immediately, or in the daily digest)."""
    with open_services() as s:
        sub = s.notifications.subscribe(domain, user, event, digest=digest, scope=operator())
    how = "daily digest" if sub.digest else "immediately"
    typer.echo(f"{user} <{sub.email or 'no e-mail address'}>: {event} in {domain}, {how}")


@notifications_app.command("unsubscribe")
@cli_errors
def notifications_unsubscribe(
    domain: Domain,
    user: Annotated[str, typer.Argument(help="Username.")],
    event: Annotated[str, typer.Option(help="The event to stop mailing.")],
) -> None:
    """Stop mailing USER about EVENT."""
    with open_services() as s:
        s.notifications.unsubscribe(domain, user, event, scope=operator())
    typer.echo(f"{user}: no more {event} in {domain}")


@notifications_app.command("list")
@cli_errors
def notifications_list(domain: Domain) -> None:
    """Who is told about what."""
    with open_services() as s:
        rows = [
            [x.username, x.email, x.event.value, "digest" if x.digest else "immediately"]
            for x in s.notifications.list_subscriptions(domain, scope=operator())
        ]
    print_table(f"Notifications in {domain}", ["User", "E-mail", "Event", "How"], rows)


@webhooks_app.command("create")
@cli_errors
def webhooks_create(
    domain: Domain,
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the POSTs.")],
    event: Annotated[
        list[str], typer.Option("--event", help="Event filter, e.g. 'compliance.*' (repeat).")
    ],
) -> None:
    """Add a webhook; prints its id and its signing secret (shown only now)."""
    with open_services() as s:
        ep = s.webhooks.create_endpoint(domain, url, event, scope=operator())
    typer.echo(f"webhook {ep.id}\nsecret {ep.secret}")


@webhooks_app.command("list")
@cli_errors
def webhooks_list(domain: Domain) -> None:
    """The smart account's webhooks."""
    with open_services() as s:
        rows = [
            [e.id, e.url, " ".join(e.events), when(e.created_at)]
            for e in s.webhooks.list_endpoints(domain, scope=operator())
        ]
    print_table("Webhooks", ["Id", "URL", "Events", "Created"], rows)


@webhooks_app.command("deliveries")
@cli_errors
def webhooks_deliveries(domain: Domain) -> None:
    """The delivery log, newest first: state, attempts and response codes."""
    with open_services() as s:
        rows = [
            [str(d.id), d.event_name, d.state, str(d.attempts),
             " ".join(str(a.status_code or a.error) for a in d.log)]
            for d in s.webhooks.list_deliveries(domain, scope=operator())
        ]  # fmt: skip
    print_table("Deliveries", ["Id", "Event", "State", "Attempts", "Responses"], rows)


@webhooks_app.command("replay")
@cli_errors
def webhooks_replay(
    domain: Domain, delivery_id: Annotated[int, typer.Argument(help="Delivery id.")]
) -> None:
    """Queue a delivery's payload again."""
    with open_services() as s:
        d = s.webhooks.replay(domain, delivery_id, scope=operator())
    typer.echo(f"delivery {d.id} queued (replay of {delivery_id})")
