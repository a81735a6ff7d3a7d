"""Requests to McpFunction as API Gateway delivers them, for the component tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local.events import http_event

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


def send(
    invoke: Any, body: Any, headers: dict[str, str] | None = None, *, method: str = "POST", **kw: Any
) -> Reply:
    event = http_event(method, "/mcp", body=body, headers={**JSON_HEADERS, **(headers or {})}, **kw)
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
    method: str, params: dict[str, Any] | None = None, request_id: Any = 1
) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 request and the headers a conforming client sends with it."""
    params = dict(params or {})
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
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
