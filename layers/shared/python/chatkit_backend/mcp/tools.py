"""The task tools as MCP lists them: the catalogue's definitions (``chatkit_backend.tasks.tools``)
in the shape each protocol revision gives a tool.

``LISTINGS[version]`` is the listing as that revision defines it (``annotations`` from
2025-03-26, ``title`` and ``outputSchema`` from 2025-06-18), built once per container so
``tools/list`` costs a dict lookup.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.mcp.protocol import KNOWN_VERSIONS, version_at_least
from chatkit_backend.tasks.tools import TOOLS, ToolSpec


def definition(tool: ToolSpec, version: str) -> dict[str, Any]:
    """``tool`` as ``tools/list`` shows it in the given protocol revision."""
    shown: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
    }
    if version_at_least(version, "2025-03-26"):
        shown["annotations"] = {"title": tool.title, **tool.annotations}
    if version_at_least(version, "2025-06-18"):
        shown["title"] = tool.title
        shown["outputSchema"] = tool.output_schema
    return shown


# The listing per revision, in a stable order, built once per container.
LISTINGS: dict[str, list[dict[str, Any]]] = {
    version: [definition(tool, version) for tool in TOOLS] for version in KNOWN_VERSIONS
}
