"""Peer: awslabs `mcp-lambda-handler` (hand-written, protocol 2024-11-05) with the task tools.

The tools call the same task service as McpFunction, so the rows differ only in the MCP layer.
The library's tools never see the event, so the caller's user id travels in a ContextVar.
"""

import os
from contextvars import ContextVar

from awslabs.mcp_lambda_handler import MCPLambdaHandler
from chatkit_backend.tasks.service import TaskService

# Built at init from the function's environment, as the MCP function builds its own.
tasks = TaskService(os.environ.get("TASKS_TABLE", ""))

mcp = MCPLambdaHandler(name="chatkit-tasks", version="0.1.0")
current_user: ContextVar[str] = ContextVar("current_user")


@mcp.tool()
def add_task(title: str, description: str = "") -> dict:
    """Create a new pending task.

    Args:
        title: Short name of the task
        description: Optional details
    """
    task = tasks.add_task(current_user.get(), title, description or None)
    return {"task_id": task.task_id, "status": "created", "title": task.title}


@mcp.tool()
def list_tasks(status: str = "all", limit: int = 20, cursor: str = "") -> dict:
    """List the user's tasks.

    Args:
        status: all, pending or completed
        limit: Page size
        cursor: next_cursor of the previous page
    """
    page = tasks.list_tasks(current_user.get(), status=status, limit=limit, cursor=cursor or None)
    return {"tasks": [t.to_dict() for t in page.tasks], "next_cursor": page.next_cursor}


@mcp.tool()
def complete_task(task_id: str) -> dict:
    """Mark a task completed.

    Args:
        task_id: The task's id
    """
    task = tasks.complete_task(current_user.get(), task_id)
    return {"task_id": task.task_id, "status": "completed", "title": task.title}


@mcp.tool()
def update_task(task_id: str, title: str = "", description: str = "") -> dict:
    """Change a task's title or description.

    Args:
        task_id: The task's id
        title: New title
        description: New description
    """
    task = tasks.update_task(current_user.get(), task_id, title or None, description or None)
    return {"task_id": task.task_id, "status": "updated", "title": task.title}


@mcp.tool()
def delete_task(task_id: str) -> dict:
    """Delete a task.

    Args:
        task_id: The task's id
    """
    task = tasks.delete_task(current_user.get(), task_id)
    return {"task_id": task.task_id, "status": "deleted", "title": task.title}


def handler(event, context):
    token = current_user.set(event["requestContext"]["authorizer"]["lambda"]["user_id"])
    try:
        return mcp.handle_request(event, context)
    finally:
        current_user.reset(token)
