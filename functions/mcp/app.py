"""POST /mcp, the MCP server with the user's task tools, and its OAuth Protected Resource Metadata.

/mcp is routed without the gateway authorizer: this function checks the bearer token itself, so
that it can answer its own 401s with the WWW-Authenticate header MCP clients discover the
authorization server from. What a request gets: ``chatkit_backend.mcp.server``.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.mcp.server import McpFunctionSettings, McpServer
from chatkit_backend.observability.logs import REQUEST_ID_PATH, logger

# Built once per container, at start-up: the settings, then the service that uses them.
settings = McpFunctionSettings.from_env()
service = McpServer(settings)


@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return service.handle(event)
