"""The parser: abbreviations, ``?`` help, IOS error replies with the caret, output modifiers."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from smartlic.agent.shell.filters import apply_modifier
from smartlic.agent.shell.registry import Arg, Modifier, Parsed, Registry, tokenize
from smartlic.agent.shell.render import render
from smartlic.agent.shell.replies import Ambiguous, Help, Incomplete, InvalidInput, Notice, Reply


def _noop(ctx: object, args: Mapping[str, str]) -> Reply:
    return Notice(tuple(f"{k}={v}" for k, v in sorted(args.items())))


def small_registry() -> Registry[object]:
    reg: Registry[object] = Registry()
    reg.describe("exec", "show", "Show running system information")
    reg.describe("exec", "show license", "Show license information")
    reg.command("exec", "show license summary", _noop, help="Show license summary", pipe=True)
    reg.command(
        "exec", "show license status", _noop, help="Show license status information", pipe=True
    )
    reg.command("exec", "show clock", _noop, help="Display the system clock", pipe=True)
    reg.describe("exec", "license smart register idtoken", "Register with an ID token")
    token = Arg("WORD", "Token identification string")
    reg.command("exec", "license smart register idtoken {token}", _noop, args={"token": token})
    reg.command(
        "exec",
        "license smart register idtoken {token} force",
        _noop,
        help="Force",
        args={"token": token},
    )
    reg.command("exec", "logout", _noop, help="Exit from the EXEC")
    return reg


def parsed(line: str) -> Parsed[object]:
    result = small_registry().parse("exec", line)
    assert isinstance(result, Parsed), result
    return result


def test_tokenize_keeps_columns() -> None:
    assert [(t.text, t.start) for t in tokenize("  sh  lic")] == [("sh", 2), ("lic", 6)]


@pytest.mark.parametrize(
    "line", ["show license summary", "sh lic sum", "s license summ", "sho l su"]
)
def test_unique_prefixes_select_the_command(line: str) -> None:
    assert parsed(line).command.path == "show license summary"


def test_arguments_and_trailing_keyword() -> None:
    assert parsed("lic sm reg id ABC").args == {"token": "ABC"}
    with_force = parsed("license smart register idtoken ABC f")
    assert with_force.command.path.endswith("force")


def test_ambiguous_prefix() -> None:
    assert parsed("show license st").command.path == "show license status"
    assert small_registry().parse("exec", "show license s") == Ambiguous("show license s")
    assert render(Ambiguous("show license s")) == '% Ambiguous command:  "show license s"\n\n'


def test_incomplete_command() -> None:
    assert small_registry().parse("exec", "show license") == Incomplete()
    assert small_registry().parse("exec", "license smart register idtoken") == Incomplete()
    assert render(Incomplete()) == "% Incomplete command.\n\n"


def test_invalid_input_caret_on_first_unmatched_character() -> None:
    reg = small_registry()
    assert reg.parse("exec", "show licnese summary") == InvalidInput(8)  # "lic" matched
    assert reg.parse("exec", "shwo") == InvalidInput(2)  # under the "w"
    assert reg.parse("exec", "show license summary extra") == InvalidInput(21)
    assert reg.parse("exec", "bogus") == InvalidInput(0)


def test_invalid_input_rendering_matches_ios() -> None:
    prompt = "Device#"
    line = "show licnese summary"
    text = render(small_registry().parse("exec", line), caret_offset=len(prompt))  # type: ignore[arg-type]
    caret, message, blank = text.split("\n")[:3]
    assert caret.index("^") == len(prompt) + line.index("n", 5)
    assert caret.strip() == "^"
    assert message == "% Invalid input detected at '^' marker."
    assert blank == ""


def test_question_mark_lists_next_keywords_with_help() -> None:
    reply = small_registry().parse("exec", "show license ?")
    assert reply == Help(
        (("status", "Show license status information"), ("summary", "Show license summary"))
    )
    assert render(reply) == (
        "  status   Show license status information\n  summary  Show license summary\n"
    )


def test_question_mark_at_a_complete_command_offers_modifiers_and_cr() -> None:
    reply = small_registry().parse("exec", "sh lic summary ?")
    assert reply == Help((("|", "Output modifiers"), ("<cr>", "<cr>")))


def test_question_mark_shows_arguments() -> None:
    reply = small_registry().parse("exec", "license smart register idtoken ?")
    assert reply == Help((("WORD", "Token identification string"),))
    reply = small_registry().parse("exec", "license smart register idtoken ABC ?")
    assert reply == Help((("force", "Force"), ("<cr>", "<cr>")))


def test_partial_word_question_mark_completes() -> None:
    reply = small_registry().parse("exec", "show license s?")
    assert reply == Help((("status", ""), ("summary", "")), completions_only=True)
    assert render(reply) == "status  summary  \n"


def test_top_level_help_lists_every_first_keyword() -> None:
    reply = small_registry().parse("exec", "?")
    assert isinstance(reply, Help)
    assert [word for word, _ in reply.entries] == ["license", "logout", "show"]


def test_pipe_modifiers_parse_with_abbreviations() -> None:
    assert parsed("show clock | i UTC").modifier == Modifier("include", "UTC")
    assert parsed("sh lic sum | sec License Usage").modifier == Modifier("section", "License Usage")
    assert parsed("sh lic sum | ex a|b").modifier == Modifier("exclude", "a|b")
    assert small_registry().parse("exec", "show clock |") == Incomplete()
    assert small_registry().parse("exec", "show clock | include") == Incomplete()
    reply = small_registry().parse("exec", "show clock | ?")
    assert isinstance(reply, Help)
    assert [word for word, _ in reply.entries] == ["begin", "count", "exclude", "include",
                                                   "section"]  # fmt: skip


def test_pipe_is_refused_where_not_allowed() -> None:
    assert small_registry().parse("exec", "logout | include x") == InvalidInput(7)


def test_registries_are_independent() -> None:
    a, b = small_registry(), small_registry()
    b.command("exec", "show version", _noop)
    assert isinstance(b.parse("exec", "show version"), Parsed)
    assert isinstance(a.parse("exec", "show version"), InvalidInput)


def test_registering_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        small_registry().command("exec", "show clock", _noop)


LINES = [
    "Smart Licensing is ENABLED",
    "",
    "Registration:",
    "  Status: REGISTERED",
    "  Smart Account: BU",
    "",
    "License Authorization: ",
    "  Status: AUTHORIZED",
]


def test_include_exclude_begin() -> None:
    assert apply_modifier(Modifier("include", "Status"), LINES) == [
        "  Status: REGISTERED",
        "  Status: AUTHORIZED",
    ]
    assert apply_modifier(Modifier("exclude", "^ |^$"), LINES) == [
        "Smart Licensing is ENABLED",
        "Registration:",
        "License Authorization: ",
    ]
    assert apply_modifier(Modifier("begin", "^License"), LINES) == LINES[6:]


def test_section_keeps_matching_headers_and_their_indented_lines() -> None:
    assert apply_modifier(Modifier("section", "Registration"), LINES) == LINES[2:5]
    assert apply_modifier(Modifier("section", "Nothing"), LINES) == []
