"""One catalogue of task tools: the chat's agent offers the model exactly what MCP lists."""

from __future__ import annotations

from chatkit_backend.chat.agent import TOOLS as AGENT_TOOLS
from chatkit_backend.mcp.tools import LISTINGS


def test_the_agent_offers_the_tools_mcp_lists_with_the_same_words_and_schemas() -> None:
    listed = [(tool["name"], tool["description"], tool["inputSchema"]) for tool in LISTINGS["2025-11-25"]]
    offered = [(tool.name, tool.description, tool.params_json_schema) for tool in AGENT_TOOLS]
    assert offered == listed
