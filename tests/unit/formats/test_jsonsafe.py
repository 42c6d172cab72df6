"""Bounded JSON (formats/jsonsafe.py): depth and container count are judged on the text,
before ``json.loads`` builds anything; strings never count."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartlic.errors import InvalidInput, PayloadTooLarge
from smartlic.formats.jsonsafe import JsonLimits, check_shape, loads


def test_100000_levels_are_refused_not_a_recursion_error() -> None:
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000, "[" * 100_000):
        with pytest.raises(InvalidInput) as caught:
            loads(text)
        assert caught.value.code == "json-too-deep" and caught.value.status == 422


def test_the_depth_limit_is_exact() -> None:
    limits = JsonLimits(max_depth=3)
    assert loads("[[[1]]]", limits) == [[[1]]]
    assert loads('[{"a": [1, {}]}]', limits) == [{"a": [1, {}]}]
    with pytest.raises(InvalidInput):
        loads("[[[[1]]]]", limits)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"payload": "[" * 10_000 + '\\"{' * 500})
    assert loads(text)["payload"].startswith("[[[")


def test_too_many_objects_are_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        check_shape(b"[" + b"{}," * 300_000 + b"{}]")
    assert caught.value.code == "json-too-large" and caught.value.status == 413


def test_syntax_errors_stay_json_errors() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads('{"a": ]')


JSON_VALUES = st.recursive(
    st.none() | st.integers() | st.text(),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_documents_within_the_limits_parse_as_json_does(value: object) -> None:
    text = json.dumps(value)
    assert loads(text) == json.loads(text)
