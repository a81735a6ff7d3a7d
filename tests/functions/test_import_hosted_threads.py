"""ImportHostedThreadsFunction in-process against moto and the ChatKit threads stand-in.

What a user sees afterwards is read through ChatKitFunction's own app (threads.list, items.list).
The stand-in is reached by the real openai SDK over loopback (OPENAI_BASE_URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.emulator.runtime import LambdaContext
from local.standins.openai import (
    T0,
    History,
    HostedChatKit,
    ThreadsFault,
    error_body,
    fake_responses,
    hosted_chatkit,
    input_text,
    reply,
    seed_history,
    text,
)
from local.template import REGION, ROOT
from tests.support.chatkit_app import load_chatkit_app, post, set_openai_key, sse_events, user_message

# Its tests wait out OpenAI's Retry-After and the import's backoff, as the function does.
pytestmark = pytest.mark.waits

FUNCTION = "ImportHostedThreadsFunction"


@pytest.fixture
def api_key() -> str:
    return f"sk-test-{secrets.token_hex(16)}"


@pytest.fixture
def hosted(api_key: str) -> Iterator[HostedChatKit]:
    with hosted_chatkit(api_key) as stand_in:
        yield stand_in


@pytest.fixture
def history(hosted: HostedChatKit) -> History:
    return seed_history(hosted)


@pytest.fixture
def run_import(invoke: Any, aws: Any, hosted: HostedChatKit, api_key: str) -> Any:
    set_openai_key(aws, api_key)

    def run(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
        return invoke(FUNCTION, event or {}, {"OPENAI_BASE_URL": hosted.url}, context)

    return run


@pytest.fixture
def chatkit(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """ChatKitFunction's app, to read the store as a user's ChatKit client would."""
    app = load_chatkit_app(aws, monkeypatch)

    def request(user: str, kind: str, **params: Any) -> Any:
        response = asyncio.run(post(app, {"type": kind, "params": params}, user))
        assert response.status_code == 200, response.text
        return response.json()

    return request


def table_records(aws: Any) -> list[dict[str, Any]]:
    table = aws.physical_id("ChatKitTable")
    records, start = [], None
    while True:
        page = aws.client("dynamodb").scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        records += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return sorted(records, key=lambda r: (r["user_id"]["S"], r["sk"]["S"]))


def items_of(chatkit: Any, user: str, thread_id: str) -> list[dict[str, Any]]:
    items, after = [], None
    while True:
        page = chatkit(user, "items.list", thread_id=thread_id, order="asc", limit=50, after=after)
        items += page["data"]
        if not page["has_more"]:
            return items
        after = page["after"]


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items for part in item.get("content", []) if "text" in part]


def test_every_user_sees_only_their_threads_in_order_with_titles_and_texts(
    run_import: Any, chatkit: Any, history: History, hosted: HostedChatKit
) -> None:
    result = run_import()

    assert result["done"] is True and result["continuation"] is None
    convertible = hosted.item_count() - sum(history.unconvertible.values())
    assert result["totals"] == {
        "threads": {"imported": 5, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0},
        "items": {
            "imported": convertible,
            "skipped": 0,
            "failed": 2,
            "failed_by_type": history.unconvertible,
        },
    }
    for user, thread_ids in history.threads.items():
        listed = chatkit(user, "threads.list", order="asc", limit=50)["data"]
        assert [t["id"] for t in listed] == thread_ids  # own threads only, oldest first, hosted ids kept
        assert [t.get("title") for t in listed] == [history.titles[t] for t in thread_ids]
    long = items_of(chatkit, "alice", history.long_thread)
    assert texts(long) == [f"{'message' if i % 2 == 0 else 'answer'} {i:03d}" for i in range(130)]
    assert [i["type"] for i in long[:2]] == ["user_message", "assistant_message"]
    bob = chatkit("bob", "threads.list", order="asc")["data"]
    assert texts(items_of(chatkit, "bob", bob[0]["id"])) == [
        "bob's message in Gym plan",
        "bob's answer in Gym plan",
    ]


def test_every_item_type_comes_across_as_the_user_saw_it(
    run_import: Any, chatkit: Any, history: History
) -> None:
    run_import()

    items = items_of(chatkit, "alice", history.every_type)
    assert [i["type"] for i in items] == [
        "user_message",
        "task",
        "workflow",
        "widget",
        "client_tool_call",
        "assistant_message",
    ]
    user, task, workflow, widget, tool, answer = items
    assert (user["quoted_text"], texts([user])) == ("boxes by Friday", ["Add packing tasks for this"])
    assert (task["task"]["title"], task["task"]["content"]) == ("Called add_task", "Pack the kitchen")
    assert workflow["workflow"]["type"] == "reasoning" and [
        t["content"] for t in workflow["workflow"]["tasks"]
    ] == ["Three rooms to pack", "Kitchen first"]
    assert widget["widget"]["type"] == "Card" and widget["widget"]["children"][0]["value"] == "Buy milk"
    assert (tool["name"], tool["arguments"], tool["output"], tool["status"]) == (
        "set_theme",
        {"theme": "dark"},
        {"ok": True},
        "completed",
    )
    assert [a["source"]["type"] for a in answer["content"][0]["annotations"]] == ["url", "file"]
    receipts = chatkit("carol", "threads.list")["data"][0]
    assert receipts["status"] == {"type": "active"}
    untitled = chatkit("bob", "threads.get_by_id", thread_id=history.threads["bob"][1])
    assert untitled["status"] == {"type": "locked", "reason": "archived"} and "title" not in untitled
    [message, _] = items_of(chatkit, "carol", receipts["id"])
    assert [(a["name"], a["mime_type"]) for a in message["attachments"]] == [
        ("receipt.png", "image/png"),
        ("notes.pdf", "application/pdf"),
    ]


def test_a_second_run_changes_nothing_and_a_third_brings_a_new_item(
    run_import: Any, aws: Any, chatkit: Any, history: History, hosted: HostedChatKit
) -> None:
    run_import()
    before = table_records(aws)
    hosted.requests.clear()

    second = run_import()

    assert table_records(aws) == before
    assert second["totals"]["threads"] == {
        "imported": 0,
        "updated": 0,
        "unchanged": 5,
        "skipped": 0,
        "failed": 0,
    }
    assert second["totals"]["items"]["imported"] == 0
    # A rerun reads on from the last imported item: one short page per thread, not the history again.
    item_pages = [r for r in hosted.requests if r.path.endswith("/items")]
    assert len(item_pages) == 5 and all(
        r.query.get("after") for r in item_pages if history.long_thread in r.path
    )

    hosted.add_item(
        history.long_thread,
        "user_message",
        T0 + 9000,
        content=[input_text("one more thing")],
        attachments=[],
        inference_options=None,
    )
    hosted.add_item(history.long_thread, "assistant_message", T0 + 9000, content=[reply("noted")])
    third = run_import()

    assert third["totals"]["threads"]["updated"] == 1 and third["totals"]["threads"]["unchanged"] == 4
    assert third["totals"]["items"]["imported"] == 2
    assert texts(items_of(chatkit, "alice", history.long_thread))[-3:] == [
        "answer 129",
        "one more thing",
        "noted",
    ]
    assert len(table_records(aws)) == len(before) + 2


def test_a_429_is_retried_after_the_retry_after_it_names(
    run_import: Any, chatkit: Any, history: History, hosted: HostedChatKit
) -> None:
    hosted.fail(
        ThreadsFault(
            429,
            {"retry-after": "1"},
            error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
            path=history.every_type,
        )
    )

    result = run_import()

    assert result["done"] and result["totals"]["threads"]["imported"] == 5
    tries = [r for r in hosted.requests if r.path.endswith(f"{history.every_type}/items")]
    assert [r.status for r in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 0.95
    assert len(items_of(chatkit, "alice", history.every_type)) == 6


def test_a_5xx_is_retried_with_backoff(run_import: Any, history: History, hosted: HostedChatKit) -> None:
    hosted.fail(ThreadsFault(503, path="/chatkit/threads"), ThreadsFault(500, path=history.long_thread))

    result = run_import()

    assert result["done"] and result["totals"]["threads"]["imported"] == 5
    listings = [r for r in hosted.requests if r.path == "/v1/chatkit/threads"]
    assert [r.status for r in listings] == [503, 200]
    assert listings[1].at - listings[0].at >= 0.7  # the first backoff: 1 s less up to a quarter of jitter


GARBLED = [
    pytest.param(
        {"content-type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>", id="a proxy's page"
    ),
    pytest.param({}, b"not json", id="not json"),
    pytest.param({}, b'{"data": [{"id": "cthr_', id="cut short"),
]


@pytest.mark.parametrize(("headers", "body"), GARBLED)
def test_a_listing_answered_200_with_something_else_stops_the_run_saying_so(
    run_import: Any, aws: Any, history: History, hosted: HostedChatKit, headers: dict[str, str], body: bytes
) -> None:
    hosted.fail(ThreadsFault(200, headers, body, path="/chatkit/threads"))

    result = run_import()

    assert result["done"] is False and result["continuation"]
    assert "OpenAI answered list threads with something else than its API's answer" in result["error"]
    assert table_records(aws) == []


@pytest.mark.parametrize(("headers", "body"), GARBLED)
def test_a_thread_whose_items_come_back_garbled_fails_alone(
    run_import: Any, history: History, hosted: HostedChatKit, headers: dict[str, str], body: bytes
) -> None:
    hosted.fail(ThreadsFault(200, headers, body, path=f"{history.long_thread}/items"))

    result = run_import()

    assert result["totals"]["threads"]["imported"] == 4
    assert result["totals"]["threads"]["failed"] == 1


def test_a_thread_that_keeps_failing_does_not_stop_the_others(
    run_import: Any, chatkit: Any, history: History, hosted: HostedChatKit
) -> None:
    broken = history.threads["bob"][0]
    hosted.fail(*[ThreadsFault(500, path=broken)] * 6)

    first = run_import()

    assert first["done"] is True
    assert first["totals"]["threads"] == {
        "imported": 4,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert [t["id"] for t in chatkit("bob", "threads.list", order="asc")["data"]] == history.threads["bob"][
        1:
    ]
    # The next run picks the failed thread up.
    second = run_import()
    assert second["totals"]["threads"] == {
        "imported": 1,
        "updated": 0,
        "unchanged": 4,
        "skipped": 0,
        "failed": 0,
    }
    assert [t["id"] for t in chatkit("bob", "threads.list", order="asc")["data"]] == history.threads["bob"]


class ShortOfTime(LambdaContext):
    """Lambda's context with a clock that runs out after ``allowance`` looks at it."""

    def __init__(self, allowance: int) -> None:
        from local.template import Template

        super().__init__(Template.load().functions()[FUNCTION], REGION)
        self.allowance = allowance

    def get_remaining_time_in_millis(self) -> int:
        self.allowance -= 1
        return 600_000 if self.allowance >= 0 else 100_000


