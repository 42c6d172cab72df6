"""Platform profiles as data (docs/profiles.md): every shipped file loads, existing tags stay
stable, and a broken file is refused with the reason."""

from __future__ import annotations

import pytest

from smartlic.domain.enums import Enforcement
from smartlic.domain.products import (
    ALL_LICENSES,
    DEFAULT_PROFILE,
    GATEWAY_PROFILE,
    PROFILES,
    load_profile,
    make_tag,
    valid_tag,
)
from smartlic.errors import InvalidInput

MINIMAL = """
pid = "X-1"
product_name = "Router"
software_tag_name = "x1"
software_version = "17.12.3"
agent_version = "5.11.3_rel/16"
[[license]]
name = "a"
display_name = "A"
[boot_levels]
"a addon b" = [["a", 1]]
"""


def test_every_platform_of_the_issue_is_shipped() -> None:
    assert set(PROFILES) == {"asr903", "asr903-16", "c8000v", "c9300", "c9300-stack", "csr1000v",
                             "isr4451", "ixm"}  # fmt: skip
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert profile.licenses and all(valid_tag(spec.tag) for spec in profile.licenses)
    assert PROFILES["c9300-stack"].stack_members == ("C9300-24U", "C9300-48T")
    assert PROFILES["csr1000v"].licensing_mode == "classic"
    assert PROFILES["c9300"].license("hseck9").enforcement is Enforcement.EXPORT_CONTROLLED
    assert PROFILES["c9300"].license("dna-advantage").subscription


def test_the_documents_devices_keep_their_tags() -> None:
    """Tags made from names are what authorities already sell: moving to data kept them."""
    assert DEFAULT_PROFILE.pid == "ASR-903" and GATEWAY_PROFILE.pid == "IXM-LPWA-900-16-K9"
    assert DEFAULT_PROFILE.license("1588").tag == make_tag("1588")
    assert GATEWAY_PROFILE.license("LORAWAN_CPF").tag == make_tag("LORAWAN_CPF", version="v01")
    assert DEFAULT_PROFILE.software_tag == make_tag("asr903", version="v1")
    assert DEFAULT_PROFILE.features["port"] == [("1GEupgradelicense", 2), ("10GEupgradelicense", 2)]
    assert len({s.tag for s in ALL_LICENSES}) == len(ALL_LICENSES)


@pytest.mark.parametrize(
    ("version", "release"), [("17.12.3", (17, 12)), ("17.9.4a", (17, 9)), ("16.12.4", (16, 12))]
)
def test_release_is_major_and_minor(version: str, release: tuple[int, int]) -> None:
    profile = load_profile("x", MINIMAL.replace("17.12.3", version))
    assert profile.release == release
    assert profile.boot_levels == {"a addon b": [("a", 1)]}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (MINIMAL.replace('pid = "X-1"\n', ""), "'pid'"),
        (MINIMAL.replace('[["a", 1]]', '[["b", 1]]'), "no license 'b'"),
        (MINIMAL.replace('name = "a"', 'name = "a"\nenforcement = "strict"'), "strict"),
        (MINIMAL + "pid = ", "profile x"),
    ],
)
def test_a_broken_profile_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        load_profile("x", text)
    assert reason in refused.value.detail
