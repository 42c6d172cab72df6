"""A UDI as a person types it (``Udi.parse``): the one rule of the portal's and the API's
``udi`` field, ``admin licenses issue-file --udi``, ``admin devices transfer|remove PID:SN`` and
the device search box. Each of them accepts at least what it accepted before this rule had one
home, and they refuse the same texts with the same reason."""

from __future__ import annotations

import pytest

from smartlic.crypto import Udi
from smartlic.errors import InvalidInput

# what each caller accepted before, and what it read from it
PORTAL_AND_API = [  # the long form (the old ``Udi.parse``)
    ("PID:C9300-24UX,SN:FCW2134L0RN", Udi("C9300-24UX", "FCW2134L0RN")),
    ("PID:ASR 903,SN:FOX,1", Udi("ASR 903", "FOX,1")),
    ("PID:A:B,SN:C", Udi("A:B", "C")),
    ("PID:A,SN:B,SN:C", Udi("A", "B,SN:C")),
]
CLI = [  # issue-file --udi: the long form, or PID:SN split at its first colon
    ("ASR-903:FOX1234", Udi("ASR-903", "FOX1234")),
    ("a:b:c", Udi("a", "b:c")),
    ("C9300 48P:SC1", Udi("C9300 48P", "SC1")),
    ("pid:FOX1", Udi("pid", "FOX1")),  # only an upper-case ``PID:`` starts the long form
]
SEARCH = [("C9300-48P:SC1", Udi("C9300-48P", "SC1")), (" C9300-48P:SC1 ", Udi("C9300-48P", "SC1"))]
# read now by every caller
NEW = [
    (" PID:ASR-903,SN:FOX1234 ", Udi("ASR-903", "FOX1234")),  # copied with its blanks
    ("PID:ASR-903, SN:FOX1234", Udi("ASR-903", "FOX1234")),
    ("pid:ASR-903,sn:FOX1234", Udi("ASR-903", "FOX1234")),
    ("PID: ASR-903 ,SN: FOX1234", Udi("ASR-903", "FOX1234")),
]
REFUSED = [
    *("", "  ", "SC1", ":SC1", "C9300:", " : ", "sw-1.example.net"),
    *("PID:ASR-903", "PID:,SN:FOX1", "PID:ASR-903,SN:", "PID:ASR-903,SN: ", "PID:ASR-903,FOX1234"),
]


@pytest.mark.parametrize(("text", "udi"), PORTAL_AND_API + CLI + SEARCH + NEW)
def test_a_typed_udi_is_read_the_same_everywhere(text: str, udi: Udi) -> None:
    assert Udi.parse(text) == udi


@pytest.mark.parametrize("text", REFUSED)
def test_what_is_not_a_udi_is_refused_with_one_reason(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Udi.parse(text)
    assert caught.value.detail == (
        f"not a UDI: {text!r} (expected PID:<pid>,SN:<serial> or <pid>:<serial>)"
    )


def test_str_is_read_back() -> None:
    for udi in (Udi("C9300-24UX", "FCW2134L0RN"), Udi("ASR 903", "FOX,1"), Udi("A:B", "C")):
        assert Udi.parse(str(udi)) == udi
