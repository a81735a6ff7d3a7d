"""A real browser for the tests of what a browser touches: Playwright driving the system's Chromium.

Debian's ``chromium`` (/usr/bin/chromium, or CHROMIUM_PATH) is used as is; Playwright's own
browser download is never needed. Without it the browser tests skip, saying how to install it;
under CI=true a missing browser fails instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured
    return next((path for path in map(shutil.which, CHROMIUM_CANDIDATES) if path), None)


# Module scope, not session: Playwright's sync API runs an event loop in the main thread while it
# is up, which would stop every later test from running its own (asyncio.run).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        message = "no Chromium: install Debian's `chromium` (apt-get install -y chromium) or set CHROMIUM_PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
