"""``smartlic admin reservations reserve``, ``devices remove --return-code`` and ``licenses
issue-file``: the reservation and license-file services from the command line, on SQLite and
PostgreSQL, with real keys and signatures."""

from __future__ import annotations

from pathlib import Path

from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import LabClock
from smartlic.crypto import Udi, generate_key
from smartlic.formats.license_file import read_license_file
from smartlic.formats.reservation import RequestCode, make_return_code, verify_authorization
from smartlic.formats.signed import SignedVerifier
from tests.test_cli_admin import TAG, Cli, D, _no_authority_environment, cli  # noqa: F401 - fixtures

UDI = Udi("C9300-24UX", "FCW2134L0RN")


def _verifier(cli: Cli) -> tuple[SignedVerifier, AuthorityKeys]:  # noqa: F811
    keys = AuthorityKeys.load(cli.data_dir / "keys")
    return SignedVerifier(LabClock(cli.lab_file)), keys


def test_reserve_print_the_code_then_remove_with_the_return_code(cli: Cli) -> None:  # noqa: F811
    cli.ok("admin", "licenses", "add", D, "DEFAULT", "metroipaccess", "3")
    key = generate_key()
    request = RequestCode.new(UDI, key.public_key()).text
    reserve = ("admin", "reservations", "reserve", D, "DEFAULT", "--request-code", request)
    before = cli.ok("admin", "licenses", "list", D, "DEFAULT")
    cli.error("insufficient-licenses", *reserve, "--license", "metroipaccess=4")
    cli.error("invalid-input", *reserve)  # neither --license nor --universal
    cli.error("invalid-input", *reserve, "--license", "metroipaccess")
    assert cli.ok("admin", "licenses", "list", D, "DEFAULT") == before

    code = cli.ok(*reserve, "--license", "metroipaccess=2").strip()
    verifier, keys = _verifier(cli)
    auth = verify_authorization(code, verifier, ca=keys.ca.certificate, udi=UDI)
    assert [(e.tag, e.count) for e in auth.entitlements] == [(TAG, 2)]
    listing = cli.ok("admin", "licenses", "list", D, "DEFAULT")
    assert cli.row(listing, "Device METRO IP ACCESS")[1:4] == ["3", "0", "2"]
    cli.error("reservation-code-used", *reserve, "--universal")  # a request code is reserved once
    assert "SPECIFIC" in cli.ok("admin", "reservations", "list", D)

    remove = ("admin", "devices", "remove", D, f"{UDI.pid}:{UDI.sn}")
    cli.error("return-code-required", *remove)
    forged = make_return_code(generate_key(), auth.code_id, UDI)
    cli.error("wrong-return-code", *remove, "--return-code", forged)
    assert cli.row(cli.ok("admin", "licenses", "list", D, "DEFAULT"),
                   "Device METRO IP ACCESS")[3] == "2"  # fmt: skip
    cli.ok(*remove, "--return-code", make_return_code(key, auth.code_id, UDI))
    listing = cli.ok("admin", "licenses", "list", D, "DEFAULT")
    assert cli.row(listing, "Device METRO IP ACCESS")[1:4] == ["3", "0", "0"]


def test_issue_file_from_holdings_and_standalone(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    cli.ok("admin", "licenses", "add", D, "DEFAULT", "metroipaccess", "1")
    out = tmp_path / "router.lic"
    issue = ("admin", "licenses", "issue-file", D, "DEFAULT", "--udi", "ASR-903:FOX1234")
    cli.ok(*issue, "--feature", "metroipaccess", "--out", str(out))
    verifier, keys = _verifier(cli)
    router = Udi("ASR-903", "FOX1234")
    lic = read_license_file(out.read_bytes(), verifier, ca=keys.ca.certificate, udi=router)
    assert (lic.feature, lic.count, lic.license_type) == ("metroipaccess", None, "Permanent")
    listing = cli.ok("admin", "licenses", "list", D, "DEFAULT")
    assert cli.row(listing, "Device METRO IP ACCESS")[3] == "1"  # held from the pool
    cli.error("insufficient-licenses", *issue, "--feature", "metroipaccess", "--out",
              str(tmp_path / "two.lic"))  # fmt: skip
    assert not (tmp_path / "two.lic").exists()

    evaluation = tmp_path / "eval.lic"
    cli.ok(*issue, "--feature", "securityk9", "--standalone", "--eval-days", "60",
           "--count", "2", "--out", str(evaluation))  # fmt: skip
    ev = read_license_file(evaluation.read_bytes(), verifier, ca=keys.ca.certificate,
                           udi=Udi("ASR-903", "FOX1234"))  # fmt: skip
    assert (ev.feature, ev.count, ev.license_type, ev.period_days) == (
        "securityk9", 2, "Evaluation", 60)  # fmt: skip


def test_issue_file_reads_the_udi_as_people_type_it(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    """``--udi``: the long form, the short ``PID:SN`` (split at its first colon) and, with the
    shared rule (``Udi.parse``), the long form with blanks or in lower case; what is not a UDI
    is refused with the same reason everywhere, and no file is written, nothing held."""
    cli.ok("admin", "licenses", "add", D, "DEFAULT", "metroipaccess", "9")
    verifier, keys = _verifier(cli)
    issue = ("admin", "licenses", "issue-file", D, "DEFAULT", "--feature", "metroipaccess")
    typed = {
        "PID:ASR-903,SN:FOX1": Udi("ASR-903", "FOX1"),
        "ASR-903:FOX2": Udi("ASR-903", "FOX2"),
        "ASR-903:FOX:3": Udi("ASR-903", "FOX:3"),
        " pid:ASR-903, sn:FOX4 ": Udi("ASR-903", "FOX4"),
    }
    for n, (text, udi) in enumerate(typed.items()):
        out = tmp_path / f"{n}.lic"
        cli.ok(*issue, "--udi", text, "--out", str(out))
        lic = read_license_file(out.read_bytes(), verifier, ca=keys.ca.certificate, udi=udi)
        assert lic.feature == "metroipaccess"
    before = cli.ok("admin", "licenses", "list", D, "DEFAULT")
    assert cli.row(before, "Device METRO IP ACCESS")[3] == "4"
    for text in ("FOX1234", ":FOX1234", "ASR-903:", "PID:ASR-903", "PID:ASR-903,SN:"):
        out = tmp_path / "refused.lic"
        err = cli.error("invalid-input", *issue, "--udi", text, "--out", str(out))
        assert f"not a UDI: {text!r}" in err and "<pid>:<serial>" in err
        assert not out.exists()
    assert cli.ok("admin", "licenses", "list", D, "DEFAULT") == before
