"""Browser fixtures: one headless Chromium per test module, a fresh context (cookies, cache,
CORS preflight cache) and page per test. Without a browser the tests fail, saying how to get one;
they never skip (CI installs Debian's chromium in .ci/run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import chromium


# Per module, not per session: Playwright's sync API keeps an event loop running in the main
# thread while it is started, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with chromium() as launched:
            yield launched
    except LookupError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
