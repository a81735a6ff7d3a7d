"""MCP Apps (SEP-1865, extension ``io.modelcontextprotocol/ui``, stable 2026-01-26): the task view.

A client that offers the extension (``capabilities.extensions["io.modelcontextprotocol/ui"]``
with the ``text/html;profile=mcp-app`` MIME type) gets one ``ui://`` resource, the task view, and
sees it named in ``_meta.ui.resourceUri`` of the tools whose results it shows. Its host renders
the view in a sandboxed iframe, hands it the tool's result, and relays the view's own
``tools/call`` requests here with the host's token: the view holds no token and makes no network
call of its own (its resource declares an empty CSP).

A client that does not offer the extension sees the server exactly as before: the same
``tools/list``, no ``resources`` capability, no resource methods.

Where the offer is read, per era, with nothing kept on the server:
- 2026-07-28: every request carries the client's capabilities in ``params._meta``;
- the ``initialize`` era: only ``initialize`` carries them, so its answer to a client that offered
  the extension carries an ``Mcp-Session-Id`` that says so (``mcp-apps.`` and random hex), and the
  client sends it back on every later request. The id names no state: any container reads it the
  same, and a forged one only shows the view's listing, which is the same for every user.

The view's HTML (``task_view.html``, built from ``layers/shared/views/tasks``) is read on the first
``resources/read`` of a container, never at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

EXTENSION: Final = "io.modelcontextprotocol/ui"
MIME_TYPE: Final = "text/html;profile=mcp-app"
VIEW_URI: Final = "ui://tasks/list"
VIEW_FILE: Final = Path(__file__).with_name("task_view.html")
# The tools whose results the view shows: the list, and the changes a user wants to see in it.
VIEW_TOOLS: Final = frozenset({"list_tasks", "add_task", "complete_task", "update_task"})

SESSION_ID_HEADER: Final = "mcp-session-id"
_SESSION_PREFIX: Final = "mcp-apps."

# The view makes no network call and loads nothing: no domain to declare, so hosts apply their
# most restrictive policy (connect-src 'none').
VIEW_META: Final = {"ui": {"csp": {}, "prefersBorder": True}}
VIEW: Final = {
    "uri": VIEW_URI,
    "name": "task_list",
    "title": "Your tasks",
    "description": (
        "The user's tasks, pending first, with buttons to complete, edit and delete them and a field "
        "to add one. Shows the results of list_tasks, add_task, complete_task and update_task."
    ),
    "mimeType": MIME_TYPE,
    "_meta": VIEW_META,
}


def offered(capabilities: Any) -> bool:
    """Whether a client's capabilities offer MCP Apps with the HTML view profile."""
    extensions = capabilities.get("extensions") if isinstance(capabilities, dict) else None
    settings = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
    mime_types = settings.get("mimeTypes") if isinstance(settings, dict) else None
    return isinstance(mime_types, list) and MIME_TYPE in mime_types


def new_session_id() -> str:
    """The ``Mcp-Session-Id`` of an ``initialize``-era client that offered the extension."""
    # os.urandom, as secrets does, without importing secrets on McpFunction's cold start.
    return _SESSION_PREFIX + os.urandom(16).hex()


def in_session(headers: dict[str, str]) -> bool:
    """Whether an ``initialize``-era request comes from a client that offered the extension."""
    return headers.get(SESSION_ID_HEADER, "").startswith(_SESSION_PREFIX)


def with_view(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool's listing for a client that offered the extension: the view, where it shows the result."""
    if tool["name"] not in VIEW_TOOLS:
        return tool
    return {**tool, "_meta": {"ui": {"resourceUri": VIEW_URI}}}


def view_contents() -> dict[str, Any]:
    """The ``contents`` entry of ``resources/read`` for the view: the HTML as built, the same for
    every user. Read from the file each call: the server encodes the answer once per container."""
    return {
        "uri": VIEW_URI,
        "mimeType": MIME_TYPE,
        "text": VIEW_FILE.read_text(encoding="utf-8"),
        "_meta": VIEW_META,
    }
