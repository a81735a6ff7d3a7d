"""The task assistant: an openai-agents Agent whose five tools are the task service, in process.

The tools are made from the same catalogue MCP lists (``chatkit_backend.tasks.tools``): names,
descriptions, input schemas with their limits, and the task-service call, so the model reads the
same about a tool here as through ``/mcp``, and its arguments are checked by the same checker.
Each call is one call into ``chatkit_backend.tasks.service`` (one DynamoDB request) for the user that
ChatKit's request context names; the model never supplies a user id. While the request runs the
user sees a progress line; afterwards the tool shows its result as a widget (the task list, or a
card for the task it changed) and hands the model a compact JSON result. A failure the model can
act on (an unknown task, a title too long, an argument the schema does not allow) comes back as
``{"error": "..."}`` in the tool output, as the MCP tools answer ``isError``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents import Agent, FunctionTool
from agents.models.interface import Model
from agents.tool_context import ToolContext
from chatkit.agents import AgentContext
from chatkit.types import ProgressUpdateEvent
from chatkit.widgets import WidgetRoot

from chatkit_backend.chat import widgets
from chatkit_backend.errors import DomainError
from chatkit_backend.observability.metrics import count
from chatkit_backend.tasks import service as tasks
from chatkit_backend.tasks import tools as task_tools

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

Context = ToolContext[AgentContext[Any]]


@dataclass(frozen=True)
class _Shown:
    """How the chat shows one tool: the progress line while it runs, the widget of its result
    (from the result and the call's arguments), and the JSON the model gets back."""

    progress: str
    widget: Callable[[Any, dict[str, Any]], WidgetRoot]
    output: Callable[[Any], dict[str, Any]]


def _task_output(status: str) -> Callable[[tasks.Task], dict[str, Any]]:
    return lambda task: {**task.to_dict(), "status": status}


def _task_list(page: tasks.TaskPage, arguments: dict[str, Any]) -> WidgetRoot:
    heading = widgets.list_heading(page.tasks, arguments.get("status", "all"), page.next_cursor is not None)
    return widgets.task_list(page.tasks, heading)


_SHOWN: dict[str, _Shown] = {
    "add_task": _Shown(
        "Adding the task…", lambda task, _: widgets.task_card(task, "created"), _task_output("created")
    ),
    "list_tasks": _Shown(
        "Looking up your tasks…",
        _task_list,
        # The page as MCP's structured content gives it.
        task_tools.TOOLS_BY_NAME["list_tasks"].structured,
    ),
    "complete_task": _Shown(
        "Completing the task…",
        lambda task, _: widgets.task_card(task, "completed"),
        lambda task: task.to_dict(),
    ),
    "update_task": _Shown(
        "Updating the task…", lambda task, _: widgets.task_card(task, "updated"), _task_output("updated")
    ),
    "delete_task": _Shown(
        "Deleting the task…", lambda task, _: widgets.task_card(task, "deleted"), _task_output("deleted")
    ),
}


def _arguments(raw: str) -> dict[str, Any]:
    try:
        arguments = json.loads(raw or "{}")
    except ValueError:
        raise task_tools.ArgumentError("The arguments must be a JSON object.") from None
    if not isinstance(arguments, dict):
        raise task_tools.ArgumentError("The arguments must be a JSON object.")
    return arguments


def _error(detail: str) -> str:
    return json.dumps({"error": detail}, ensure_ascii=False)


def _function_tool(spec: task_tools.ToolSpec) -> FunctionTool:
    """The catalogue's tool as the agent calls it: the arguments checked against its input schema,
    a progress line while DynamoDB answers, then the result shown to the user as a widget and
    returned to the model as JSON (or the error it can act on)."""
    shown = _SHOWN[spec.name]

    async def invoke(context: Context, raw_arguments: str) -> str:
        try:
            arguments = task_tools.normalized_arguments(spec, _arguments(raw_arguments))
        except task_tools.ArgumentError as error:
            count("ToolCalls", tool=spec.name, outcome="error", via="chat")
            return _error(str(error))
        request = context.context.request_context
        await context.context.stream(ProgressUpdateEvent(icon="check-circle", text=shown.progress))
        # A tool acts only for a message that is stored: the turn's message may still be on its way.
        await request.turn.message_stored()
        try:
            result = await asyncio.to_thread(
                spec.call, request.task_service(), str(request.user_id), arguments
            )
        except DomainError as error:
            count("ToolCalls", tool=spec.name, outcome="error", via="chat")
            return _error(error.detail)
        count("ToolCalls", tool=spec.name, outcome="ok", via="chat")
        widget = shown.widget(result, arguments)
        await context.context.stream_widget(widget, copy_text=widgets.copy_text(widget))
        return json.dumps(shown.output(result), ensure_ascii=False)

    # Not strict: the schema is MCP's, with optional arguments and limits strict mode cannot
    # express; the checker above holds the model to it, as MCP clients' agents call these tools.
    return FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.input_schema,
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


TOOLS = [_function_tool(spec) for spec in task_tools.TOOLS]


def build_agent(model: Model) -> Agent[AgentContext[Any]]:
    return Agent[AgentContext[Any]](
        name="Task assistant", instructions=INSTRUCTIONS, model=model, tools=list(TOOLS)
    )
