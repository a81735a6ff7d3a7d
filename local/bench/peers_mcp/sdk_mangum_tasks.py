"""Peer: the official MCP SDK server (MCPServer, stateless, JSON responses) under Mangum.

The way the SDK's docs and most Lambda guides serve it: the Streamable HTTP Starlette app
wrapped by Mangum. The tools call the same task service as McpFunction; the user comes from
the API Gateway event that Mangum keeps in the ASGI scope.
"""

import os

from chatkit_backend.tasks.service import TaskService
from mangum import Mangum
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

# Built at init from the function's environment, as the MCP function builds its own.
tasks = TaskService(os.environ.get("TASKS_TABLE", ""))

mcp = MCPServer("chatkit-tasks")


def _user(ctx: Context) -> str:
    return ctx.request_context.request.scope["aws.event"]["requestContext"]["authorizer"]["lambda"]["user_id"]


@mcp.tool()
def add_task(title: str, ctx: Context, description: str | None = None) -> dict:
    """Create a new pending task."""
    task = tasks.add_task(_user(ctx), title, description)
    return {"task_id": task.task_id, "status": "created", "title": task.title}


@mcp.tool()
def list_tasks(ctx: Context, status: str = "all", limit: int = 20, cursor: str | None = None) -> dict:
    """List the user's tasks."""
    page = tasks.list_tasks(_user(ctx), status=status, limit=limit, cursor=cursor)
    return {"tasks": [t.to_dict() for t in page.tasks], "next_cursor": page.next_cursor}


@mcp.tool()
def complete_task(task_id: str, ctx: Context) -> dict:
    """Mark a task completed."""
    task = tasks.complete_task(_user(ctx), task_id)
    return {"task_id": task.task_id, "status": "completed", "title": task.title}


@mcp.tool()
def update_task(task_id: str, ctx: Context, title: str | None = None, description: str | None = None) -> dict:
    """Change a task's title or description."""
    task = tasks.update_task(_user(ctx), task_id, title, description)
    return {"task_id": task.task_id, "status": "updated", "title": task.title}


@mcp.tool()
def delete_task(task_id: str, ctx: Context) -> dict:
    """Delete a task."""
    task = tasks.delete_task(_user(ctx), task_id)
    return {"task_id": task.task_id, "status": "deleted", "title": task.title}


def handler(event, context):
    # Mangum runs the lifespan, which runs the SDK's session manager, on every invocation, and a
    # session manager runs once per instance: so the Starlette app is rebuilt per call, as the
    # SDK's Lambda recipes do. The tool registry above is built once per container.
    app = mcp.streamable_http_app(
        stateless_http=True,
        json_response=True,
        # API Gateway's Host is not localhost; the gateway, not the app, fronts the internet.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return Mangum(app, lifespan="auto")(event, context)
