"""The task tools, written once: names, titles, descriptions, input and output schemas with the
limits of ``chatkit_backend.limits``, annotations, and the task-service call each one makes.

Both surfaces that offer the tools to a model are built from this catalogue, so what a model
reads about a tool cannot differ between them: the MCP server lists and runs them
(``chatkit_backend.mcp.tools`` shapes the listing for each protocol revision) and the chat's
agent makes its function tools from them (``chatkit_backend.chat.agent``). Arguments are checked
against the same ``input_schema`` by a small checker for the subset of JSON Schema these schemas
use, with messages a model can act on.

This module imports nothing beyond the standard library and ``limits``: McpFunction reads its
listing from here on a cold start, without boto3 or openai-agents.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatkit_backend.limits import (
    CURSOR_MAX_CHARS,
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    TASK_DESCRIPTION_MAX_CHARS,
    TASK_ID_MAX_CHARS,
    TASK_TITLE_MAX_CHARS,
)

if TYPE_CHECKING:
    # Only for the annotations: boto3 is most of a cold start, and listing the tools never needs it.
    from chatkit_backend.tasks.service import Task, TaskPage, TaskService

TITLE = {
    "type": "string",
    "minLength": 1,
    "maxLength": TASK_TITLE_MAX_CHARS,
    "description": f"Short name of the task (1-{TASK_TITLE_MAX_CHARS} characters).",
}
DESCRIPTION = {
    "type": "string",
    "maxLength": TASK_DESCRIPTION_MAX_CHARS,
    "description": f"Optional details (up to {TASK_DESCRIPTION_MAX_CHARS} characters).",
}
TASK_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": TASK_ID_MAX_CHARS,
    "description": "The task_id returned by add_task or list_tasks.",
}

TASK = {
    "type": "object",
    "properties": {
        "task_id": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "completed"]},
        "created_at": {"type": "string", "description": "ISO 8601 UTC time."},
        "updated_at": {"type": "string", "description": "ISO 8601 UTC time."},
        "completed_at": {"type": "string", "description": "ISO 8601 UTC time, once completed."},
    },
    "required": ["task_id", "title", "status", "created_at", "updated_at"],
}


def _outcome(status: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "task_id": {"type": "string"},
            "status": {"type": "string", "const": status},
            "title": {"type": "string"},
        },
        "required": ["task_id", "status", "title"],
    }


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    annotations: dict[str, Any]
    # The task-service call: (the tasks service, the caller's user_id, the checked arguments) ->
    # the Task or TaskPage it answered.
    call: Callable[[TaskService, str, dict[str, Any]], Any]
    # That answer as ``output_schema`` describes it (MCP's structuredContent).
    structured: Callable[[Any], dict[str, Any]]

    def run(self, tasks: TaskService, user_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The call's answer as ``output_schema`` describes it."""
        return self.structured(self.call(tasks, user_id, arguments))


def _add(tasks: TaskService, user_id: str, args: dict[str, Any]) -> Task:
    return tasks.add_task(user_id, args["title"], args.get("description"))


def _list(tasks: TaskService, user_id: str, args: dict[str, Any]) -> TaskPage:
    return tasks.list_tasks(
        user_id,
        status=args.get("status", "all"),
        limit=args.get("limit", PAGE_LIMIT_DEFAULT),
        cursor=args.get("cursor"),
    )


def _complete(tasks: TaskService, user_id: str, args: dict[str, Any]) -> Task:
    return tasks.complete_task(user_id, args["task_id"])


def _update(tasks: TaskService, user_id: str, args: dict[str, Any]) -> Task:
    return tasks.update_task(user_id, args["task_id"], args.get("title"), args.get("description"))


def _delete(tasks: TaskService, user_id: str, args: dict[str, Any]) -> Task:
    return tasks.delete_task(user_id, args["task_id"])


def _changed(status: str) -> Callable[[Task], dict[str, Any]]:
    """The outcome of a call that changed one task: its id, what happened, its title."""
    return lambda task: {"task_id": task.task_id, "status": status, "title": task.title}


def _page(page: TaskPage) -> dict[str, Any]:
    return {"tasks": [task.to_dict() for task in page.tasks], "next_cursor": page.next_cursor}