def test_out_of_time_the_function_answers_a_continuation_that_finishes_the_job(
    run_import: Any, aws: Any, chatkit: Any, hosted: HostedChatKit
) -> None:
    # 130 threads: two pages of threads, and the clock runs out in the middle of the first.
    for index in range(130):
        thread_id = hosted.add_thread(f"user-{index % 3}", f"thread {index}", T0 + index)
        hosted.add_item(
            thread_id,
            "user_message",
            T0 + index,
            content=[input_text(f"hello {index}")],
            attachments=[],
            inference_options=None,
        )

    first = run_import({}, ShortOfTime(allowance=40))
    assert first["done"] is False and first["continuation"]
    started = first["totals"]["threads"]["imported"]
    assert 0 < started < 130

    answers = [first]
    while not answers[-1]["done"]:
        answers.append(run_import({"continuation": answers[-1]["continuation"]}, ShortOfTime(allowance=60)))
        assert len(answers) < 10
    last = answers[-1]
    assert last["totals"]["threads"]["imported"] + last["totals"]["threads"]["unchanged"] == 130
    assert last["totals"]["items"]["imported"] == 130
    listed = {
        user: len(chatkit(user, "threads.list", limit=100)["data"]) for user in ("user-0", "user-1", "user-2")
    }
    assert listed == {"user-0": 44, "user-1": 43, "user-2": 43}
    assert len([r for r in table_records(aws) if r["sk"]["S"].startswith("thread#")]) == 130


