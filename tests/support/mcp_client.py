"""Requests to McpFunction as API Gateway delivers them, for the function tests.

``/mcp`` has no gateway authorizer: the event carries the client's Authorization header and no
authorizer context, and McpFunction checks the token. ``user_id`` becomes a real user token,
signed with the template's UserTokenSecret in the test's moto.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from local.emulator.events import http_event
from local.emulator.token import mint_user_token
from local.template import REGION, STACK_NAME

MODERN = "2026-07-28"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def result(self) -> dict[str, Any]:
        assert "result" in self.body, self.body
        return self.body["result"]

    @property
    def error(self) -> dict[str, Any]:
        assert "error" in self.body, self.body
        return self.body["error"]


def user_token(user_id: str) -> str:
    """A user token McpFunction accepts: HS256 with the test AWS's UserTokenSecret (AWSCURRENT)."""
    secret = boto3.client("secretsmanager", region_name=REGION).get_secret_value(
        SecretId=f"{STACK_NAME}/UserTokenSecret", VersionStage="AWSCURRENT"
    )["SecretString"]
    return mint_user_token(secret, user_id)


def mcp_event(
    method: str,
    body: Any,
    headers: dict[str, str] | None = None,
    *,
    user_id: str | None = "user-1",
    **kw: Any,
) -> dict[str, Any]:
    """The event of a request to /mcp, with a bearer token for ``user_id`` (None: no Authorization)."""
    headers = dict(headers or {})
    if user_id is not None:
        headers.setdefault("authorization", f"Bearer {user_token(user_id)}")
    return http_event(method, "/mcp", body=body, headers=headers, user_id=None, **kw)


def send(
    invoke: Any, body: Any, headers: dict[str, str] | None = None, *, method: str = "POST", **kw: Any
) -> Reply:
    event = mcp_event(method, body, {**JSON_HEADERS, **(headers or {})}, **kw)
    response = invoke("McpFunction", event)
    assert response["statusCode"] < 500, response
    raw = response.get("body")
    return Reply(response["statusCode"], response.get("headers", {}), json.loads(raw) if raw else None)


def request(method: str, params: dict[str, Any] | None = None, request_id: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def modern(
    method: str,
    params: dict[str, Any] | None = None,
    request_id: Any = 1,
    capabilities: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 request and the headers a conforming client sends with it."""
    params = dict(params or {})
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities or {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    }
    headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
    if method == "tools/call":
        headers["mcp-name"] = params["name"]
    return request(method, params, request_id), headers


def call(
    invoke: Any, tool: str, arguments: dict[str, Any], *, user_id: str = "user-1", version: str = MODERN
) -> Reply:
    """A tools/call in the given revision's framing."""
    if version == MODERN:
        body, headers = modern("tools/call", {"name": tool, "arguments": arguments})
    else:
        body, headers = (
            request("tools/call", {"name": tool, "arguments": arguments}),
            {"mcp-protocol-version": version},
        )
    return send(invoke, body, headers, user_id=user_id)
