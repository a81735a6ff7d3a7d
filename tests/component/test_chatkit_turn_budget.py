"""The DynamoDB requests of one chat turn, counted where every request starts (botocore's events
on the container's client), as /mcp's tests count tool calls.

Budget (docs/latency.md): a turn makes at most 6 DynamoDB requests plus one per tool call. It
reads the thread and its newest items once, never reads back what it wrote, and sends the
answer's writes together at the end of the turn, before the stream ends.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata

from chatkit_backend import aws as aws_clients
from chatkit_backend.assistant.store import DynamoDBStore, RequestContext, Turn
from tests.component.chatkit_app import load_chatkit_app, post, set_openai_key, sse_events, user_message
from tests.support.responses import FakeResponses, call, fake_responses, last_tool_output, text

TURN_BUDGET = 6


@pytest.fixture
def fake() -> Iterator[FakeResponses]:
    with fake_responses() as running:
        yield running


class Requests:
    """DynamoDB requests by table kind ("chatkit" or "tasks") and operation, as botocore sends them."""

    def __init__(self, tables: dict[str, str]) -> None:
        self.kinds = tables
        self.seen: Counter[tuple[str, str]] = Counter()
        # The usage counter fails fast, so it has a client of its own: count on both.
        for fail_fast in (False, True):
            aws_clients.client("dynamodb", fail_fast=fail_fast).meta.events.register("before-parameter-build.dynamodb", self._count)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        table = params.get("TableName") or next(iter(params.get("RequestItems") or {}), None)
        if table is None and params.get("TransactItems"):
            table = next(iter(params["TransactItems"][0].values()))["TableName"]
        self.seen[(self.kinds.get(str(table), str(table)), model.name)] += 1

    def take(self) -> Counter[tuple[str, str]]:
        seen, self.seen = self.seen, Counter()
        return seen


@pytest.fixture
def counted(aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses) -> tuple[Any, Requests]:
    set_openai_key(aws)
    app = load_chatkit_app(aws, monkeypatch, {"OPENAI_BASE_URL": fake.url})
    kinds = {aws.physical_id("ChatKitTable"): "chatkit", aws.physical_id("TasksTable"): "tasks", aws.physical_id("UsageTable"): "usage"}
    return app, Requests(kinds)


def test_a_turn_with_a_tool_call_stays_within_the_budget(counted: tuple[Any, Requests], fake: FakeResponses) -> None:
    app, requests = counted
    answer = lambda request: text(f"You have {len(last_tool_output(request)['tasks'])} tasks.", pieces=2, pause=0)  # noqa: E731
    fake.script(call("list_tasks"), answer, call("list_tasks"), answer, text("Bye.", pieces=1, pause=0))

    async def conversation() -> list[tuple[list[dict[str, Any]], Counter[tuple[str, str]]]]:
        turns = []
        first = await post(app, {"type": "threads.create", "params": {"input": user_message("What is on my list?")}}, "alice")
        turns.append((sse_events(first), requests.take()))
        thread_id = turns[0][0][0]["thread"]["id"]
        for message in ("And now?", "Thanks"):
            body = {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_message(message)}}
            turns.append((sse_events(await post(app, body, "alice")), requests.take()))
        listed = await post(app, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}, "alice")
        turns.append((listed.json()["data"], requests.take()))
        return turns

    (created, first), (_, second), (_, third), (items, listing) = asyncio.run(conversation())
    # Every turn: the per-user limit's conditional count before anything else, its tokens at the end.
    for _, turn in ((created, first), (None, second), (None, third)):
        assert turn.pop(("usage", "UpdateItem")) == 2
    # A new thread: its first message goes with the thread in one transaction; the answer and
    # the thread's title in one batch at the end; nothing is read back.
    assert first == Counter({("chatkit", "TransactWriteItems"): 1, ("tasks", "Query"): 1, ("chatkit", "BatchWriteItem"): 1})
    assert [e["type"] for e in created][-1] == "thread.item.done" and "error" not in [e["type"] for e in created]
    # A later turn: the thread and its newest items (two requests sent together), the user's
    # message, the tool's one request, the answer.
    assert second == Counter({
        ("chatkit", "GetItem"): 1, ("chatkit", "Query"): 1, ("chatkit", "PutItem"): 1,
        ("tasks", "Query"): 1, ("chatkit", "BatchWriteItem"): 1,
    })
    assert third == Counter({("chatkit", "GetItem"): 1, ("chatkit", "Query"): 1, ("chatkit", "PutItem"): 1, ("chatkit", "BatchWriteItem"): 1})
    for turn in (first, second, third):
        tool_calls = turn[("tasks", "Query")]
        assert sum(turn.values()) + 2 - tool_calls <= TURN_BUDGET  # the two usage updates count too
    # What the held writes stored is all there, in order, and the model saw it on the next turn.
    # Each list_tasks call also shows its result as a widget (the task list), stored in the same batch.
    assert [i["type"] for i in items] == ["user_message", "widget", "assistant_message"] * 2 + ["user_message", "assistant_message"]
    assert [i["content"][0]["text"] for i in items if i["type"] == "assistant_message"] == ["You have 0 tasks."] * 2 + ["Bye."]
    assert listing == Counter({("chatkit", "Query"): 1})
    last_input = json.dumps(fake.requests[-1]["input"])
    assert all(said in last_input for said in ("What is on my list?", "And now?", "You have 0 tasks.", "Thanks"))


def test_the_title_of_a_new_thread_is_stored_with_the_answer(counted: tuple[Any, Requests], fake: FakeResponses) -> None:
    app, requests = counted
    fake.script(text("Hello.", pieces=1, pause=0))
    events = sse_events(asyncio.run(post(app, {"type": "threads.create", "params": {"input": user_message("Plan my week")}}, "alice")))
    assert requests.take() == Counter({("usage", "UpdateItem"): 2, ("chatkit", "TransactWriteItems"): 1, ("chatkit", "BatchWriteItem"): 1})
    assert [e["thread"]["title"] for e in events if e["type"] == "thread.updated"] == ["Plan my week"]
    listed = asyncio.run(post(app, {"type": "threads.list", "params": {}}, "alice")).json()["data"]
    assert [(t["id"], t["title"]) for t in listed] == [(events[0]["thread"]["id"], "Plan my week")]


# ---- the turn's copy of the thread answers exactly as DynamoDB does -------------------------------

START = datetime(2026, 11, 28, 9, 0)


def _seed(store: DynamoDBStore, count: int) -> None:
    context = RequestContext("alice")

    async def write() -> None:
        await store.save_thread(ThreadMetadata(id="thr_copy", created_at=START, title="t"), context)
        for index in range(count):
            item = AssistantMessageItem(
                id=f"msg_{index:02d}", thread_id="thr_copy", created_at=START + timedelta(seconds=index),
                content=[AssistantMessageContent(text=f"answer {index}")],
            )
            await store.add_thread_item("thr_copy", item, context)

    asyncio.run(write())


def _pages(store: DynamoDBStore, context: RequestContext, limit: int) -> list[tuple[list[str], bool]]:
    """Every desc page of the thread, first page from ``context`` (perhaps its copy), the rest after it."""

    async def read() -> list[tuple[list[str], bool]]:
        await store.load_thread("thr_copy", context)
        pages, after = [], None
        while True:
            page = await store.load_thread_items("thr_copy", after, limit, "desc", context)
            pages.append(([item.id for item in page.data], page.has_more))
            if not page.has_more:
                return pages
            after = page.after

    return asyncio.run(read())


@pytest.mark.parametrize("items", [0, 1, 3, 4, 7])
@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5])
def test_pages_from_the_turns_copy_match_dynamodb(aws: Any, items: int, limit: int) -> None:
    store = DynamoDBStore(aws.physical_id("ChatKitTable"))
    _seed(store, items)
    aws_clients.client.cache_clear()
    # The copy holds the 3 newest items (4 read: the extra one says that older ones exist).
    with_copy = RequestContext("alice", turn=Turn(history=3))
    assert _pages(store, with_copy, limit) == _pages(store, RequestContext("alice"), limit)