def test_dry_run_counts_what_it_would_import_and_writes_nothing(
    run_import: Any, aws: Any, history: History, hosted: HostedChatKit
) -> None:
    dry = run_import({"dry_run": True})

    assert table_records(aws) == []
    assert dry["dry_run"] is True and dry["summary"].endswith("[dry run: nothing was written]")
    real = run_import()
    assert {k: v for k, v in dry["totals"].items()} == real["totals"]


def test_one_users_threads_only(
    run_import: Any, aws: Any, chatkit: Any, history: History, hosted: HostedChatKit
) -> None:
    result = run_import({"user": "bob"})

    assert result["totals"]["threads"]["imported"] == 2
    assert {r["user_id"]["S"] for r in table_records(aws)} == {"bob"}
    assert [r.query.get("user") for r in hosted.requests if r.path == "/v1/chatkit/threads"] == ["bob"]


def test_a_thread_deleted_here_stays_deleted_and_a_rename_here_wins(
    run_import: Any, chatkit: Any, history: History, hosted: HostedChatKit
) -> None:
    run_import()
    bob_gym, bob_other = history.threads["bob"]
    chatkit("bob", "threads.delete", thread_id=bob_gym)
    chatkit("bob", "threads.update", thread_id=bob_other, title="My own title")
    hosted.set_title(bob_other, "Title from OpenAI")
    hosted.set_title(history.long_thread, "Groceries, renamed at OpenAI")

    again = run_import()

    assert again["totals"]["threads"] == {
        "imported": 0,
        "updated": 1,
        "unchanged": 3,
        "skipped": 1,
        "failed": 0,
    }
    assert [(t["id"], t["title"]) for t in chatkit("bob", "threads.list")["data"]] == [
        (bob_other, "My own title")
    ]
    alice = {t["id"]: t["title"] for t in chatkit("alice", "threads.list")["data"]}
    assert alice[history.long_thread] == "Groceries, renamed at OpenAI"


