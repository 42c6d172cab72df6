"""``formats.bounds.decimal``: a number written in ASCII decimal digits, the one test every
number typed or sent as text goes through (shell arguments, form fields, poll ids, counts)."""

from __future__ import annotations

import pytest

from smartlic.formats.bounds import decimal


@pytest.mark.parametrize(
    ("text", "number"), [("0", 0), ("007", 7), ("18446744073709551615", 2**64 - 1)]
)
def test_ascii_digits_are_read(text: str, number: int) -> None:
    assert decimal(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "", " 1", "1 ", "-1", "+1", "1.0", "1_000", "0x1",
        "\u00b2",  # superscript two: str.isdigit says yes, int raises
        "\u0663",  # Arabic-Indic three: str.isdigit says yes, int reads 3
        "\uff11",  # fullwidth one
        "1" * 21,  # beyond max_digits (and at 4301, beyond what int reads)
    ],
)  # fmt: skip
def test_anything_else_is_none(text: str) -> None:
    assert decimal(text) is None


def test_max_digits_is_the_callers_bound() -> None:
    assert decimal("12345", max_digits=4) is None
    assert decimal("1234", max_digits=4) == 1234
    assert decimal("9" * 4300, max_digits=5000) is not None
    assert decimal("9" * 4301, max_digits=5000) is None  # int reads no more than 4300
