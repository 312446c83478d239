"""Staff journeys in a real browser: Playwright driving Debian's chromium (launched by its
executable path: `playwright install` cannot download a browser here), against live_server
(all-in-one) or, marked e2e, against the split stack's gateway (scripts/test-stack). A failing
journey leaves a screenshot of each of its pages under var/browser-failures/ (kept by CI as an
artifact)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAILURES = ROOT / "var" / "browser-failures"
# Every wait (navigation, expect, click) gives up after this long, so a stuck journey fails fast.
TIMEOUT_MS = 15_000


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.journey_failed = report.failed
    return report


@pytest.fixture
def browser(request) -> Iterator:
    """Chromium; `browser.new_context()` is a fresh browser profile (its own cookies)."""
    executable = _chromium()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium; scripts/setup does it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"], timeout=TIMEOUT_MS)
        yield browser
        if getattr(request.node, "journey_failed", False):
            FAILURES.mkdir(parents=True, exist_ok=True)
            pages = [page for context in browser.contexts for page in context.pages]
            for index, page in enumerate(pages):
                page.screenshot(path=str(FAILURES / f"{request.node.name}-{index}.png"), full_page=True)
        browser.close()


def new_page(browser):
    """A page in a fresh browser profile, every wait bounded by TIMEOUT_MS."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(live_server, browser):
    # Asks for live_server first, so the browser closes (and drops its connections) before the
    # server stops.
    return new_page(browser)


@pytest.fixture
def fresh_page(browser):
    """Opens a page in another fresh browser profile (another person's browser)."""
    return lambda: new_page(browser)
