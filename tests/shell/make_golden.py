"""Regenerate the golden files after an intended output change, then review the diff:

    PYTHONPATH=src python -m tests.shell.make_golden            # every file
    PYTHONPATH=src python -m tests.shell.make_golden NAME ...   # some of them

The test that checks them (test_golden.py) never writes them.
"""

from __future__ import annotations

import sys

from tests.shell.golden_cases import GOLDEN, GOLDEN_CASES


def main(names: list[str]) -> int:
    unknown = set(names) - set(GOLDEN_CASES)
    if unknown:
        print(f"unknown golden file(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for name in names or sorted(GOLDEN_CASES):
        path = GOLDEN / name
        text = GOLDEN_CASES[name]()
        changed = not path.exists() or path.read_text() != text
        path.write_text(text)
        print(f"{'updated  ' if changed else 'unchanged'} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
