"""Regenerate the ``--help`` reference in docs/cli.md: ``python -m tests.make_cli_docs``."""

from __future__ import annotations

import os

from tests.test_cli_docs import DOC, expected

if __name__ == "__main__":
    for name in list(os.environ):  # the developer's settings must not leak into the reference
        if name.startswith("SMARTLIC_AUTHORITY_") or name == "SMARTLIC_LAB_CLOCK":
            del os.environ[name]
    DOC.write_text(expected())
    print(f"wrote {DOC}")
