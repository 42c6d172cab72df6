"""The device shell against a live authority on loopback: register, compliance, deregister.

Dates are read back from our own ``show license`` outputs by the pyATS Genie parsers: the
classic Registration/Authorization fields by ``ShowLicenseTechSupport`` (the only Genie parser
with regexes for them), the rest by ``ShowLicenseStatus``/``ShowLicenseSummary``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.commands.exec_license import REGISTER_NOTICE
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.session import Session
from tests.authority.api.conftest import LiveAuthority, live_authority  # noqa: F401 - fixture
from tests.authority.api.helpers import build_world, create_token, pool_line
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse, genie_parse_unchecked

pytestmark = pytest.mark.e2e


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the shell's behaviour does not depend on the authority's database, and
    the authority's own suites already run on both backends."""
    path = tmp_path / "authority.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def api(live_authority: LiveAuthority) -> httpx.Client:  # noqa: F811 - the fixture above
    client = live_authority.client()
    build_world(client, prod=1, spare=1)  # one metroipaccess license in Prod, no 1588
    return client


@pytest.fixture
def router(
    live_authority: LiveAuthority,  # noqa: F811
    make_device: Callable[..., Device],
) -> Console:
    console = Console(Session(make_device(authority=live_authority.url), build_registry()))
    console.config("license smart enable", "license boot level metroipaccess")
    return console


def token(api: httpx.Client) -> str:
    text: str = create_token(api, "Prod", description="shell e2e", expires_after_days=30)["text"]
    return text


def classic_fields(console: Console) -> dict[str, Any]:
    parsed = genie_parse_unchecked("tech", console("show license tech support"))
    fields: dict[str, Any] = parsed["smart_licensing_status"]
    return fields


def test_register_gives_registered_and_authorized_with_the_classic_dates(
    api: httpx.Client, router: Console
) -> None:
    assert "  Status: EVAL MODE\n" in router("show license summary")
    assert router(f"license smart register idtoken {token(api)}") == REGISTER_NOTICE + "\n"

    status = genie_parse("status", router("show license status"))
    assert status["account_information"] == {"smart_account": "Acme", "virtual_account": "Prod"}
    assert status["transport"]["type"] == "Smart"
    fields = classic_fields(router)
    assert fields["status"] == "AUTHORIZED on Jan 01 12:00:00 2026 UTC"
    assert fields["exportcontrolled_functionality"] == "ALLOWED"
    assert fields["initial_registration"] == "SUCCEEDED on Jan 01 12:00:00 2026 UTC"
    assert fields["last_renewal_attempt"] == "None"
    assert fields["next_renewal_attempt"] == "Jun 30 12:00:00 2026 UTC"  # +180 days
    assert fields["registration_expires"] == "Jan 01 12:00:00 2027 UTC"  # +365 days
    assert fields["last_communication_attempt"] == "SUCCEEDED on Jan 01 12:00:00 2026 UTC"
    assert fields["next_communication_attempt"] == "Jan 31 12:00:00 2026 UTC"  # +30 days
    assert fields["communication_deadline"] == "Apr 01 12:00:00 2026 UTC"  # +90 days
    rows = genie_parse("summary", router("show license summary"))["license_usage"]
    assert rows["metroipaccess"]["status"] == "AUTHORIZED"


def test_renewal_after_thirty_days_moves_the_dates(api: httpx.Client, router: Console) -> None:
    router(f"license smart register idtoken {token(api)}")
    assert router("lab clock advance 30d") == "12:00:00.000 UTC Sat Jan 31 2026\n"
    fields = classic_fields(router)
    assert fields["last_communication_attempt"] == "SUCCEEDED on Jan 31 12:00:00 2026 UTC"
    assert fields["next_communication_attempt"] == "Mar 02 12:00:00 2026 UTC"
    assert fields["communication_deadline"] == "May 01 12:00:00 2026 UTC"
    notice = router("license smart renew auth")
    assert notice.startswith("license smart renew auth: Authorization process is in progress.")
    assert classic_fields(router)["status"] == "AUTHORIZED on Jan 31 12:00:00 2026 UTC"


