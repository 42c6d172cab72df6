"""The pure core stays pure: domain, crypto, formats, clock and errors import no web, database
or HTTP-client code (style habit 1), checked by importing each module in a fresh interpreter
and looking at what it loaded."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

PURE_PACKAGES = ("smartlic.domain", "smartlic.crypto", "smartlic.formats")
PURE_MODULES = ("smartlic.clock", "smartlic.errors")
FORBIDDEN = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "httpx",
    "uvicorn",
    "psycopg",
    "jinja2",
    "typer",
)


def _pure_modules() -> list[str]:
    names = list(PURE_MODULES)
    for package in PURE_PACKAGES:
        mod = __import__(package, fromlist=["__path__"])
        names.append(package)
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)]
    return names


@pytest.mark.parametrize("module", _pure_modules())
def test_pure_modules_import_no_web_or_database_code(module: str) -> None:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & set(FORBIDDEN), f"{module} pulls in {sorted(loaded & set(FORBIDDEN))}"
