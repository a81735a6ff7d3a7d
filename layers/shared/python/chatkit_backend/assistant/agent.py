"""The task assistant: an openai-agents Agent whose five tools are the task service, in process.

Each tool is one call into ``chatkit_backend.tasks`` (one DynamoDB request) for the user that
ChatKit's request context names; the model never supplies a user id. A failure the model can
act on (an unknown task, a title too long) comes back as ``{"error": "..."}`` in the tool
output, as the MCP tools answer ``isError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from agents import Agent, RunContextWrapper, function_tool
from agents.models.interface import Model
from chatkit.agents import AgentContext

from chatkit_backend import limits, tasks
from chatkit_backend.errors import DomainError
from chatkit_backend.metrics import count

INSTRUCTIONS = """\
You are a task assistant inside a todo app. You help the signed-in user manage their own tasks
with the tools: add_task, list_tasks, complete_task, update_task and delete_task.

- Use a tool for every change and to look tasks up; never claim a change you did not make.
- Task ids come from list_tasks or from a tool's result; when the user names a task by title,
  call list_tasks first to find its task_id.
- After a change, confirm it in one short sentence naming the task's title.
- If a tool returns an error, explain it plainly and suggest what to do next.
- Keep answers short and friendly. You cannot see other users' tasks.
"""

ToolContext = RunContextWrapper[AgentContext[Any]]


def _user_id(wrapper: ToolContext) -> str:
    return str(wrapper.context.request_context.user_id)


def _with_limits(function: Callable[..., str]) -> Callable[..., str]:
    """Fill the limits into the tool's docstring, which is what the model reads about it."""
    function.__doc__ = (function.__doc__ or "").format(
        title_max=limits.TASK_TITLE_MAX_CHARS,
        description_max=limits.TASK_DESCRIPTION_MAX_CHARS,
        page_max=limits.PAGE_LIMIT_MAX,
    )
    return function


def _result(tool: str, operation: Callable[[], Any]) -> str:
    """The operation's result as JSON for the model, or the domain error it can act on."""
    try:
        answer = json.dumps(operation(), ensure_ascii=False)
    except DomainError as error:
        count("ToolCalls", tool=tool, outcome="error", via="chat")
        return json.dumps({"error": error.detail}, ensure_ascii=False)
    count("ToolCalls", tool=tool, outcome="ok", via="chat")
    return answer


@function_tool
@_with_limits
def add_task(wrapper: ToolContext, title: str, description: str | None = None) -> str:
    """Create a pending task for the user.

    Args:
        title: Short name of the task, 1 to {title_max} characters.
        description: Optional details, at most {description_max} characters.
    """
    return _result(
        "add_task", lambda: {**tasks.add_task(_user_id(wrapper), title, description).to_dict(), "status": "created"}
    )


@function_tool
@_with_limits
def list_tasks(
    wrapper: ToolContext,
    status: Literal["all", "pending", "completed"] = "all",
    limit: int = limits.PAGE_LIMIT_DEFAULT,
    cursor: str | None = None,
) -> str:
    """List the user's tasks, oldest first, one page at a time.

    Args:
        status: Which tasks to list: all, pending or completed.
        limit: Page size, 1 to {page_max}.
        cursor: next_cursor from the previous page, to read the next one.
    """

    def run() -> dict[str, Any]:
        page = tasks.list_tasks(_user_id(wrapper), status, limit, cursor)
        return {"tasks": [task.to_dict() for task in page.tasks], "next_cursor": page.next_cursor}

    return _result("list_tasks", run)


@function_tool
def complete_task(wrapper: ToolContext, task_id: str) -> str:
    """Mark one of the user's tasks as completed.

    Args:
        task_id: The task's id, from list_tasks or an earlier result.
    """
    return _result("complete_task", lambda: tasks.complete_task(_user_id(wrapper), task_id).to_dict())


@function_tool
@_with_limits
def update_task(wrapper: ToolContext, task_id: str, title: str | None = None, description: str | None = None) -> str:
    """Change a task's title and/or description (an empty description removes it).

    Args:
        task_id: The task's id, from list_tasks or an earlier result.
        title: New title, 1 to {title_max} characters.
        description: New description, at most {description_max} characters.
    """
    return _result(
        "update_task",
        lambda: {**tasks.update_task(_user_id(wrapper), task_id, title, description).to_dict(), "status": "updated"},
    )


@function_tool
def delete_task(wrapper: ToolContext, task_id: str) -> str:
    """Delete one of the user's tasks for good.

    Args:
        task_id: The task's id, from list_tasks or an earlier result.
    """
    return _result(
        "delete_task", lambda: {**tasks.delete_task(_user_id(wrapper), task_id).to_dict(), "status": "deleted"}
    )


TOOLS = [add_task, list_tasks, complete_task, update_task, delete_task]


def build_agent(model: Model) -> Agent[AgentContext[Any]]:
    return Agent[AgentContext[Any]](name="Task assistant", instructions=INSTRUCTIONS, model=model, tools=list(TOOLS))
