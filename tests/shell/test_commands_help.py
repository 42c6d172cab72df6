"""``?`` over the real command set, as a person at the prompt would use it."""

from __future__ import annotations

from tests.shell.conftest import Console


def words(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def test_exec_top_level(console: Console) -> None:
    assert words(console("?")) == [
        *("configure", "copy", "dir", "disable", "enable", "exit", "lab", "license", "logout"),
        *("more", "show", "terminal", "write"),
    ]


def test_exec_license_smart(console: Console) -> None:
    assert console("license smart ?") == (
        "  authorization  Smart Licensing Authorization Code (SLAC)\n"
        "  deregister     Deregister from the authority\n"
        "  import         Import an ACK, policy, trust or authorization code file\n"
        "  register       Register with the licensing authority\n"
        "  renew          Renew the ID certificate or the authorization\n"
        "  reservation    License reservation (SLR / PLR)\n"
        "  save           Save license information to a file\n"
        "  sync           Synchronize with CSLU or the authority\n"
        "  trust          Trust establishment\n"
    )
    assert console("lic sm reg idtoken ?") == "  WORD  Token identification string\n"
    assert console("lic sm reg idtoken ABC ?") == ("  force  Force a registration\n  <cr>   <cr>\n")


def test_show_license_and_modifiers(console: Console) -> None:
    assert words(console("show license ?")) == [
        "all",
        "authorization",
        "data",
        "eventlog",
        "history",
        "reservation",
        "rum",
        "status",
        "summary",
        "tech",
        "udi",
        "usage",
        "|",
        "<cr>",
    ]
    assert console("show license summary ?") == "  |     Output modifiers\n  <cr>  <cr>\n"
    assert console("show license summary | ?") == (
        "  begin    Begin with the line that matches\n"
        "  count    Count number of lines which match regexp\n"
        "  exclude  Exclude lines that match\n"
        "  include  Include lines that match\n"
        "  section  Filter a section of output\n"
    )
    assert console("sh lic sum | inc ?") == "  LINE  Regular Expression\n"


def test_config_mode_choices_come_from_the_profile(console: Console) -> None:
    console("configure terminal")
    assert words(console("?")) == [
        "do",
        "end",
        "exit",
        "hostname",
        "license",
        "line",
        "logging",
        "no",
    ]
    assert words(console("license ?")) == ["boot", "feature", "smart"]
    assert words(console("license boot level ?")) == [
        "advancedmetroipaccess",
        "metroaccess",
        "metroipaccess",
    ]
    assert words(console("license feature ?")) == ["atm", "gnss", "ipsec", "port", "ptp", "upoe"]
    assert words(console("license smart ?")) == [
        "custom_id",
        "enable",
        "mode",
        "privacy",
        "proxy",
        "reservation",
        "server-identity-check",
        "transport",
        "url",
        "usage",
        "utility",
        "vrf",
    ]
    assert words(console("license smart transport ?")) == [
        "automatic",
        "callhome",
        "cslu",
        "off",
        "smart",
    ]
    assert console("license smart proxy port ?") == "  <1-65535>  Proxy port number\n"


def test_partial_word_completion(console: Console) -> None:
    assert console("sh?") == "show  \n"
    assert console("show license s?") == "status  summary  \n"


def test_ambiguous_and_incomplete_in_the_real_set(console: Console) -> None:
    assert console("l") == '% Ambiguous command:  "l"\n\n'
    assert console("license smart") == "% Incomplete command.\n\n"
    console("conf t")
    assert console("license smart proxy port 70000") == (
        "                         ^\n% Invalid input detected at '^' marker.\n\n"
    )


def test_every_command_has_help_for_the_reference(console: Console) -> None:
    registry = console.session.registry
    for mode in registry.modes():
        for command in registry.commands(mode):
            last = command.path.split()[-1]
            if not last.startswith("{"):
                assert command.help, f"{mode}: {command.path} has no help text"
