"""Staff journeys in a real browser: Playwright driving Debian's chromium (launched by its
executable path: `playwright install` cannot download a browser here) against live_server. A
failing journey leaves a screenshot under var/browser-failures/ (kept by CI as an artifact)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAILURES = ROOT / "var" / "browser-failures"


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.journey_failed = report.failed
    return report


@pytest.fixture
def page(request, live_server) -> Iterator:
    # Depends on live_server so the browser closes (and drops its connections) before the
    # server stops.
    executable = _chromium()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium; scripts/setup does it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        context = browser.new_context()
        context.set_default_timeout(15_000)
        page = context.new_page()
        yield page
        if getattr(request.node, "journey_failed", False):
            FAILURES.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(FAILURES / f"{request.node.name}.png"), full_page=True)
        browser.close()
