"""The DynamoDB requests of one chat turn, counted where every request starts (botocore's events
on the container's client), as /mcp's tests count tool calls.

Budget (docs/latency.md): a turn makes at most 6 DynamoDB requests plus one per tool call. It
reads the thread and its newest items once, never reads back what it wrote, and sends the
answer's writes together at the end of the turn, before the stream ends. A later turn waits for
2 round trips plus one per tool call: the user's message is written while the model is asked,
and the request commits, and a tool runs, only once it is stored.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata
from chatkit_backend.aws import clients as aws_clients
from chatkit_backend.chat.store.context import RequestContext, Turn
from chatkit_backend.chat.store.dynamodb import DynamoDBStore

from local.standins.openai import FakeResponses, call, fake_responses, last_tool_output, text
from tests.support.aws_faults import FAULTS, Fault, Outage
from tests.support.chatkit_app import load_chatkit_app, post, set_openai_key, sse_events, user_message

TURN_BUDGET = 6
# Round trips a later turn waits for: the thread, its history and the count together; the
# answer and the tokens together. Plus one per tool call.
ROUND_TRIPS = 2


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
            aws_clients.client("dynamodb", fail_fast=fail_fast).meta.events.register(
                "before-parameter-build.dynamodb", self._count
            )

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
    kinds = {
        aws.physical_id("ChatKitTable"): "chatkit",
        aws.physical_id("TasksTable"): "tasks",
        aws.physical_id("UsageTable"): "usage",
    }
    return app, Requests(kinds)


def test_a_turn_with_a_tool_call_stays_within_the_budget(
    counted: tuple[Any, Requests], fake: FakeResponses
) -> None:
    app, requests = counted
    answer = lambda request: text(
        f"You have {len(last_tool_output(request)['tasks'])} tasks.", pieces=2, pause=0
    )
    fake.script(call("list_tasks"), answer, call("list_tasks"), answer, text("Bye.", pieces=1, pause=0))

    async def conversation() -> list[tuple[list[dict[str, Any]], Counter[tuple[str, str]]]]:
        turns = []
        first = await post(
            app, {"type": "threads.create", "params": {"input": user_message("What is on my list?")}}, "alice"
        )
        turns.append((sse_events(first), requests.take()))
        thread_id = turns[0][0][0]["thread"]["id"]
        for message in ("And now?", "Thanks"):
            body = {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_message(message)},
            }
            turns.append((sse_events(await post(app, body, "alice")), requests.take()))
        listed = await post(
            app, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}, "alice"
        )
        turns.append((listed.json()["data"], requests.take()))
        return turns

    (created, first), (_, second), (_, third), (items, listing) = asyncio.run(conversation())
    # Every turn: the per-user limit's conditional count before anything else, its tokens at the end.
    for _, turn in ((created, first), (None, second), (None, third)):
        assert turn.pop(("usage", "UpdateItem")) == 2
    # A new thread: its first message goes with the thread in one transaction; the answer and
    # the thread's title in one batch at the end; nothing is read back.
    assert first == Counter(
        {("chatkit", "TransactWriteItems"): 1, ("tasks", "Query"): 1, ("chatkit", "BatchWriteItem"): 1}
    )
    assert [e["type"] for e in created][-1] == "thread.item.done" and "error" not in [
        e["type"] for e in created
    ]
    # A later turn: the thread and its newest items (two requests sent together), the user's
    # message, the tool's one request, the answer.
    assert second == Counter(
        {
            ("chatkit", "GetItem"): 1,
            ("chatkit", "Query"): 1,
            ("chatkit", "PutItem"): 1,
            ("tasks", "Query"): 1,
            ("chatkit", "BatchWriteItem"): 1,
        }
    )
    assert third == Counter(
        {
            ("chatkit", "GetItem"): 1,
            ("chatkit", "Query"): 1,
            ("chatkit", "PutItem"): 1,
            ("chatkit", "BatchWriteItem"): 1,
        }
    )
    for turn in (first, second, third):
        tool_calls = turn[("tasks", "Query")]
        assert sum(turn.values()) + 2 - tool_calls <= TURN_BUDGET  # the two usage updates count too
    # What the held writes stored is all there, in order, and the model saw it on the next turn.
    # Each list_tasks call also shows its result as a widget (the task list), stored in the same batch.
    assert [i["type"] for i in items] == ["user_message", "widget", "assistant_message"] * 2 + [
        "user_message",
        "assistant_message",
    ]
    assert [i["content"][0]["text"] for i in items if i["type"] == "assistant_message"] == [
        "You have 0 tasks."
    ] * 2 + ["Bye."]
    assert listing == Counter({("chatkit", "Query"): 1})
    last_input = json.dumps(fake.requests[-1]["input"])
    assert all(
        said in last_input for said in ("What is on my list?", "And now?", "You have 0 tasks.", "Thanks")
    )


class Timeline:
    """When each DynamoDB request of the container's clients was under way, by table kind and
    operation. Every request takes a network's 50 ms (in botocore's sending thread), so requests
    sent together are under way together, and the user's PutItem is held until the model is asked."""

    def __init__(self, tables: dict[str, str]) -> None:
        self.kinds = tables
        self.spans: list[tuple[str, float, float]] = []
        self.model_asked = threading.Event()
        self.held: tuple[float, float] | None = None
        for fail_fast in (False, True):
            events = aws_clients.client("dynamodb", fail_fast=fail_fast).meta.events
            events.register("before-parameter-build.dynamodb", self._named)
            events.register("before-call.dynamodb", self._began)
            events.register("after-call.dynamodb", self._ended)
            events.register("before-send.dynamodb", lambda **_: time.sleep(0.05))
        aws_clients.client("dynamodb").meta.events.register("before-send.dynamodb.PutItem", self._hold)

    def _named(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        table = params.get("TableName") or next(iter(params.get("RequestItems") or {}), "")
        context["timeline"] = f"{self.kinds.get(table, table)} {model.name}"

    def _began(self, context: dict[str, Any], **_: Any) -> None:
        context["timeline_began"] = time.perf_counter()

    def _ended(self, context: dict[str, Any], **_: Any) -> None:
        self.spans.append((context["timeline"], context["timeline_began"], time.perf_counter()))

    def _hold(self, **_: Any) -> None:
        # Released only once the model has the turn's first request: a turn that waited for its
        # message before asking the model would never get there (and fail the test after 10 s).
        held = time.perf_counter()
        asked = self.model_asked.wait(10)
        time.sleep(0.2)  # room for a tool or a commit that does not wait, to show up
        self.held = (held, time.perf_counter()) if asked else None

    def rounds(self, model_spans: list[tuple[float, float]]) -> list[list[str]]:
        """The requests in round trips (sent together: under way at once), leaving out those under
        way while the model was being asked."""
        rounds: list[list[str]] = []
        reached = float("-inf")
        for name, began, ended in sorted(self.spans, key=lambda span: span[1]):
            if any(began < model_end and ended > model_begin for model_begin, model_end in model_spans):
                continue
            if rounds and began < reached:
                rounds[-1].append(name)
            else:
                rounds.append([name])
            reached = max(reached, ended)
        return [sorted(names) for names in rounds]


def test_the_users_message_is_written_while_the_model_is_asked(
    aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses
) -> None:
    set_openai_key(aws)
    app = load_chatkit_app(aws, monkeypatch, {"OPENAI_BASE_URL": fake.url})
    committed: list[float] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                committed.append(time.perf_counter())
            await send(message)

        await app(scope, receive, sending)

    fake.script(text("Hello.", pieces=1, pause=0))
    with asyncio.Runner() as runner:
        created = sse_events(
            runner.run(
                post(app, {"type": "threads.create", "params": {"input": user_message("Hi")}}, "alice")
            )
        )
        timeline = Timeline(
            {
                aws.physical_id("ChatKitTable"): "chatkit",
                aws.physical_id("TasksTable"): "tasks",
                aws.physical_id("UsageTable"): "usage",
            }
        )

        def asked(request: dict[str, Any]) -> Any:
            timeline.model_asked.set()
            return call("list_tasks")

        fake.script(asked, text("You have no tasks.", pieces=1, pause=0))
        spans_before = len(fake.spans)
        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": created[0]["thread"]["id"], "input": user_message("What is on my list?")},
        }
        response = runner.run(post(recording, body, "alice"))
        turn = timeline.rounds(fake.spans[spans_before:])
        listed = runner.run(
            post(app, {"type": "items.list", "params": {"thread_id": created[0]["thread"]["id"]}}, "alice")
        )

    events = sse_events(response)
    assert response.status_code == 200 and events[-1]["type"] == "thread.item.done", events
    assert timeline.held is not None, "the model was not asked while the user's message was being written"
    _, stored = timeline.held
    [(_, tool_began, _)] = [span for span in timeline.spans if span[0] == "tasks Query"]
    assert tool_began > stored and committed[-1] > stored
    # The round trips the turn waited for: the user's PutItem is not one of them.
    assert turn == [
        ["chatkit GetItem", "chatkit Query", "usage UpdateItem"],
        ["tasks Query"],
        ["chatkit BatchWriteItem", "usage UpdateItem"],
    ]
    assert len(turn) == ROUND_TRIPS + 1  # one tool call
    # What the turn stored: the message, the tool's widget, the answer, newest first.
    assert [item["type"] for item in listed.json()["data"]][:3] == [
        "assistant_message",
        "widget",
        "user_message",
    ]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_message_that_cannot_be_stored_leaves_nothing_of_its_turn(
    counted: tuple[Any, Requests], aws: Any, fake: FakeResponses, fault: Fault
) -> None:
    app, _ = counted

    def items() -> list[dict[str, Any]]:
        return aws.client("dynamodb").scan(TableName=aws.physical_id("ChatKitTable"))["Items"]

    fake.script(text("Hello.", pieces=1, pause=0))
    with asyncio.Runner() as runner:
        created = sse_events(
            runner.run(
                post(app, {"type": "threads.create", "params": {"input": user_message("Hi")}}, "alice")
            )
        )
        stored = items()
        fake.script(call("add_task", title="Buy milk"), text("Added it.", pieces=1, pause=0))
        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": created[0]["thread"]["id"], "input": user_message("Add buy milk")},
        }
        with Outage("dynamodb", fault, operation="PutItem"):
            refused = runner.run(post(app, body, "alice"))
        assert refused.status_code == 503, refused.text
        assert "DynamoDB" in refused.json()["detail"]
        assert items() == stored
        assert aws.client("dynamodb").scan(TableName=aws.physical_id("TasksTable"))["Items"] == []
        # The next turn goes through as if the refused one never happened.
        fake.steps.clear()
        fake.script(text("Hello again.", pieces=1, pause=0))
        again = runner.run(
            post(app, {**body, "params": {**body["params"], "input": user_message("Hi")}}, "alice")
        )
    assert again.status_code == 200 and sse_events(again)[-1]["type"] == "thread.item.done"
    assert len(items()) == len(stored) + 2


