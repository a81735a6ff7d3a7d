"""events/mcp/*.json do what their names say when McpFunction runs them (as `make invoke` would).

The fixtures carry ``${TOKEN}`` where the bearer token goes (a stored token would need a stored
key, and it would expire); here it becomes a user token signed with the test AWS's UserTokenSecret.
The stack runs with an authorization server named, as a deployment with OAuth clients does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.mcp_client import user_token

EVENTS = Path(__file__).resolve().parents[2] / "events" / "mcp"
AUTHORIZATION_SERVER = "https://app.example.test/api/auth"
RESOURCE = "https://abc123.execute-api.us-east-1.amazonaws.com/mcp"

EXPECTED = {
    "initialize": (200, "result"),
    "server_discover": (200, "result"),
    "tools_list": (200, "result"),
    "add_task": (200, "ok"),
    "list_tasks": (200, "ok"),
    "list_tasks_2026": (200, "ok"),
    "complete_task": (200, "tool error"),
    "update_task": (200, "tool error"),
    "delete_task": (200, "tool error"),
    "error_parse": (400, -32700),
    "error_task_not_found": (200, "tool error"),
    "error_unknown_tool": (200, -32602),
    "error_no_token": (401, -32600),
    "get_not_allowed": (405, -32600),
    "resource_metadata": (200, "metadata"),
    "resources_read_view": (200, "result"),
    "error_unknown_resource": (400, -32602),
}


def test_every_fixture_is_listed() -> None:
    assert sorted(path.stem for path in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(invoke: Any, name: str) -> None:
    event = json.loads((EVENTS / f"{name}.json").read_text().replace("${TOKEN}", user_token("user-1")))
    response = invoke("McpFunction", event, {"MCP_AUTHORIZATION_SERVER": AUTHORIZATION_SERVER})
    status, outcome = EXPECTED[name]
    body = json.loads(response["body"])
    assert response["statusCode"] == status
    if outcome == "result":
        assert "result" in body
    elif outcome in ("ok", "tool error"):
        assert body["result"]["isError"] is (outcome == "tool error")
    elif outcome == "metadata":
        assert body["resource"] == RESOURCE
        assert body["authorization_servers"] == [AUTHORIZATION_SERVER]
    else:
        assert body["error"]["code"] == outcome
    if status == 401:
        assert response["headers"]["www-authenticate"] == (
            'Bearer resource_metadata="https://abc123.execute-api.us-east-1.amazonaws.com'
            '/.well-known/oauth-protected-resource/mcp", scope="tasks:read tasks:write"'
        )
