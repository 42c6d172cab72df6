"""Browser tests: Playwright driving the real headless Chromium of the machine (Debian's
``chromium`` package, which ``.ci/run`` installs) against real servers on 127.0.0.1.

A missing browser FAILS these tests (it never skips them). Every test runs at desktop and at
phone width (the ``page`` fixture is parametrised); a failing test leaves a full-page screenshot
in ``test-artifacts/`` at the repository root (its path is in the failure report).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def chromium_executable() -> str:
    """The machine's Chromium; an explicit error (a failure, not a skip) when it is missing."""
    for candidate in (os.environ.get("SMARTLIC_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    pytest.fail(
        "no Chromium found: install Debian's `chromium` package (.ci/run does) or set "
        "SMARTLIC_CHROMIUM to the browser's path",
        pytrace=False,
    )


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is started, and the SSH and collector tests that xdist may run next in the same worker
# call asyncio.run(), which refuses to start inside a running loop.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_executable(),
        args=["--no-sandbox", "--disable-dev-shm-usage"],  # root in CI; small /dev/shm
    )
    yield browser
    browser.close()


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def context(browser: Browser, viewport: str) -> Iterator[BrowserContext]:
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
        is_mobile=viewport == "phone",
        has_touch=viewport == "phone",
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "console",  # script errors and CSP refusals; a 4xx page itself is not one
        lambda msg: (
            errors.append(f"console: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",  # a stylesheet, script or image the page asked for and did not get
        lambda r: (
            errors.append(f"{r.status} for {r.url}")
            if r.status >= 400
            and r.request.resource_type not in ("document", "other")
            and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    yield page
    report: Any = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-150:]
        shot = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        report.sections.append(("screenshot", str(shot)))
    assert not errors, errors  # a script error or a refused resource (e.g. by the CSP)
    page.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def fits_the_width(page: Page) -> bool:
    """Nothing wider than the window: no sideways scrolling on a phone."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))