def test_a_refused_key_stops_the_run_at_once_and_writes_nothing(
    invoke: Any, aws: Any, history: History, hosted: HostedChatKit
) -> None:
    set_openai_key(aws, "sk-not-the-projects-key")

    result = invoke(FUNCTION, {}, {"OPENAI_BASE_URL": hosted.url})

    assert result["done"] is False and "refused the API key" in result["error"]
    assert "sk-not" not in json.dumps(result)
    assert table_records(aws) == [] and len(hosted.requests) == 1  # no retry of a 401


@pytest.mark.parametrize(
    ("event", "says"),
    [
        pytest.param({"user": ""}, "user must be", id="empty-user"),
        pytest.param({"continuation": "garbage"}, "continuation is not", id="bad-token"),
        pytest.param({"dry_run": 1}, "dry_run must be", id="dry-run-not-bool"),
        pytest.param({"limit": 5}, "Unknown field", id="unknown-field"),
    ],
)
def test_bad_events_answer_what_to_fix_and_change_nothing(
    run_import: Any, aws: Any, history: History, hosted: HostedChatKit, event: dict[str, Any], says: str
) -> None:
    result = run_import(event)

    assert result["done"] is False and says in result["error"]
    assert table_records(aws) == [] and hosted.requests == []


def test_without_a_key_the_function_says_where_to_put_it(
    invoke: Any, aws: Any, hosted: HostedChatKit
) -> None:
    result = invoke(FUNCTION, {}, {"OPENAI_BASE_URL": hosted.url})

    assert result["done"] is False and "OpenAIApiKeySecret" in result["error"]
    assert hosted.requests == []


def test_items_that_cannot_be_converted_are_counted_by_type_and_logged(
    run_import: Any, history: History, caplog: pytest.LogCaptureFixture
) -> None:
    result = run_import()

    assert result["totals"]["items"]["failed_by_type"] == {"chatkit.client_tool_call": 1, "chatkit.widget": 1}
    refused = [r for r in caplog.records if r.getMessage() == "hosted item not convertible"]
    assert sorted(r.item_type for r in refused) == ["chatkit.client_tool_call", "chatkit.widget"]
    assert all(
        r.levelname == "WARNING" and r.thread_id == history.every_type and r.reason and r.item_id
        for r in refused
    )


def test_a_new_hosted_thread_after_the_first_run_is_imported_by_the_next(
    run_import: Any, chatkit: Any, history: History, hosted: HostedChatKit
) -> None:
    run_import()
    late = hosted.add_thread("alice", "Made just before the switch", int(time.time()))
    hosted.add_item(
        late,
        "user_message",
        int(time.time()),
        content=[input_text("last hosted message")],
        attachments=[],
        inference_options=None,
    )

    result = run_import()

    assert result["totals"]["threads"]["imported"] == 1
    assert chatkit("alice", "threads.list", limit=1)["data"][0]["id"] == late


