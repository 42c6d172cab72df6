"""The SDK's public surface is exactly ``smartlic.agent.__all__``, sorted (httpx style).

"Sorted" is ruff's isort-style order (rule RUF022, enforced by ``make lint``): CONSTANTS, then
Classes, then functions, each group alphabetical.
"""

from __future__ import annotations

import types

import smartlic.agent


def _isort_key(name: str) -> tuple[int, str]:
    if name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def test_all_is_sorted() -> None:
    assert smartlic.agent.__all__ == sorted(smartlic.agent.__all__, key=_isort_key)


def test_all_imports_are_exported() -> None:
    public = [
        name
        for name, value in vars(smartlic.agent).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]
    assert smartlic.agent.__all__ == sorted(public, key=_isort_key)


def test_exported_members_come_from_the_package() -> None:
    for name in smartlic.agent.__all__:
        value = getattr(smartlic.agent, name)
        module = getattr(value, "__module__", "smartlic.agent")
        assert module.startswith(("smartlic.agent", "typing", "collections.abc")), name
