"""Dataclasses to and from JSON-safe dicts, driven by their type hints (pure).

Handles what the agent's persisted state holds: ``str``, ``int``, ``float``, ``bool``, aware
``datetime`` (ISO 8601 with microseconds, so evaluation accounting loses nothing), ``StrEnum``
(by value), nested dataclasses, ``X | None``, ``dict[str, X]`` and ``list[X]``. Anything else
is a programming error and raises ``TypeError`` at the first save.

Usage::

    data = to_json(state)                 # dict of JSON values
    state = from_json(AgentState, data)   # raises ValueError/TypeError/KeyError on bad data
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = ["from_json", "to_json"]

T = TypeVar("T")


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot persist a {type(value).__name__}")


def from_json(cls: type[T], data: Any) -> T:
    """Build ``cls`` (a dataclass) from ``data``; unknown keys are ignored, missing ones default."""
    return typing.cast(T, _decode(cls, data))


def _decode_dataclass(cls: type[Any], data: Any) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be an object")
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: _decode(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)
        if f.name in data
    }
    return cls(**kwargs)


def _decode(hint: Any, data: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(typing.get_args(hint), data)
    if origin is dict:
        _, value_hint = typing.get_args(hint)
        return {str(k): _decode(value_hint, v) for k, v in _expect(dict, data).items()}
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        return [_decode(item_hint, v) for v in _expect(list, data)]
    if dataclasses.is_dataclass(hint):
        return _decode_dataclass(typing.cast(type[Any], hint), data)
    return _decode_scalar(hint, data)


def _decode_union(args: tuple[Any, ...], data: Any) -> Any:
    if data is None and type(None) in args:
        return None
    (inner,) = [a for a in args if a is not type(None)]
    return _decode(inner, data)


def _decode_scalar(hint: Any, data: Any) -> Any:
    if hint is datetime:
        when = datetime.fromisoformat(_expect(str, data))
        if when.tzinfo is None:
            raise ValueError("persisted times must be aware")
        return when.astimezone(UTC)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if hint is float:
        return float(_expect((int, float), data))
    if hint in (str, int, bool):
        return _expect(hint, data)
    raise TypeError(f"cannot decode {hint!r}")


def _expect(kind: Any, data: Any) -> Any:
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        raise TypeError(f"expected {kind}, got {type(data).__name__}")
    return data