def test_the_title_of_a_new_thread_is_stored_with_the_answer(
    counted: tuple[Any, Requests], fake: FakeResponses
) -> None:
    app, requests = counted
    fake.script(text("Hello.", pieces=1, pause=0))
    events = sse_events(
        asyncio.run(
            post(app, {"type": "threads.create", "params": {"input": user_message("Plan my week")}}, "alice")
        )
    )
    assert requests.take() == Counter(
        {("usage", "UpdateItem"): 2, ("chatkit", "TransactWriteItems"): 1, ("chatkit", "BatchWriteItem"): 1}
    )
    assert [e["thread"]["title"] for e in events if e["type"] == "thread.updated"] == ["Plan my week"]
    listed = asyncio.run(post(app, {"type": "threads.list", "params": {}}, "alice")).json()["data"]
    assert [(t["id"], t["title"]) for t in listed] == [(events[0]["thread"]["id"], "Plan my week")]


# ---- the turn's copy of the thread answers exactly as DynamoDB does -------------------------------

START = datetime(2026, 11, 28, 9, 0)  # noqa: DTZ001 - ChatKit's items carry naive times (chatkit.agents subtracts datetime.now() from them)


def _seed(store: DynamoDBStore, count: int) -> None:
    context = RequestContext("alice")

    async def write() -> None:
        await store.save_thread(ThreadMetadata(id="thr_copy", created_at=START, title="t"), context)
        for index in range(count):
            item = AssistantMessageItem(
                id=f"msg_{index:02d}",
                thread_id="thr_copy",
                created_at=START + timedelta(seconds=index),
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
