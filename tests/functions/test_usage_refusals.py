"""What a user sees over a limit: POST /chatkit and /mcp answer 429 with Retry-After, before
anything is stored or any model is called, and other users go on as before."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.standins.openai import FakeResponses, fake_responses, text
from tests.support.chatkit_app import load_chatkit_app, post, set_openai_key, sse_events, user_message
from tests.support.mcp_client import modern, request, send
from tests.support.minutes import start_of_a_minute

# Its tests wait for the start of a minute (tests/support/minutes.py).
pytestmark = pytest.mark.waits


@pytest.fixture
def fake() -> Iterator[FakeResponses]:
    with fake_responses() as running:
        yield running


@pytest.fixture
def chat() -> Iterator[Any]:
    """``chat(app, body, user_id)``: every request of a test on one event loop, as in the function
    (the OpenAI client's pooled connections belong to the loop that opened them)."""
    with asyncio.Runner() as runner:
        yield lambda app, body, user_id="alice": runner.run(post(app, body, user_id))


def scan(aws: Any, logical_id: str) -> list[dict[str, Any]]:
    return aws.client("dynamodb").scan(TableName=aws.physical_id(logical_id))["Items"]


def usage_of(aws: Any, user_id: str) -> dict[str, Any]:
    [item] = [item for item in scan(aws, "UsageTable") if item["user_id"]["S"] == user_id]
    return item


def test_over_the_message_limit_chatkit_answers_429_before_storing_or_calling_openai(
    aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses, chat: Any
) -> None:
    set_openai_key(aws)
    app = load_chatkit_app(
        aws, monkeypatch, {"OPENAI_BASE_URL": fake.url, "CHATKIT_MESSAGES_PER_MINUTE": "2"}
    )
    fake.script(text("One."), text("Two."), text("Three."))
    start_of_a_minute()
    create = {"type": "threads.create", "params": {"input": user_message("Hello")}}
    first = chat(app, create)
    thread_id = sse_events(first)[0]["thread"]["id"]
    add = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_message("Again")},
    }
    assert chat(app, add).status_code == 200
    stored = scan(aws, "ChatKitTable")
    model_calls = len(fake.requests)

    refused = chat(app, add)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "at most 2 a minute" in refused.json()["detail"]
    assert scan(aws, "ChatKitTable") == stored
    assert len(fake.requests) == model_calls
    # Reading is not a turn: the thread still opens.
    assert chat(app, {"type": "items.list", "params": {"thread_id": thread_id}}).status_code == 200
    # Bob chats on.
    assert chat(app, create, "bob").status_code == 200
    # Tokens of the two answered turns, from the Responses API's usage (the fake reports 10 in, 5 out).
    alice = usage_of(aws, "alice")
    assert (alice["tokens_in"], alice["tokens_out"], alice["tokens"]) == (
        {"N": "20"},
        {"N": "10"},
        {"N": "30"},
    )


def test_over_the_daily_token_budget_chatkit_answers_429_until_midnight(
    aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses, chat: Any
) -> None:
    set_openai_key(aws)
    app = load_chatkit_app(
        aws, monkeypatch, {"OPENAI_BASE_URL": fake.url, "CHATKIT_DAILY_TOKEN_BUDGET": "15"}
    )
    fake.script(text("Spent."))
    create = {"type": "threads.create", "params": {"input": user_message("Hello")}}
    assert chat(app, create).status_code == 200  # 15 tokens: the budget is used up
    refused = chat(app, create)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 86_400
    assert "15 tokens" in refused.json()["detail"]
    assert len(scan(aws, "ChatKitTable")) == 3  # the first thread, its message and the answer
    assert len(fake.requests) == 1