@pytest.mark.parametrize(
    "fixture", sorted((ROOT / "events" / "import_hosted_threads").glob("*.json")), ids=lambda p: p.stem
)
def test_event_fixtures_do_what_their_names_say(
    run_import: Any, aws: Any, hosted: HostedChatKit, fixture: Path
) -> None:
    event = json.loads(fixture.read_text())
    # The continuation fixture resumes after this thread of alice's.
    first = hosted.add_thread("alice", "before the cut", T0, thread_id="cthr_0000000000000000")
    later = hosted.add_thread("alice", "after the cut", T0 + 1)
    hosted.add_thread("bob", "bob's", T0 + 2)
    for thread_id in (first, later):
        hosted.add_item(
            thread_id,
            "user_message",
            T0 + 3,
            content=[input_text("hi")],
            attachments=[],
            inference_options=None,
        )

    result = run_import(event)

    imported = {r["thread_id"]["S"] for r in table_records(aws) if r["sk"]["S"].startswith("thread#")}
    if fixture.stem.startswith("error_"):
        assert result["done"] is False and result["error"] and imported == set()
    elif fixture.stem == "one_user_dry_run":
        assert result["done"] and result["totals"]["threads"]["imported"] == 2 and imported == set()
    elif fixture.stem == "continue_for_alice":
        assert result["done"] and imported == {later}
    else:
        assert result["done"] and len(imported) == 3


COLD_CONTAINER = """
import json, sys
from chatkit.server import ChatKitServer
from chatkit.types import Page
from chatkit_backend.chat.store.items import ITEM_ADAPTER as _ITEM
items = [_ITEM.validate_json(raw) for raw in json.load(sys.stdin)]
sys.stdout.write(ChatKitServer._serialize(None, Page(data=items)).decode())
"""


def test_a_cold_container_serves_stored_items_first_thing(
    run_import: Any, aws: Any, history: History
) -> None:
    # A fresh process reads items only through the store, as a Lambda container whose first
    # request is items.list does: every item type must serialise without any other warm-up.
    run_import()
    stored = [
        r["data"]["S"] for r in table_records(aws) if r["sk"]["S"].startswith(f"item#{history.every_type}#")
    ]
    done = subprocess.run(
        [sys.executable, "-c", COLD_CONTAINER],
        input=json.dumps(stored),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "layers" / "shared" / "python")},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(item["type"] for item in json.loads(done.stdout)["data"]) == sorted(
        ["user_message", "task", "workflow", "widget", "client_tool_call", "assistant_message"]
    )


def test_an_imported_thread_goes_on_with_the_self_hosted_agent(
    run_import: Any, aws: Any, monkeypatch: pytest.MonkeyPatch, history: History
) -> None:
    run_import()
    receipts = history.threads["carol"][0]
    with fake_responses() as model:
        app = load_chatkit_app(aws, monkeypatch, {"OPENAI_BASE_URL": model.url})
        model.script(text("You sent receipt.png and notes.pdf.", pieces=1, pause=0))
        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": receipts, "input": user_message("What did I send you?")},
        }
        response = asyncio.run(post(app, body, "carol"))

    assert response.status_code == 200, response.text
    assert sse_events(response)[-1]["item"]["content"][0]["text"] == "You sent receipt.png and notes.pdf."
    # The model saw the imported history, the attachments as notes naming them, then the new message.
    said = [
        part["text"]
        for entry in model.requests[0]["input"]
        for part in entry.get("content", [])
        if isinstance(part, dict) and "text" in part
    ]
    assert said[:3] == [
        "Here are my receipts",
        "(The user attached 'receipt.png' (image/png); the file is not available here.)",
        "(The user attached 'notes.pdf' (application/pdf); the file is not available here.)",
    ]
    assert said[-2:] == ["Got both files.", "What did I send you?"]


def test_retry_after_ms_is_honoured_too(run_import: Any, history: History, hosted: HostedChatKit) -> None:
    hosted.fail(
        ThreadsFault(
            429,
            {"retry-after-ms": "400"},
            error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
            path="/chatkit/threads",
        )
    )

    result = run_import()

    listings = [r for r in hosted.requests if r.path == "/v1/chatkit/threads"]
    assert result["done"] and [r.status for r in listings] == [429, 200]
    assert 0.38 <= listings[1].at - listings[0].at < 5


def test_out_of_quota_is_not_retried_and_stops_the_run(
    run_import: Any, aws: Any, history: History, hosted: HostedChatKit
) -> None:
    quota = error_body("You exceeded your current quota.", "insufficient_quota", "insufficient_quota")
    hosted.fail(ThreadsFault(429, {}, quota, path=history.long_thread))

    result = run_import()

    assert result["done"] is False and "out of quota" in result["error"] and result["continuation"]
    assert [r.status for r in hosted.requests if history.long_thread in r.path] == [429]
    # Resuming once the quota is back finishes the job.
    again = run_import({"continuation": result["continuation"]})
    assert (
        again["done"]
        and again["totals"]["threads"]["imported"] + again["totals"]["threads"]["unchanged"] == 5
    )
