"""POST /mcp, the MCP server with the user's task tools, and its OAuth Protected Resource Metadata.

/mcp is routed without the gateway authorizer: this function checks the bearer token itself,
with the verifier the authorizer runs elsewhere (chatkit_backend.auth.verifier), so that it can answer
its own 401s with the WWW-Authenticate header MCP clients discover the authorization server from
(chatkit_backend.auth.resource_server). GET /.well-known/oauth-protected-resource[/mcp] is served here too:
the discovery that follows a 401 lands on the warm container that answered it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from chatkit_backend.auth.resource_server import (
    METADATA_MAX_AGE_SECONDS,
    METADATA_PATH,
    McpAuthSettings,
    ResourceServer,
)
from chatkit_backend.auth.verifier import VerifierSettings, build_verifier
from chatkit_backend.http.responses import json_response
from chatkit_backend.mcp.server import McpServer, McpSettings, encode
from chatkit_backend.observability.logs import REQUEST_ID_PATH, logger
from chatkit_backend.settings import EnvSettings


@dataclass(frozen=True)
class McpFunctionSettings(EnvSettings):
    """McpFunction's environment: the MCP server's, the resource server's (OAuth), the verifier's."""

    server: McpSettings
    auth: McpAuthSettings
    verifier: VerifierSettings


# Built once per container, at start-up: the settings, then the services that use them.
settings = McpFunctionSettings.from_env()
resource_server = ResourceServer(
    settings.auth,
    build_verifier(
        settings.verifier,
        authorization_server=settings.auth.authorization_server,
        introspection_secret_arn=settings.auth.introspection_secret_arn,
    ),
)
service = McpServer(settings.server)


@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    http = request_context.get("http") or {}
    endpoint = resource_server.endpoint(request_context.get("domainName"))
    if str(event.get("rawPath") or http.get("path") or "").startswith(METADATA_PATH):
        return _metadata(endpoint)
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    credentials = resource_server.request(headers.get("authorization"), endpoint)
    reply = service.handle(http.get("method", "POST"), headers, _body(event), credentials)
    response: dict[str, Any] = {"statusCode": reply.status, "headers": dict(reply.headers)}
    if reply.body is not None:
        response["headers"]["content-type"] = "application/json"
        response["body"] = encode(reply.body)
    return response


def _metadata(endpoint: Any) -> dict[str, Any]:
    document = resource_server.metadata(endpoint)
    if document is None:
        return json_response(
            404,
            {
                "detail": "No OAuth authorization server is configured for /mcp (set McpAuthorizationServer or JwtIssuer)."
            },
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
