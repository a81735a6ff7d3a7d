"""The chat as a todo app: one widget action end to end, and one chat turn, with the DynamoDB
requests each makes.

- Widget action: a task list's Complete button (``threads.custom_action``) through
  ChatKitFunction's app, beside the same change through /mcp's ``complete_task`` and the task
  service's one UpdateItem alone (the floor every row pays).
- Chat turn: ``threads.add_user_message`` where the model (the local Responses stand-in, in this
  process) calls ``list_tasks`` and then answers, as most turns of a todo chat go.

The ChatKit rows count their DynamoDB requests (``peers/chatkit_counted.py``), printed under
the row. The bench's AWS gets one user's task, two threads and a task list widget first.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from local.bench.cases_mcp import USER_SECRET, store_user_secret
from local.bench.runner import Bench, Case
from local.emulator.token import mint_user_token
from local.standins.openai import Call, Text, call, fake_responses, text
from local.template import ROOT

USER = "bench-alice"
TASK_ID = "01KB0BENCH0000000000000000"  # the id the bench events name
ACTION_THREAD, TURN_THREAD, WIDGET_ITEM = "thr_bench_action", "thr_bench_turn", "msg_bench_tasks"
CHATKIT_PATHS = ("functions/chatkit", "layers/shared/python")

# The Responses stand-in outlives every probe process; a turn is list_tasks, then one sentence.
_RUNNING = ExitStack()
RESPONSES = _RUNNING.enter_context(fake_responses())


def _turn(request: dict[str, Any]) -> Call | Text:
    last = request.get("input", [{}])[-1]
    return (
        text("You have one task.", pieces=1, pause=0)
        if last.get("type") == "function_call_output"
        else call("list_tasks")
    )


RESPONSES.fallback = _turn


def prepare(bench: Bench) -> None:
    """One pending task, a thread showing it in a task list widget, a thread to chat in, the key."""
    sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))
    os.environ.update(bench.aws.environment())
    from chatkit.types import ThreadMetadata, WidgetItem
    from chatkit_backend.aws import clients as aws_clients
    from chatkit_backend.chat import widgets
    from chatkit_backend.chat.store.context import RequestContext
    from chatkit_backend.chat.store.dynamodb import DynamoDBStore
    from chatkit_backend.tasks.service import Task

    aws_clients.client.cache_clear()
    ids = bench.template.physical_ids
    bench.aws.client("secretsmanager").put_secret_value(
        SecretId=ids["OpenAIApiKeySecret"], SecretString=json.dumps({"api_key": "sk-bench-stand-in"})
    )
    now = datetime.now()  # noqa: DTZ005 - ChatKit's items carry naive times (chatkit.agents subtracts datetime.now() from them)
    task = Task(TASK_ID, "Buy milk", "2 litres", "pending", now.isoformat(), now.isoformat())
    bench.aws.client("dynamodb").put_item(
        TableName=ids["TasksTable"],
        Item={
            "user_id": {"S": USER},
            "task_id": {"S": TASK_ID},
            "title": {"S": task.title},
            "description": {"S": task.description},
            "status": {"S": "pending"},
            "status_task_id": {"S": f"pending#{TASK_ID}"},
            "created_at": {"S": task.created_at},
            "updated_at": {"S": task.updated_at},
        },
    )
    store, context = DynamoDBStore(ids["ChatKitTable"]), RequestContext(USER)
    widget = widgets.task_list([task], widgets.list_heading([task], "all", False))
    item = WidgetItem(
        id=WIDGET_ITEM,
        thread_id=ACTION_THREAD,
        created_at=now,
        widget=widget,
        copy_text=widgets.copy_text(widget),
    )

    async def write() -> None:
        for thread_id in (ACTION_THREAD, TURN_THREAD):
            await store.save_thread(ThreadMetadata(id=thread_id, created_at=now, title="bench"), context)
        await store.add_thread_item(ACTION_THREAD, item, context)

    asyncio.run(write())


def _mcp_event() -> str:
    """The /mcp complete_task event with a user token for the task's owner: /mcp checks its own
    bearer (the bench's UserTokenSecret holds USER_SECRET); written under .local/bench."""
    event = json.loads((ROOT / "local" / "bench" / "events" / "mcp_complete_task.json").read_text())
    event["headers"]["authorization"] = f"Bearer {mint_user_token(USER_SECRET, USER, ttl=24 * 3600)}"
    path = ROOT / ".local" / "bench" / "widgets" / "mcp_complete_task.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(event))
    return str(path.relative_to(ROOT))


def prepare_mcp(bench: Bench) -> None:
    prepare(bench)
    store_user_secret(bench)


MCP_EVENT = _mcp_event()
ACTION = "widget action: a task list's Complete button, end to end"
TURN = "chat turn: the model lists tasks, then answers (local Responses stand-in)"

CASES = [
    Case(
        ACTION,
        "ChatKitFunction threads.custom_action (ours)",
        "local/bench/peers/chatkit_counted.py:handler",
        "local/bench/events/chatkit_custom_action.json",
        baseline=True,
        iterations=100,
        sys_path=CHATKIT_PATHS,
        function_env="ChatKitFunction",
        prepare=prepare,
        note="thread + widget read, the task's conditional UpdateItem, widget and model note written; SSE out",
    ),
    Case(
        ACTION,
        "McpFunction tools/call complete_task",
        "McpFunction",
        MCP_EVENT,
        prepare=prepare_mcp,
        note="the same change through /mcp: no widget, no thread; includes checking the bearer token",
    ),
    Case(
        ACTION,
        "task service complete_task alone (DynamoDB floor)",
        "local/bench/peers_mcp/tasks_floor.py:handler",
        "local/bench/events/mcp_complete_task.json",
        sys_path=("layers/shared/python",),
        function_env="McpFunction",
        note="one conditional UpdateItem against moto's DynamoDB",
    ),
    Case(
        TURN,
        "ChatKitFunction threads.add_user_message (ours)",
        "local/bench/peers/chatkit_counted.py:handler",
        "local/bench/events/chatkit_chat_turn.json",
        baseline=True,
        iterations=20,
        sys_path=CHATKIT_PATHS,
        function_env="ChatKitFunction",
        env={"OPENAI_BASE_URL": RESPONSES.url},
        prepare=prepare,
        note="two model calls (tool call, answer) over loopback; the thread grows by 4 items a turn",
    ),
]