def test_a_turn_refused_for_bad_input_counts_nothing_though_the_limit_is_checked_beside_it(
    aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses, chat: Any
) -> None:
    """The limit's update goes out while the thread is read; a turn the checks refuse gives its
    count back, and a check's error comes before the limit's 429, as when they ran in turn."""
    set_openai_key(aws)
    app = load_chatkit_app(
        aws, monkeypatch, {"OPENAI_BASE_URL": fake.url, "CHATKIT_MESSAGES_PER_MINUTE": "2"}
    )
    fake.script(text("One."), text("Two."))
    start_of_a_minute()
    create = {"type": "threads.create", "params": {"input": user_message("Hello")}}
    bobs = sse_events(chat(app, create, "bob"))[0]["thread"]["id"]
    alices = sse_events(chat(app, create))[0]["thread"]["id"]
    before = usage_of(aws, "alice")
    stored = scan(aws, "ChatKitTable")

    def add(thread_id: str, message: str = "Again") -> dict[str, Any]:
        return {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_message(message)},
        }

    refused = [
        (add("thr_does_not_exist"), 404),
        (add(bobs), 404),  # another user's thread is not found, as if it did not exist
        (add(alices, "x" * 32_001), 413),
        ({"type": "threads.retry_after_item", "params": {"thread_id": bobs, "item_id": "msg_x"}}, 404),
    ]
    for body, status in refused:
        assert chat(app, body).status_code == status, body["type"]
    assert usage_of(aws, "alice")["turns"] == before["turns"] == {"N": "1"}
    # A user whose only request was refused has no usage record at all.
    assert chat(app, add(alices), "carol").status_code == 404
    assert [item for item in scan(aws, "UsageTable") if item["user_id"]["S"] == "carol"] == []
    assert scan(aws, "ChatKitTable") == stored
    assert len(fake.requests) == 2

    # The minute still holds Alice's second turn, then the limit answers.
    assert chat(app, add(alices)).status_code == 200
    assert chat(app, add(alices)).status_code == 429
    # Over the limit, a bad thread is still a 404, and still counts nothing.
    assert chat(app, add("thr_does_not_exist")).status_code == 404
    assert usage_of(aws, "alice")["turns"] == {"N": "2"}


def test_over_the_tool_call_limit_mcp_answers_http_429_with_retry_after(invoke: Any, aws: Any) -> None:
    limit = {"MCP_CALLS_PER_MINUTE": "3"}

    def tool(title: str, user_id: str = "alice") -> Any:
        body, headers = modern("tools/call", {"name": "add_task", "arguments": {"title": title}})
        return send(lambda name, event: invoke(name, event, limit), body, headers, user_id=user_id)

    start_of_a_minute(20)
    for n in range(3):
        assert tool(f"Task {n}").result["isError"] is False
    # Listing the tools is not a tool call.
    listed, headers = modern("tools/list")
    assert (
        send(lambda name, event: invoke(name, event, limit), listed, headers, user_id="alice").status == 200
    )
    refused = tool("One too many")
    assert refused.status == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.error["code"] == -32000 and "at most 3 a minute" in refused.error["message"]
    assert refused.body["id"] == 1
    assert sorted(i["title"]["S"] for i in scan(aws, "TasksTable")) == ["Task 0", "Task 1", "Task 2"]
    assert tool("Bob's", "bob").result["isError"] is False


def test_a_batch_of_tool_calls_counts_each_call(invoke: Any, aws: Any) -> None:
    batch = [
        request("tools/call", {"name": "add_task", "arguments": {"title": f"T{n}"}}, n) for n in range(3)
    ]
    headers = {"mcp-protocol-version": "2025-03-26"}
    limited = lambda name, event: invoke(name, event, {"MCP_CALLS_PER_MINUTE": "4"})
    start_of_a_minute(20)
    assert send(limited, batch, headers).status == 200
    refused = send(limited, batch, headers)
    assert refused.status == 429
    assert len(scan(aws, "TasksTable")) == 3
    assert usage_of(aws, "user-1")["calls"] == {"N": "3"}
    assert json.dumps(refused.body).count("at most 4 a minute") == 1
