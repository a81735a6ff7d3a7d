"""The task tools: their MCP definitions, argument checks and calls into the task service.

Definitions are plain dicts built once per container; ``tools_for(version)`` returns the
listing as a given protocol revision defines it (``annotations`` from 2025-03-26, ``title``
and ``outputSchema`` from 2025-06-18), precomputed so ``tools/list`` costs a dict lookup.
Arguments are checked against the same ``inputSchema`` the client saw, by a small checker
for the subset of JSON Schema these schemas use, with messages a model can act on.
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
from chatkit_backend.mcp.protocol import KNOWN_VERSIONS, version_at_least

if TYPE_CHECKING:
    # Only for the annotations: boto3 is most of a cold start, and discovery, initialize and
    # tools/list never need it (the server builds the service on the first tool call).
    from chatkit_backend.tasks import TaskService

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
    # (the tasks service, the caller's user_id, the checked arguments) -> structuredContent
    run: Callable[[TaskService, str, dict[str, Any]], dict[str, Any]]

    def definition(self, version: str) -> dict[str, Any]:
        tool: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        }
        if version_at_least(version, "2025-03-26"):
            tool["annotations"] = {"title": self.title, **self.annotations}
        if version_at_least(version, "2025-06-18"):
            tool["title"] = self.title
            tool["outputSchema"] = self.output_schema
        return tool


def _add(tasks: TaskService, user_id: str, args: dict[str, Any]) -> dict[str, Any]:
    task = tasks.add_task(user_id, args["title"], args.get("description"))
    return {"task_id": task.task_id, "status": "created", "title": task.title}


def _list(tasks: TaskService, user_id: str, args: dict[str, Any]) -> dict[str, Any]:
    page = tasks.list_tasks(
        user_id,
        status=args.get("status", "all"),
        limit=args.get("limit", PAGE_LIMIT_DEFAULT),
        cursor=args.get("cursor"),
    )
    return {"tasks": [task.to_dict() for task in page.tasks], "next_cursor": page.next_cursor}


def _complete(tasks: TaskService, user_id: str, args: dict[str, Any]) -> dict[str, Any]:
    task = tasks.complete_task(user_id, args["task_id"])
    return {"task_id": task.task_id, "status": "completed", "title": task.title}


def _update(tasks: TaskService, user_id: str, args: dict[str, Any]) -> dict[str, Any]:
    task = tasks.update_task(user_id, args["task_id"], args.get("title"), args.get("description"))
    return {"task_id": task.task_id, "status": "updated", "title": task.title}


def _delete(tasks: TaskService, user_id: str, args: dict[str, Any]) -> dict[str, Any]:
    task = tasks.delete_task(user_id, args["task_id"])
    return {"task_id": task.task_id, "status": "deleted", "title": task.title}


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
        annotations={
            "readOnlyHint": False,
            "destructiveHint": False,
            "idempotentHint": False,
            "openWorldHint": False,
        },
        run=_add,
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
        run=_list,
    ),
    ToolSpec(
        name="complete_task",
        title="Complete task",
        description="Mark a task as completed. Completing an already completed task changes nothing.",
        input_schema=_object({"task_id": TASK_ID}, ["task_id"]),
        output_schema=_outcome("completed"),
        annotations={
            "readOnlyHint": False,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": False,
        },
        run=_complete,
    ),
    ToolSpec(
        name="update_task",
        title="Update task",
        description="Change a task's title and/or description. An empty description removes it.",
        input_schema=_object({"task_id": TASK_ID, "title": TITLE, "description": DESCRIPTION}, ["task_id"]),
        output_schema=_outcome("updated"),
        annotations={
            "readOnlyHint": False,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": False,
        },
        run=_update,
    ),
    ToolSpec(
        name="delete_task",
        title="Delete task",
        description="Delete a task for good.",
        input_schema=_object({"task_id": TASK_ID}, ["task_id"]),
        output_schema=_outcome("deleted"),
        annotations={
            "readOnlyHint": False,
            "destructiveHint": True,
            "idempotentHint": False,
            "openWorldHint": False,
        },
        run=_delete,
    ),
)

TOOLS_BY_NAME: dict[str, ToolSpec] = {tool.name: tool for tool in TOOLS}
# The listing per revision, in a stable order, built once per container.
LISTINGS: dict[str, list[dict[str, Any]]] = {
    version: [tool.definition(version) for tool in TOOLS] for version in KNOWN_VERSIONS
}


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
