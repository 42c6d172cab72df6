"""Golden transcripts, produced by our own shell (tests/shell/golden_cases.py): the document's
example device in every view, the gateway in policy mode, two transcripts and the command
references.

This test only compares. After an intended format change, regenerate with
``PYTHONPATH=src python -m tests.shell.make_golden`` and review the diff. During development
these outputs were compared line by line with real devices' (domain-notes 1.5): ``show license
status`` and ``show license all`` match the c1000v/CSR1000v outputs except for whitespace-only
lines, and one real quirk we do not copy (an unindented ``Virtual Account:`` line in ``show
license all``).
"""

from __future__ import annotations

import pytest

from tests.shell.golden_cases import GOLDEN, GOLDEN_CASES


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_file(name: str) -> None:
    assert GOLDEN_CASES[name]() == (GOLDEN / name).read_text()


def test_every_golden_file_has_a_case() -> None:
    assert {p.name for p in GOLDEN.iterdir()} == set(GOLDEN_CASES)
