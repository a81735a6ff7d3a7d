"""The tool definitions are valid JSON Schema, and the hand-written argument checker agrees
with a real JSON Schema validator on what the schemas allow."""

from __future__ import annotations

from typing import Any

import pytest
from chatkit_backend.mcp.tools import LISTINGS
from chatkit_backend.tasks.tools import TOOLS_BY_NAME, ArgumentError, check_arguments
from jsonschema import Draft202012Validator

TASK_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.mark.parametrize("tool", LISTINGS["2025-11-25"], ids=lambda tool: tool["name"])
def test_schemas_are_valid_json_schema(tool: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(tool["inputSchema"])
    Draft202012Validator.check_schema(tool["outputSchema"])


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("add_task", {"title": "t"}),
        ("add_task", {"title": "t" * 200, "description": "d" * 1000}),
        ("add_task", {"title": "t", "description": ""}),
        ("add_task", {}),
        ("add_task", {"title": ""}),
        ("add_task", {"title": "t" * 201}),
        ("add_task", {"title": "t", "description": "d" * 1001}),
        ("add_task", {"title": 1}),
        ("add_task", {"title": "t", "extra": 1}),
        ("list_tasks", {}),
        ("list_tasks", {"status": "pending", "limit": 100, "cursor": "abc"}),
        ("list_tasks", {"status": "PENDING"}),
        ("list_tasks", {"limit": 0}),
        ("list_tasks", {"limit": 101}),
        ("list_tasks", {"limit": 1.5}),
        ("list_tasks", {"limit": True}),
        ("list_tasks", {"cursor": "c" * 513}),
        ("complete_task", {"task_id": TASK_ID}),
        ("complete_task", {}),
        ("complete_task", {"task_id": ""}),
        ("complete_task", {"task_id": ["x"]}),
        ("update_task", {"task_id": TASK_ID, "title": "new"}),
        ("update_task", {"task_id": TASK_ID, "title": ""}),
        ("delete_task", {"task_id": TASK_ID, "force": True}),
    ],
)
def test_checker_agrees_with_the_schema(name: str, arguments: dict[str, Any]) -> None:
    tool = TOOLS_BY_NAME[name]
    schema_ok = Draft202012Validator(tool.input_schema).is_valid(arguments)
    try:
        check_arguments(tool, arguments)
        checker_ok = True
    except ArgumentError:
        checker_ok = False
    assert checker_ok == schema_ok


def test_annotations_say_what_each_tool_does() -> None:
    hints = {tool["name"]: tool["annotations"] for tool in LISTINGS["2025-11-25"]}
    assert hints["list_tasks"]["readOnlyHint"] is True
    assert [name for name, h in hints.items() if h.get("destructiveHint")] == ["delete_task"]
    assert sorted(name for name, h in hints.items() if h.get("idempotentHint")) == [
        "complete_task",
        "update_task",
    ]
    assert not any(h["openWorldHint"] for h in hints.values())