def test_a_license_the_account_does_not_hold_is_out_of_compliance(
    api: httpx.Client, router: Console
) -> None:
    router(f"license smart register idtoken {token(api)}")
    router.config("license feature ptp")  # "Device 1588": none purchased in Prod
    rows = genie_parse("summary", router("show license summary"))["license_usage"]
    assert rows["metroipaccess"]["status"] == "AUTHORIZED"
    assert rows["1588"]["status"] == "OUT OF COMPLIANCE"
    assert classic_fields(router)["status"].startswith("OUT OF COMPLIANCE on ")


def test_an_exhausted_pool_puts_the_next_device_out_of_compliance(
    live_authority: LiveAuthority,  # noqa: F811
    api: httpx.Client,
    router: Console,
    make_device: Callable[..., Device],
    tmp_path: Path,
) -> None:
    text = token(api)
    router(f"license smart register idtoken {text}")
    second = Console(
        Session(
            make_device(tmp_path / "r2", sn="FOX0000002", authority=live_authority.url),
            build_registry(),
        )
    )
    second.config("hostname R2", "license smart enable", "license boot level metroipaccess")
    second(f"license smart register idtoken {text}")
    summary = second("show license summary")
    rows = genie_parse("summary", summary)["license_usage"]
    assert rows["metroipaccess"]["status"] == "OUT OF COMPLIANCE"
    assert "  Status: OUT OF COMPLIANCE\n" in summary
    line = pool_line(api, "Prod")
    assert (line["purchased"], line["in_use"]) == (1, 2)
    assert (
        genie_parse("summary", router("show license summary"))["license_usage"]["metroipaccess"][
            "status"
        ]
        == "AUTHORIZED"
    )


def test_deregister_returns_to_unregistered_and_evaluation(
    api: httpx.Client, router: Console
) -> None:
    router(f"license smart register idtoken {token(api)}")
    assert pool_line(api, "Prod")["in_use"] == 1
    assert router("license smart deregister") == ""
    summary = router("show license summary")
    assert "  Status: UNREGISTERED\n" in summary
    assert "account_information" not in genie_parse("summary", summary)
    assert genie_parse("summary", summary)["license_usage"]["metroipaccess"]["status"] == (
        "EVAL MODE"
    )
    assert pool_line(api, "Prod")["in_use"] == 0


def test_a_rejected_token_fails_the_command(router: Console) -> None:
    outcome = router.session.execute("license smart register idtoken not-a-token")
    assert outcome.failed
    assert outcome.text.startswith("% ")
    assert "  Status: EVAL MODE\n" in router("show license summary")


def test_already_registered_needs_force(api: httpx.Client, router: Console) -> None:
    text = token(api)
    router(f"license smart register idtoken {text}")
    again = router.session.execute(f"license smart register idtoken {text}")
    assert again.failed and "already registered" in again.text
    assert router(f"license smart register idtoken {text} force") == REGISTER_NOTICE + "\n"


def test_an_unreachable_authority_lets_the_authorization_expire(
    api: httpx.Client, router: Console
) -> None:
    router(f"license smart register idtoken {token(api)}")
    router.config("license smart url http://127.0.0.1:9")  # nothing listens on port 9
    router("lab clock advance 31d")
    fields = classic_fields(router)
    assert fields["status"] == "AUTHORIZED on Jan 01 12:00:00 2026 UTC"
    assert fields["last_communication_attempt"] == "FAILED on Feb 01 12:00:00 2026 UTC"
    assert fields["failure_reason"]
    assert fields["communication_deadline"] == "Apr 01 12:00:00 2026 UTC"
    router("lab clock advance 60d")
    status = router("show license status")
    assert "  Status: AUTHORIZATION EXPIRED on " in status
    summary = genie_parse("summary", router("show license summary"))
    assert summary["license_usage"]["metroipaccess"]["status"] == "AUTHORIZATION EXPIRED"
