"""Configuration commands of Smart Licensing Using Policy (domain-notes 2.5, S13):
``license smart transport {automatic|callhome|cslu|off|smart}`` (configure.py registers the
transports), ``license smart url {smart|cslu} <url>``, ``license smart url default``,
``license smart usage interval <1-3650>``, and the lab command ``license smart mode``.

``license smart mode {classic|policy}`` is not an IOS command: devices changed licensing
model with a software upgrade. It is smartlic's way to run either model on one device.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import Reply
from smartlic.domain.policy import MAX_DAYS
from smartlic.formats.bounds import decimal

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register"]

CONFIG = "config"
_URL = Arg("WORD", "URL")


def interval_ok(text: str) -> bool:
    n = decimal(text)
    return n is not None and 1 <= n <= MAX_DAYS


def url_smart(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_smart_url(args["url"])
    return None


def url_cslu(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_cslu_url(args["url"])
    return None


def url_default(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_url(None)
    return None


def usage_interval(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_usage_interval(int(args["days"]))
    return None


def mode(kind: str, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_mode(kind)
    return None


def _register_urls(registry: Registry[Session]) -> None:
    for kind, handler, text in (
        ("smart", url_smart, "Smart transport URL"),
        ("cslu", url_cslu, "CSLU or SSM On-Prem URL (http://<host>:8182/cslu/v1/pi)"),
    ):
        registry.command(
            CONFIG, f"license smart url {kind} {{url}}", handler, help=text, args={"url": _URL}
        )
    text = "Use the default URLs"
    registry.command(CONFIG, "license smart url default", url_default, help=text)


def register(registry: Registry[Session]) -> None:
    registry.describe(CONFIG, "license smart url", "Configure the URLs")
    _register_urls(registry)
    registry.describe(CONFIG, "license smart usage", "Usage reporting settings")
    days = Arg("<1-3650>", "Reporting interval in days (Range: 1-3650)", check=interval_ok)
    registry.command(
        CONFIG,
        "license smart usage interval {days}",
        usage_interval,
        help="Reporting interval in days",
        args={"days": days},
    )
    registry.describe(CONFIG, "license smart mode", "Licensing mode (smartlic lab, not IOS)")
    for kind, text in (
        ("classic", "Classic Smart Licensing (registration, evaluation)"),
        ("policy", "Smart Licensing Using Policy (usage reporting)"),
    ):
        registry.command(CONFIG, f"license smart mode {kind}", partial(mode, kind), help=text)