def _changes(*, idempotent: bool = False, destructive: bool = False) -> dict[str, Any]:
    """The annotations of a tool that changes a task (none reaches beyond this API)."""
    return {
        "readOnlyHint": False,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": False,
    }


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="add_task",
        title="Add task",
        description="Create a new pending task for the user. Returns its task_id.",
        input_schema=_object({"title": TITLE, "description": DESCRIPTION}, ["title"]),
        output_schema=_outcome("created"),
        annotations=_changes(),
        call=_add,
        structured=_changed("created"),
    ),
    ToolSpec(
        name="list_tasks",
        title="List tasks",
        description=(
            "List the user's tasks, oldest first, filtered by status (all, pending or completed). "
            "When next_cursor is not null, call again with it to get the next page."
        ),
        input_schema=_object(
            {
                "status": {"type": "string", "enum": ["all", "pending", "completed"], "default": "all"},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": PAGE_LIMIT_MAX,
                    "default": PAGE_LIMIT_DEFAULT,
                },
                "cursor": {
                    "type": "string",
                    "maxLength": CURSOR_MAX_CHARS,
                    "description": "next_cursor of the previous page.",
                },
            },
            [],
        ),
        output_schema={
            "type": "object",
            "properties": {
                "tasks": {"type": "array", "items": TASK},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["tasks", "next_cursor"],
        },
        annotations={"readOnlyHint": True, "openWorldHint": False},
        call=_list,
        structured=_page,
    ),
    ToolSpec(
        name="complete_task",
        title="Complete task",
        description="Mark a task as completed. Completing an already completed task changes nothing.",
        input_schema=_object({"task_id": TASK_ID}, ["task_id"]),
        output_schema=_outcome("completed"),
        annotations=_changes(idempotent=True),
        call=_complete,
        structured=_changed("completed"),
    ),
    ToolSpec(
        name="update_task",
        title="Update task",
        description="Change a task's title and/or description. An empty description removes it.",
        input_schema=_object({"task_id": TASK_ID, "title": TITLE, "description": DESCRIPTION}, ["task_id"]),
        output_schema=_outcome("updated"),
        annotations=_changes(idempotent=True),
        call=_update,
        structured=_changed("updated"),
    ),
    ToolSpec(
        name="delete_task",
        title="Delete task",
        description="Delete a task for good.",
        input_schema=_object({"task_id": TASK_ID}, ["task_id"]),
        output_schema=_outcome("deleted"),
        annotations=_changes(destructive=True),
        call=_delete,
        structured=_changed("deleted"),
    ),
)

TOOLS_BY_NAME: dict[str, ToolSpec] = {tool.name: tool for tool in TOOLS}


class ArgumentError(ValueError):
    """Arguments that break the tool's inputSchema; the message tells the model what to fix."""


_TYPE_NAMES = {"string": "a string", "integer": "a whole number", "object": "an object"}


def check_arguments(tool: ToolSpec, arguments: dict[str, Any]) -> None:
    """Raise ``ArgumentError`` unless ``arguments`` satisfy ``tool.input_schema``."""
    schema = tool.input_schema
    properties: dict[str, Any] = schema["properties"]
    unknown = sorted(name for name in arguments if name not in properties)
    if unknown:
        allowed = ", ".join(properties)
        raise ArgumentError(
            f"{tool.name} does not take {', '.join(unknown)[:200]}; its arguments are: {allowed}."
        )
    for name in schema.get("required", ()):
        if arguments.get(name) is None:
            raise ArgumentError(f"{tool.name} needs {name}.")
    for name, value in arguments.items():
        if value is None and name not in schema.get("required", ()):
            continue
        _check_value(tool.name, name, properties[name], value)


def _check_value(tool: str, name: str, schema: dict[str, Any], value: Any) -> None:
    kind = schema["type"]
    if kind == "string":
        if not isinstance(value, str):
            raise ArgumentError(f"{name} must be {_TYPE_NAMES[kind]}.")
        if len(value) < schema.get("minLength", 0):
            raise ArgumentError(f"{name} must not be empty.")
        if len(value) > schema.get("maxLength", len(value)):
            raise ArgumentError(
                f"{name} is {len(value)} characters; {tool} accepts at most {schema['maxLength']}."
            )
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float) or not _is_whole(value):
            raise ArgumentError(f"{name} must be {_TYPE_NAMES[kind]}.")
        if not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            raise ArgumentError(f"{name} must be from {schema['minimum']} to {schema['maximum']}.")
    if "enum" in schema and value not in schema["enum"]:
        raise ArgumentError(f"{name} must be one of: {', '.join(schema['enum'])}.")


def _is_whole(value: float) -> bool:
    return isinstance(value, int) or (math.isfinite(value) and value == int(value))


def normalized_arguments(tool: ToolSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    """Checked arguments with JSON numbers like 5.0 turned into the integers the schema means."""
    check_arguments(tool, arguments)
    clean: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None:
            continue
        if tool.input_schema["properties"][name]["type"] == "integer":
            value = int(value)
        clean[name] = value
    return clean
