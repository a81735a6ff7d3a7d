"""A real browser for tests of what a browser touches, and pages for it to open from their own origin.

The browser is the machine's Chromium (Debian's ``chromium``; on a laptop, Chrome) driven by
Playwright from PyPI. Playwright's own browser download is never used: the executable is found
here (``CHROMIUM_PATH`` overrides) and passed to ``launch``. Each launch gets a fresh profile
(Playwright creates a temporary ``--user-data-dir`` per launch).

``serve_pages`` serves HTML from a loopback port, so a page has an origin of its own: the same
server is ``http://localhost:<port>`` and ``http://127.0.0.1:<port>``, two origins a test can
allow and refuse separately.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.standins.loopback import StandInHandler, serve

CHROMIUM_ENV = "CHROMIUM_PATH"
# Debian/Ubuntu package names first, then Chrome as installed on Linux and macOS laptops.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MAC_CHROME = "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
# What runs headless here (root, no GPU, no network beyond loopback): no sandbox (root), no GPU,
# and nothing that phones home or updates while a test runs.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
MISSING = (
    "No Chromium for the browser tests: install it (Debian/Ubuntu: `apt-get install -y chromium`; "
    "a laptop: Google Chrome) or point CHROMIUM_PATH at its executable."
)


def find_chromium() -> str | None:
    """The browser executable: CHROMIUM_PATH if set, else the first one on PATH, else Chrome on macOS."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    found = next((path for path in map(shutil.which, CANDIDATES) if path), None)
    if found is None and os.access(MAC_CHROME, os.X_OK):
        found = MAC_CHROME
    return found


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``); raises ``LookupError`` with
    ``MISSING`` when there is none to launch."""
    path = find_chromium()
    if path is None:
        raise LookupError(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=list(LAUNCH_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageServer:
    """Pages served at ``http://localhost:<port>/<name>`` (``origin``), and at ``other_origin``,
    the same server under 127.0.0.1: to a browser, another origin."""

    port: int
    pages: dict[str, str]

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def other_origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str, origin: str | None = None) -> str:
        return f"{origin or self.origin}/{name}"


@contextmanager
def serve_pages(
    pages: dict[str, str | Path] | None = None, headers: dict[str, dict[str, str]] | None = None
) -> Iterator[PageServer]:
    """Serve ``pages`` (name -> HTML text or file) on a free loopback port until the block ends,
    each with the response ``headers`` given for its name (a Content-Security-Policy, say).
    More pages can be added to ``.pages`` while it runs."""
    texts = {
        name: Path(page).read_text() if isinstance(page, Path) else page
        for name, page in (pages or {}).items()
    }

    class Handler(StandInHandler):
        def do_GET(self) -> None:
            name = self.path.split("?", 1)[0].lstrip("/")
            text = texts.get(name)
            kind = "text/html; charset=utf-8" if text is not None else "text/plain"
            self.answer(
                200 if text is not None else 404,
                (text or "not found").encode(),
                {"content-type": kind, "cache-control": "no-store", **(headers or {}).get(name, {})},
            )

    with serve(Handler) as url:
        yield PageServer(port=int(url.rsplit(":", 1)[1]), pages=texts)
