"""The task assistant: an openai-agents Agent whose five tools are the task service, in process.

Each tool is one call into ``chatkit_backend.tasks`` (one DynamoDB request) for the user that
ChatKit's request context names; the model never supplies a user id. While the request runs the
user sees a progress line; afterwards the tool shows its result as a widget (the task list, or a
card for the task it changed) and hands the model a compact JSON result. A failure the model can
act on (an unknown task, a title too long) comes back as ``{"error": "..."}`` in the tool output,
as the MCP tools answer ``isError``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from agents import Agent, RunContextWrapper, function_tool
from agents.models.interface import Model
from chatkit.agents import AgentContext
from chatkit.types import ProgressUpdateEvent
from chatkit.widgets import WidgetRoot

from chatkit_backend import limits, tasks
from chatkit_backend.chat import widgets
from chatkit_backend.errors import DomainError
from chatkit_backend.metrics import count

INSTRUCTIONS = """\
You are a task assistant inside a todo app. You help the signed-in user manage their own tasks
with the tools: add_task, list_tasks, complete_task, update_task and delete_task.

- Use a tool for every change and to look tasks up; never claim a change you did not make.
- Task ids come from list_tasks, from a tool's result or from a task widget shown earlier; when
  the user names a task by title, find its task_id there (call list_tasks if you must).
- Every tool result is also shown to the user as a widget (the task list, or a card for the
  task that changed), with a Complete button on each pending task. Do not repeat the widget's
  content in prose: confirm in one short sentence naming the task's title.
- The user can complete tasks with those buttons; the conversation tells you when they did.
- The user may attach photos or PDFs (a handwritten list, a plan): read them and offer to add
  the tasks they contain.
- If a tool returns an error, explain it plainly and suggest what to do next.
- Keep answers short and friendly. You cannot see other users' tasks.
"""

ToolContext = RunContextWrapper[AgentContext[Any]]
Result = TypeVar("Result")
Tool = TypeVar("Tool", bound=Callable[..., Any])


def _user_id(wrapper: ToolContext) -> str:
    return str(wrapper.context.request_context.user_id)


def _tasks(wrapper: ToolContext) -> tasks.TaskService:
    return wrapper.context.request_context.task_service()


def _with_limits(function: Tool) -> Tool:
    """Fill the limits into the tool's docstring, which is what the model reads about it."""
    function.__doc__ = (function.__doc__ or "").format(
        title_max=limits.TASK_TITLE_MAX_CHARS,
        description_max=limits.TASK_DESCRIPTION_MAX_CHARS,
        page_max=limits.PAGE_LIMIT_MAX,
    )
    return function


async def _run(
    wrapper: ToolContext,
    tool: str,
    progress: str,
    operation: Callable[[], Result],
    show: Callable[[Result], WidgetRoot],
    output: Callable[[Result], dict[str, Any]],
) -> str:
    """Run one task operation: a progress line while DynamoDB answers, then the result shown to
    the user as a widget and returned to the model as JSON (or the domain error it can act on)."""
    await wrapper.context.stream(ProgressUpdateEvent(icon="check-circle", text=progress))
    # A tool acts only for a message that is stored: the turn's message may still be on its way.
    await wrapper.context.request_context.turn.message_stored()
    try:
        result = await asyncio.to_thread(operation)
    except DomainError as error:
        count("ToolCalls", tool=tool, outcome="error", via="chat")
        return json.dumps({"error": error.detail}, ensure_ascii=False)
    count("ToolCalls", tool=tool, outcome="ok", via="chat")
    widget = show(result)
    await wrapper.context.stream_widget(widget, copy_text=widgets.copy_text(widget))
    return json.dumps(output(result), ensure_ascii=False)


def _task_output(status: str) -> Callable[[tasks.Task], dict[str, Any]]:
    return lambda task: {**task.to_dict(), "status": status}


@function_tool
@_with_limits
async def add_task(wrapper: ToolContext, title: str, description: str | None = None) -> str:
    """Create a pending task for the user.

    Args:
        title: Short name of the task, 1 to {title_max} characters.
        description: Optional details, at most {description_max} characters.
    """
    return await _run(
        wrapper,
        "add_task",
        "Adding the task…",
        lambda: _tasks(wrapper).add_task(_user_id(wrapper), title, description),
        lambda task: widgets.task_card(task, "created"),
        _task_output("created"),
    )


@function_tool
@_with_limits
async def list_tasks(
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
    return await _run(
        wrapper,
        "list_tasks",
        "Looking up your tasks…",
        lambda: _tasks(wrapper).list_tasks(_user_id(wrapper), status, limit, cursor),
        lambda page: widgets.task_list(
            page.tasks, widgets.list_heading(page.tasks, status, page.next_cursor is not None)
        ),
        lambda page: {"tasks": [task.to_dict() for task in page.tasks], "next_cursor": page.next_cursor},
    )


@function_tool
async def complete_task(wrapper: ToolContext, task_id: str) -> str:
    """Mark one of the user's tasks as completed.

    Args:
        task_id: The task's id, from list_tasks or an earlier result.
    """
    return await _run(
        wrapper,
        "complete_task",
        "Completing the task…",
        lambda: _tasks(wrapper).complete_task(_user_id(wrapper), task_id),
        lambda task: widgets.task_card(task, "completed"),
        lambda task: task.to_dict(),
    )


@function_tool
@_with_limits
async def update_task(
    wrapper: ToolContext, task_id: str, title: str | None = None, description: str | None = None
) -> str:
    """Change a task's title and/or description (an empty description removes it).

    Args:
        task_id: The task's id, from list_tasks or an earlier result.
        title: New title, 1 to {title_max} characters.
        description: New description, at most {description_max} characters.
    """
    return await _run(
        wrapper,
        "update_task",
        "Updating the task…",
        lambda: _tasks(wrapper).update_task(_user_id(wrapper), task_id, title, description),
        lambda task: widgets.task_card(task, "updated"),
        _task_output("updated"),
    )


@function_tool
async def delete_task(wrapper: ToolContext, task_id: str) -> str:
    """Delete one of the user's tasks for good.

    Args:
        task_id: The task's id, from list_tasks or an earlier result.
    """
    return await _run(
        wrapper,
        "delete_task",
        "Deleting the task…",
        lambda: _tasks(wrapper).delete_task(_user_id(wrapper), task_id),
        lambda task: widgets.task_card(task, "deleted"),
        _task_output("deleted"),
    )


TOOLS = [add_task, list_tasks, complete_task, update_task, delete_task]


def build_agent(model: Model) -> Agent[AgentContext[Any]]:
    return Agent[AgentContext[Any]](
        name="Task assistant", instructions=INSTRUCTIONS, model=model, tools=list(TOOLS)
    )
