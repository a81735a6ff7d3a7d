"""POST /mcp, the MCP server with the user's task tools, and its OAuth Protected Resource Metadata.

/mcp is routed without the gateway authorizer: this function checks the bearer token itself,
with the verifier the authorizer runs elsewhere (chatkit_backend.verifier), so that it can answer
its own 401s with the WWW-Authenticate header MCP clients discover the authorization server from
(chatkit_backend.mcp.auth). GET /.well-known/oauth-protected-resource[/mcp] is served here too:
the discovery that follows a 401 lands on the warm container that answered it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from chatkit_backend.http import json_response
from chatkit_backend.mcp.auth import METADATA_MAX_AGE_SECONDS, METADATA_PATH, McpAuthSettings, ResourceServer
from chatkit_backend.mcp.server import McpServer, McpSettings, encode
from chatkit_backend.observability import REQUEST_ID_PATH, logger
from chatkit_backend.verifier import VerifierSettings, build_verifier

AUTH = McpAuthSettings.from_env()
RESOURCE_SERVER = ResourceServer(
    AUTH,
    build_verifier(
        VerifierSettings.from_env(),
        authorization_server=AUTH.authorization_server,
        introspection_secret_arn=AUTH.introspection_secret_arn,
    ),
)
SERVER = McpServer(McpSettings.from_env())


@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    http = request_context.get("http") or {}
    endpoint = RESOURCE_SERVER.endpoint(request_context.get("domainName"))
    if str(event.get("rawPath") or http.get("path") or "").startswith(METADATA_PATH):
        return _metadata(endpoint)
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    credentials = RESOURCE_SERVER.request(headers.get("authorization"), endpoint)
    reply = SERVER.handle(http.get("method", "POST"), headers, _body(event), credentials)
    response: dict[str, Any] = {"statusCode": reply.status, "headers": dict(reply.headers)}
    if reply.body is not None:
        response["headers"]["content-type"] = "application/json"
        response["body"] = encode(reply.body)
    return response


def _metadata(endpoint: Any) -> dict[str, Any]:
    document = RESOURCE_SERVER.metadata(endpoint)
    if document is None:
        return json_response(
            404,
            {"detail": "No OAuth authorization server is configured for /mcp (set McpAuthorizationServer or JwtIssuer)."},
        )
    return json_response(200, document, {"cache-control": f"public, max-age={METADATA_MAX_AGE_SECONDS}"})


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the JSON parser reports it as the client's mistake
    # surrogateescape keeps undecodable bytes as they came, for the parser to refuse.
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
