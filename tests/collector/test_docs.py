"""docs/collector.md documents every collector setting and every alert text."""

from __future__ import annotations

from pathlib import Path

from smartlic.collector.services import _base
from smartlic.collector.settings import ENV_PREFIX, CollectorSettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "collector.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [n for n in CollectorSettings.model_fields if f"`{ENV_PREFIX}{n.upper()}`" not in DOC]
    assert missing == []


def test_every_alert_text_is_documented() -> None:
    texts = [v.replace(": {reason}", "") for k, v in vars(_base).items() if k.isupper()]
    assert len(texts) >= 12
    assert [t for t in texts if f"`{t}" not in DOC] == []
