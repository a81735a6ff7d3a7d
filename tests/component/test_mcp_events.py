"""events/mcp/*.json do what their names say when McpFunction runs them (as `make invoke` would)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[2] / "events" / "mcp"

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
    "get_not_allowed": (405, -32600),
}


def test_every_fixture_is_listed() -> None:
    assert sorted(path.stem for path in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(invoke: Any, name: str) -> None:
    response = invoke("McpFunction", json.loads((EVENTS / f"{name}.json").read_text()))
    status, outcome = EXPECTED[name]
    body = json.loads(response["body"])
    assert response["statusCode"] == status
    if outcome == "result":
        assert "result" in body
    elif outcome in ("ok", "tool error"):
        assert body["result"]["isError"] is (outcome == "tool error")
    else:
        assert body["error"]["code"] == outcome
