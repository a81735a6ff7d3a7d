"""Running it for real users, through `make dev`'s stack: per-user limits (with requests that
really race, on several warm sandboxes), a user's data exported and erased, and the metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from local import sse
from local.emulator.token import mint_user_token
from local.standins.openai import FakeResponses, call, fake_responses, text
from tests.support.chat import Chat, user_message
from tests.support.emf import emf_lines, metric
from tests.support.local_stack import RunningStack, start_stack
from tests.support.minutes import start_of_a_minute

pytestmark = pytest.mark.integration

USERS = ("alice", "bob", "carol", "dave", "erin", "frank")
LIMITS = {"CHATKIT_MESSAGES_PER_MINUTE": "3", "MCP_CALLS_PER_MINUTE": "5"}


class Stack(Chat):
    stack: RunningStack
    fake: FakeResponses

    def me(self, method: str, user: str) -> httpx.Response:
        path = "/api/me/export" if method == "GET" else "/api/me"
        return httpx.request(method, f"{self.url}{path}", headers=self.headers(user, {}), timeout=60)


@pytest.fixture(scope="module")
def ops() -> Iterator[Stack]:
    env = {**LIMITS, "OPENAI_BASE_URL": "", "OPENAI_API_KEY": "sk-test-local"}
    with fake_responses() as fake, start_stack({**env, "OPENAI_BASE_URL": fake.url}) as stack:
        secret = stack.client("secretsmanager").get_secret_value(
            SecretId=stack.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
        )["SecretString"]
        chat = Stack(stack.url, {user: mint_user_token(secret, user) for user in USERS})
        chat.stack, chat.fake = stack, fake
        yield chat


def create(text_: str) -> dict[str, Any]:
    return {"type": "threads.create", "params": {"input": user_message(text_)}}


def test_the_fourth_message_in_a_minute_gets_429_and_another_user_still_chats(ops: Stack) -> None:
    start_of_a_minute()
    first = ops.post(create("One"), "alice")
    assert first.status_code == 200, first.text
    thread_id = sse.parse(first.content)[0]["thread"]["id"]
    add = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_message("More")},
    }
    assert ops.post(add, "alice").status_code == 200
    assert ops.post(add, "alice").status_code == 200
    before = ops.items(thread_id, "alice")

    fourth = ops.post(add, "alice")
    assert fourth.status_code == 429
    assert fourth.headers["content-type"].startswith("application/json")
    assert 1 <= int(fourth.headers["retry-after"]) <= 60
    assert "at most 3 a minute" in fourth.json()["detail"]
    assert ops.items(thread_id, "alice") == before  # nothing stored
    # Another user is not affected.
    assert ops.post(create("Hello from Bob"), "bob").status_code == 200


def test_concurrent_turns_at_the_limit_let_exactly_the_allowed_number_through(ops: Stack) -> None:
    start_of_a_minute()
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(lambda n: ops.post(create(f"Race {n}"), "carol").status_code, range(6)))
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert len(ops.threads("carol")) == 3


def test_concurrent_mcp_tool_calls_at_the_limit_let_exactly_the_allowed_number_through(ops: Stack) -> None:
    start_of_a_minute()
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda n: ops.mcp("add_task", {"title": f"Race {n}"}, "dave"), range(8)))
    assert sorted(reply.status_code for reply in replies) == [200] * 5 + [429] * 3
    refused = next(reply for reply in replies if reply.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "at most 5 a minute" in refused.json()["error"]["message"]
    assert ops.mcp("add_task", {"title": "Erin's"}, "erin").status_code == 200


def test_export_then_erasure_of_one_user_leaves_another_users_data_intact(ops: Stack) -> None:
    ops.fake.script(call("add_task", title="Frank's plan"), text("Added."))
    assert ops.post(create("Add Frank's plan"), "frank").status_code == 200
    for user in ("erin", "frank"):
        assert ops.mcp("add_task", {"title": f"{user} by MCP"}, user).status_code == 200
    erin_before = ops.me("GET", "erin").json()

    exported = ops.me("GET", "frank")
    assert exported.status_code == 200 and exported.headers["cache-control"] == "no-store"
    document = exported.json()
    assert document["complete"] is True
    assert sorted(task["title"] for task in document["tasks"]) == ["Frank's plan", "frank by MCP"]
    [thread] = document["chatkit"]["threads"]
    assert next(item["type"] for item in thread["items"]) == "user_message"
    assert "erin" not in json.dumps(document).lower()

    erased = ops.me("DELETE", "frank")
    assert erased.status_code == 200 and erased.json()["complete"] is True
    assert erased.json()["removed"]["tasks"] == 2 and erased.json()["removed"]["chatkit_threads"] == 1
    assert ops.me("DELETE", "frank").json() == {"complete": True, "removed": {}}
    after = ops.me("GET", "frank").json()
    assert (after["tasks"], after["chatkit"]["threads"], after["usage"]) == ([], [], [])
    erin_after = ops.me("GET", "erin").json()
    assert {k: v for k, v in erin_after.items() if k != "exported_at"} == {
        k: v for k, v in erin_before.items() if k != "exported_at"
    }
    assert [task["title"] for task in ops.list_tasks("erin")] == ["Erin's", "erin by MCP"]


def test_a_chat_turn_and_a_tool_call_show_as_emf_lines_in_make_devs_output(ops: Stack) -> None:
    ops.fake.script(call("list_tasks", status="all"), text("Here they are."))
    assert ops.post(create("What are my tasks?"), "erin").status_code == 200
    assert ops.mcp("complete_task", {"task_id": "01JUNKJUNKJUNKJUNKJUNKJUNK"}, "erin").status_code == 200
    assert ops.stack.wait_for_log('"tool":"complete_task"', timeout=10)
    lines = emf_lines(ops.stack.log())
    assert metric(lines, "ChatTurns")
    assert metric(lines, "ToolCalls", tool="list_tasks", outcome="ok", via="chat")
    assert metric(lines, "ToolCalls", tool="complete_task", outcome="error", via="mcp")
    tokens = metric(lines, "TokensIn")
    assert tokens and all(line["TokensIn"] == [20.0] and line["TokensOut"] == [10.0] for line in tokens[-1:])
    assert metric(lines, "LimitRefusals", limit="messages_per_minute")
    assert metric(lines, "LimitRefusals", limit="mcp_calls_per_minute")
    assert metric(lines, "Erasures", complete="true")
