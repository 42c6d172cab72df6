# ruff: noqa: F811  (the cli fixture is imported from tests/test_cli_admin.py)
"""``smartlic admin jobs|reports|notifications|webhooks`` on SQLite and PostgreSQL, with a real
SMTP server on loopback."""

from __future__ import annotations

import re
from pathlib import Path

from tests.authority.notices.receivers import smtp_server
from tests.test_cli_admin import Cli, D, _no_authority_environment, cli  # noqa: F401


def test_reports_generate_list_show(cli: Cli, tmp_path: Path) -> None:
    report_id = cli.ok("admin", "reports", "generate", D, "--kind", "manual").strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", report_id)
    va_report = cli.ok(
        "admin", "reports", "generate", D, "--virtual-account", "DEFAULT", "--kind", "periodic"
    ).strip()
    listing = cli.ok("admin", "reports", "list", D)
    assert cli.row(listing, report_id)[1:3] == ["manual", "(all)"]
    assert cli.row(listing, va_report)[1:3] == ["periodic", "DEFAULT"]
    csv = cli.ok("admin", "reports", "show", D, report_id, "--csv")
    assert csv.splitlines()[0].startswith("virtual_account,tag,license,purchased")
    cli.ok("admin", "reports", "show", D, report_id, "--pdf", str(tmp_path / "r.pdf"))
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    cli.error("invalid-input", "admin", "reports", "generate", D, "--kind", "weekly")
    cli.error("not-found", "admin", "reports", "generate", D, "--virtual-account", "Nope")
    cli.error("not-found", "admin", "reports", "show", D, "no-such-report")
    out = cli.ok("admin", "reports", "schedule", D, "--frequency", "daily", "--at", "06:00")
    assert out.startswith("schedule ")
    cli.error(
        "invalid-input", "admin", "reports", "schedule", D, "--frequency", "daily", "--at", "25:00"
    )


def test_subscribe_and_run_due_sends_mail(cli: Cli) -> None:
    cli.ok(
        "admin",
        "user",
        "create",
        "alice",
        "--email",
        "alice@acme.example",
        "--password",
        "correct horse",
    )
    cli.error(
        "invalid-input",
        "admin",
        "notifications",
        "subscribe",
        D,
        "alice",
        "--event",
        "report-ready",
    )
    cli.ok("admin", "user", "grant", "alice", "smart-account-user", "--account", D)
    out = cli.ok("admin", "notifications", "subscribe", D, "alice", "--event", "report-ready")
    assert out.strip() == f"alice <alice@acme.example>: report-ready in {D}, immediately"
    cli.error("invalid-input", "admin", "notifications", "subscribe", D, "alice", "--event", "x")
    assert cli.row(cli.ok("admin", "notifications", "list", D), "alice")[2] == "report-ready"
    cli.ok("admin", "reports", "generate", D)
    with smtp_server() as (inbox, url):
        cli.env["SMARTLIC_AUTHORITY_SMTP_URL"] = url
        cli.env["SMARTLIC_AUTHORITY_MAIL_FROM"] = "licensing@acme.example"
        ran = cli.ok("admin", "jobs", "run-due")
        assert "events.dispatch: ok (1 mail(s) queued" in ran
        assert "mail.send: ok (1 mail(s) sent" in ran
        assert cli.ok("admin", "jobs", "run-due") == ""  # nothing due a moment later
    assert [(m["From"], m["To"]) for m in inbox.messages] == [
        ("licensing@acme.example", "alice@acme.example")
    ]
    assert cli.row(cli.ok("admin", "jobs", "list"), "mail.send")[4] == "ok"


def test_webhooks_cli(cli: Cli) -> None:
    err = cli.error(
        "destination-refused",
        "admin",
        "webhooks",
        "create",
        D,
        "http://127.0.0.1:9/x",
        "--event",
        "report.*",
    )
    assert "127.0.0.1 is a loopback address" in err and "SMARTLIC_AUTHORITY_WEBHOOK_ALLOW" in err
    assert cli.ok("admin", "webhooks", "list", D).count("127.0.0.1") == 0
    cli.env["SMARTLIC_AUTHORITY_WEBHOOK_ALLOW"] = "127.0.0.1"
    out = cli.ok("admin", "webhooks", "create", D, "http://127.0.0.1:9/x", "--event", "report.*")
    hook_id = out.split()[1]
    assert re.search(r"^secret whsec_\S+$", out, re.M)
    assert cli.row(cli.ok("admin", "webhooks", "list", D), hook_id)[2] == "report.*"
    cli.error("invalid-input", "admin", "webhooks", "create", D, "ftp://x/y", "--event", "*")
