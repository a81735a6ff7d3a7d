"""POST /mcp: the MCP server with the signed-in user's task tools (Streamable HTTP, stateless).

Parses the API Gateway (payload 2.0) event, takes the user from the authorizer context and
hands the request to ``McpServer``; the MCP protocol and the tools live in the shared layer.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from chatkit_backend.errors import AuthenticationRequired
from chatkit_backend.identity import identity_from_event
from chatkit_backend.mcp.server import McpServer, McpSettings, encode

SERVER = McpServer(McpSettings.from_env())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    try:
        user_id: str | None = identity_from_event(event).user_id
    except AuthenticationRequired:
        user_id = None
    reply = SERVER.handle(http.get("method", "POST"), headers, _body(event), user_id)
    response: dict[str, Any] = {"statusCode": reply.status, "headers": dict(reply.headers)}
    if reply.body is not None:
        response["headers"]["content-type"] = "application/json"
        response["body"] = encode(reply.body)
    return response


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the JSON parser reports it as the client's mistake
    # surrogateescape keeps undecodable bytes as they came, for the parser to refuse.
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
