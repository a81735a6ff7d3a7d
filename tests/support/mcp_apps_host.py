"""A web host of MCP Apps (tests/support/mcp_apps_host) in Chromium, for the task view's tests.

``host.html`` is bundled from host.js (the extension's ``AppBridge`` and the official TypeScript
MCP client, ``@modelcontextprotocol/sdk``, pinned by package-lock.json) when the tests start.
It is served from ``http://localhost:<port>`` and renders a view through ``sandbox.html`` on the
other origin of the same server (``http://127.0.0.1:<port>``), served with the CSP MCP Apps
prescribes for a view that declares no domain, which the inner frame holding the view inherits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.browser import PageServer, serve_pages
from tests.support.node import npm_ci, require_node, run_node

HOST = Path(__file__).resolve().parent / "mcp_apps_host"
# MCP Apps' restrictive default (Host Behavior: "If ui.csp is omitted"), which is also what a
# view that declares no domain gets, plus what the spec has a sandbox add: no nested frames, no
# plugins, base URIs of its own origin only.
VIEW_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' data:; connect-src 'none'; "
    "frame-src 'none'; object-src 'none'; base-uri 'self'"
)


@contextmanager
def host_pages() -> Iterator[PageServer]:
    """The host page and its sandbox proxy, served until the block ends."""
    require_node()
    npm_ci(HOST)
    with tempfile.TemporaryDirectory(prefix="mcp-apps-host-") as work:
        page = Path(work) / "host.html"
        run_node(HOST, "build.mjs", str(page))
        pages = {"host.html": page, "sandbox.html": HOST / "sandbox.html"}
        with serve_pages(pages, {"sandbox.html": {"content-security-policy": VIEW_CSP}}) as server:
            yield server


def view_frame(page: Any) -> Any:
    """The frame holding the view: the sandbox proxy's inner frame."""
    for frame in page.frames:
        parent = frame.parent_frame
        if parent is not None and parent.url.split("?", 1)[0].endswith("/sandbox.html"):
            return frame
    raise LookupError("no view is shown")
