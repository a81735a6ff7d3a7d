"""ChatKitFunction's app in-process against moto and the fake Responses API: protocol, agent, errors."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from local import sse
from local.standins.openai import FakeResponses, call, last_tool_output, text
from tests.support.chatkit_app import (
    create_thread,
    load_chatkit_app,
    request_context,
    send,
    sse_events,
    table_items,
    user_message,
)
from tests.support.tasks import task_service


def test_the_agent_adds_a_task_through_its_tool_and_says_so(app: Any, fake: FakeResponses, aws: Any) -> None:
    fake.script(
        call("add_task", title="Buy milk"),
        lambda request: text(f"Added {last_tool_output(request)['title']}."),
    )
    thread_id, events = create_thread(app, "Please add buy milk")
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["thread.created", "thread.item.done", "stream_options"]
    # While the tool runs the user sees progress, then a card for the task it added.
    progress = kinds.index("progress_update")
    [card] = [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"]
    assert events[progress]["text"] == "Adding the task…" and progress < kinds.index("thread.item.done", 3)
    assert card["widget"]["type"] == "Card" and card["copy_text"] == "☐ Buy milk"
    deltas = [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"].endswith("text_delta")
    ]
    assert "".join(deltas) == "Added Buy milk." and len(deltas) > 1
    assert (
        events[-1]["type"] == "thread.item.done"
        and events[-1]["item"]["content"][0]["text"] == "Added Buy milk."
    )
    [task] = task_service().list_tasks("alice").tasks
    assert (task.title, task.status) == ("Buy milk", "pending")
    # The model got the user's message, our instructions, the five tools and the model parameter.
    first = fake.requests[0]
    assert first["model"] == "gpt-test" and "task assistant" in first["instructions"]
    assert sorted(tool["name"] for tool in first["tools"]) == [
        "add_task",
        "complete_task",
        "delete_task",
        "list_tasks",
        "update_task",
    ]
    assert all("user_id" not in json.dumps(tool["parameters"]) for tool in first["tools"])
    assert fake.authorizations == ["Bearer sk-test-component"] * 2
    # The thread keeps the user's message, the card and the answer, in order.
    items = json.loads(
        send(app, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}).text
    )
    assert [i["type"] for i in items["data"]] == ["user_message", "widget", "assistant_message"]


def test_the_agent_completes_a_task_it_looked_up(app: Any, fake: FakeResponses) -> None:
    task = task_service().add_task("alice", "Call mom")
    task_service().add_task("bob", "Call mom")  # Bob's twin task stays as it is
    fake.script(
        call("list_tasks", status="pending"),
        lambda request: call("complete_task", task_id=last_tool_output(request)["tasks"][0]["task_id"]),
        lambda request: text(f"Completed {last_tool_output(request)['title']}."),
    )
    create_thread(app, "I called mom")
    assert task_service().list_tasks("alice").tasks[0].status == "completed"
    assert task_service().list_tasks("bob").tasks[0].status == "pending"
    assert [t.task_id for t in task_service().list_tasks("alice", "completed").tasks] == [task.task_id]


def test_a_tool_error_reaches_the_model_as_a_sentence(app: Any, fake: FakeResponses) -> None:
    fake.script(call("complete_task", task_id="01JUNKJUNKJUNKJUNKJUNKJUNK"), lambda request: text("Sorry."))
    create_thread(app, "complete the thing")
    assert "No task with id" in last_tool_output(fake.requests[1])["error"]


@pytest.mark.parametrize(
    "arguments, sentence",
    [
        ({"title": ""}, "title must not be empty."),
        ({"title": "t" * 201}, "title is 201 characters; add_task accepts at most 200."),
        (
            {"title": "t", "due": "today"},
            "add_task does not take due; its arguments are: title, description.",
        ),
        ({"title": 7}, "title must be a string."),
        ({}, "add_task needs title."),
    ],
)
def test_arguments_outside_the_tools_schema_reach_the_model_as_a_sentence(
    app: Any, fake: FakeResponses, arguments: dict[str, Any], sentence: str
) -> None:
    fake.script(call("add_task", **arguments), lambda request: text("Sorry."))
    create_thread(app, "add it")
    assert last_tool_output(fake.requests[1]) == {"error": sentence}
    assert task_service().list_tasks("alice").tasks == []


def test_threads_are_listed_per_user_and_continue_with_history(app: Any, fake: FakeResponses) -> None:
    fake.script(text("Hello Alice."), text("Hello Bob."), text("Still here."))
    alice_thread, _ = create_thread(app, "hi", "alice")
    bob_thread, _ = create_thread(app, "hi", "bob")
    listed = json.loads(send(app, {"type": "threads.list", "params": {"limit": 10}}, "alice").text)
    assert [t["id"] for t in listed["data"]] == [alice_thread]
    assert listed["data"][0]["title"] == "hi"  # titled from the first message, no model call
    follow_up = send(
        app,
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": alice_thread, "input": user_message("again")},
        },
    )
    assert next(e["type"] for e in sse_events(follow_up)) == "thread.item.done"
    # The second turn sent the first turn along: the agent keeps the conversation.
    history = json.dumps(fake.requests[-1]["input"])
    assert "Hello Alice." in history and "again" in history and "Hello Bob." not in history
    # Bob cannot read, write to or delete Alice's thread.
    for body in (
        {"type": "items.list", "params": {"thread_id": alice_thread}},
        {"type": "threads.get_by_id", "params": {"thread_id": alice_thread}},
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": alice_thread, "input": user_message("mine now")},
        },
        {"type": "threads.delete", "params": {"thread_id": alice_thread}},
    ):
        response = send(app, body, "bob")
        assert response.status_code == 404 and "No thread" in response.json()["detail"], body["type"]
    assert len(fake.requests) == 3  # none of Bob's attempts reached the model
    assert send(app, {"type": "threads.delete", "params": {"thread_id": alice_thread}}).json() == {}
    assert json.loads(send(app, {"type": "threads.list", "params": {}}, "alice").text)["data"] == []
    assert [
        t["id"] for t in json.loads(send(app, {"type": "threads.list", "params": {}}, "bob").text)["data"]
    ] == [bob_thread]


BAD_REQUESTS = [
    pytest.param(b"", 422, "must be a ChatKit request", id="empty body"),
    pytest.param(b"{not json", 422, "Not a valid ChatKit request", id="not json"),
    pytest.param(
        {"type": "threads.explode", "params": {}}, 422, "Not a valid ChatKit request", id="unknown type"
    ),
    pytest.param({"type": "threads.create"}, 422, "params", id="missing params"),
    pytest.param(
        {"type": "threads.create", "params": {"input": {"content": "hi"}}},
        422,
        "Not a valid",
        id="wrong input shape",
    ),
    pytest.param({"type": "threads.list", "params": {"limit": 1000}}, 422, "limit", id="limit too large"),
    pytest.param(
        {
            "type": "threads.create",
            "params": {"input": {**user_message("see file"), "attachments": ["atc_1"]}},
        },
        404,
        "No attachment",
        id="unknown attachment",
    ),
    pytest.param(
        {"type": "attachments.create", "params": {"name": "a.html", "size": 10, "mime_type": "text/html"}},
        422,
        "Allowed: PNG, JPEG, WebP or GIF images and PDF",
        id="upload type",
    ),
    pytest.param(
        {
            "type": "attachments.create",
            "params": {"name": "a.png", "size": 30 * 1024 * 1024, "mime_type": "image/png"},
        },
        422,
        "at most 10485760 bytes",
        id="upload too large",
    ),
    pytest.param(
        {"type": "attachments.create", "params": {"name": "a.png", "size": 0, "mime_type": "image/png"}},
        422,
        "empty",
        id="upload empty",
    ),
    pytest.param(
        {"type": "attachments.create", "params": {"name": "\u0000", "size": 5, "mime_type": "image/png"}},
        422,
        "name",
        id="upload without a name",
    ),
    pytest.param(
        {"type": "attachments.delete", "params": {"attachment_id": "atc_nope"}},
        404,
        "No attachment",
        id="delete unknown attachment",
    ),
    pytest.param(
        {"type": "input.transcribe", "params": {"audio_base64": "AAAA", "mime_type": "audio/flac"}},
        422,
        "Accepted: audio/webm",
        id="dictation type",
    ),
    pytest.param(
        {"type": "input.transcribe", "params": {"audio_base64": "not base64!", "mime_type": "audio/webm"}},
        422,
        "base64",
        id="dictation not base64",
    ),
    pytest.param(
        {"type": "input.transcribe", "params": {"audio_base64": "", "mime_type": "audio/webm"}},
        422,
        "empty",
        id="dictation empty",
    ),
    pytest.param(
        {
            "type": "input.transcribe",
            "params": {"audio_base64": "A" * (4 * 1024 * 1024 + 4), "mime_type": "audio/webm"},
        },
        422,
        "at most 3145728 bytes",
        id="dictation too long",
    ),
    pytest.param(
        {
            "type": "input.transcribe",
            "params": {"audio_base64": "A" * (5 * 1024 * 1024), "mime_type": "audio/webm"},
        },
        413,
        "KiB",
        id="dictation body too large",
    ),
    pytest.param(
        {"type": "threads.list", "params": {}, "metadata": {"pad": "x" * (1024 * 1024)}},
        413,
        "KiB",
        id="body too large",
    ),
    pytest.param(
        {
            "type": "threads.custom_action",
            "params": {"thread_id": "thr_1", "action": {"type": "x", "payload": {}}},
        },
        422,
        "Unknown action 'x'",
        id="unknown action",
    ),
    pytest.param(
        {
            "type": "threads.custom_action",
            "params": {
                "thread_id": "thr_1",
                "action": {
                    "type": "task.complete",
                    "payload": {"task_id": "01JQ7Z8X9Y0ABCDEFGHJKMNPQR", "user_id": "bob"},
                },
            },
        },
        422,
        "payload",
        id="action payload beyond an id",
    ),
    pytest.param(
        {
            "type": "threads.sync_custom_action",
            "params": {"thread_id": "thr_1", "action": {"type": "task.complete", "payload": {"task_id": 7}}},
        },
        422,
        "payload",
        id="sync action bad payload",
    ),
    pytest.param(
        {
            "type": "threads.custom_action",
            "params": {
                "thread_id": "thr_nope",
                "action": {"type": "task.complete", "payload": {"task_id": "01JQ7Z8X9Y0ABCDEFGHJKMNPQR"}},
            },
        },
        404,
        "No thread",
        id="action unknown thread",
    ),
    pytest.param(
        {
            "type": "items.feedback",
            "params": {"thread_id": "thr_nope", "item_ids": ["msg_1"], "kind": "positive"},
        },
        404,
        "No item",
        id="feedback unknown item",
    ),
    pytest.param(
        {"type": "items.feedback", "params": {"thread_id": "thr_nope", "item_ids": ["msg_1"], "kind": "meh"}},
        422,
        "Not a valid",
        id="feedback unknown kind",
    ),
    pytest.param(
        {"type": "threads.retry_after_item", "params": {"thread_id": "thr_nope", "item_id": "msg_1"}},
        404,
        "No thread",
        id="retry unknown thread",
    ),
    pytest.param(
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": "thr_nope", "input": user_message("hi")},
        },
        404,
        "No thread",
        id="unknown thread",
    ),
    pytest.param(
        {"type": "items.list", "params": {"thread_id": "thr#x"}}, 404, "No thread", id="malformed thread id"
    ),
    pytest.param(
        {"type": "threads.delete", "params": {"thread_id": "thr_nope"}}, 404, "No thread", id="delete unknown"
    ),
]


@pytest.mark.parametrize(("body", "status", "detail"), BAD_REQUESTS)
def test_bad_requests_get_a_clear_error_and_change_nothing(
    app: Any, fake: FakeResponses, aws: Any, body: Any, status: int, detail: str
) -> None:
    response = send(app, body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert detail in response.json()["detail"]
    assert table_items(aws, "ChatKitTable") == [] and table_items(aws, "TasksTable") == []
    assert aws.client("s3").list_objects_v2(Bucket=aws.physical_id("AttachmentsBucket")).get("KeyCount") == 0
    assert fake.requests == [] and fake.transcriptions == []


@pytest.mark.parametrize(
    ("user_id", "token_use", "expires_in", "status"),
    [
        (None, "user", None, 401),
        ("", "user", None, 401),
        ("alice", "admin", None, 401),
        ("alice", "mcp", None, 401),
        ("alice", "session", None, 401),  # a session without its expiry
        ("alice", "session", -1, 401),  # expired, though API Gateway still holds the Allow
        ("alice", "session", 0, 401),
    ],
)
def test_the_caller_comes_from_the_authorizer_context_only(
    app: Any, aws: Any, user_id: Any, token_use: str, expires_in: int | None, status: int
) -> None:
    import httpx

    expires_at = None if expires_in is None else int(time.time()) + expires_in

    async def call_app() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://chatkit.local"
        ) as client:
            return await client.post(
                "/chatkit",
                json={"type": "threads.create", "params": {"input": user_message("hi"), "user_id": "bob"}},
                headers={"x-amzn-request-context": request_context(user_id, token_use, expires_at)},
            )

    response = asyncio.run(call_app())
    assert response.status_code == status
    assert table_items(aws, "ChatKitTable") == []


def test_a_session_token_before_its_expiry_chats_as_its_user(app: Any, aws: Any, fake: FakeResponses) -> None:
    fake.script(text("Added."))
    context = request_context("alice", "session", int(time.time()) + 60)

    response = send(
        app,
        {"type": "threads.create", "params": {"input": user_message("Buy milk")}},
        **{"x-amzn-request-context": context},
    )

    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
    [thread] = send(app, {"type": "threads.list", "params": {}}, "alice").json()["data"]
    assert thread["title"] == "Buy milk"
    assert send(app, {"type": "threads.list", "params": {}}, "bob").json()["data"] == []


def test_without_an_openai_key_chat_is_503_but_history_still_reads(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_chatkit_app(aws, monkeypatch)
    response = send(app, {"type": "threads.create", "params": {"input": user_message("hi")}})
    assert response.status_code == 503 and "OpenAIApiKeySecret" in response.json()["detail"]
    assert send(app, {"type": "threads.list", "params": {}}).status_code == 200
    assert table_items(aws, "ChatKitTable") == []


def test_routes_preflight_and_readiness(app: Any) -> None:
    import httpx

    async def call_app(method: str, path: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://chatkit.local"
        ) as client:
            return await client.request(method, path, headers=headers)

    assert asyncio.run(call_app("GET", "/ready")).status_code == 200
    assert asyncio.run(call_app("GET", "/chatkit")).status_code == 405
    assert asyncio.run(call_app("POST", "/elsewhere")).status_code == 404
    allowed = asyncio.run(
        call_app(
            "OPTIONS", "/chatkit", origin="http://localhost:3000", **{"access-control-request-method": "POST"}
        )
    )
    assert (
        allowed.status_code == 204
        and allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    )
    assert "authorization" in allowed.headers["access-control-allow-headers"]
    refused = asyncio.run(
        call_app(
            "OPTIONS", "/chatkit", origin="https://evil.example", **{"access-control-request-method": "POST"}
        )
    )
    assert "access-control-allow-origin" not in refused.headers


FIXTURE_STATUS = {
    "threads_list": 200,
    "threads_create": 503,  # the fixture environment has no OpenAI key
    "error_unknown_thread": 404,
    "error_not_chatkit": 422,
    "error_unknown_attachment": 404,
    "attachments_create": 200,
    "error_attachment_type": 422,
    "error_custom_action_unknown_thread": 404,
    "error_transcribe_type": 422,
    "error_no_identity": 401,
    "error_session_expired": 401,
    "threads_list_session": 200,
    "error_wrong_content_type": 415,
    "error_retry_unknown_thread": 404,
}


@pytest.mark.parametrize(("fixture", "status"), FIXTURE_STATUS.items())
def test_event_fixtures_answer_as_the_adapter_would_return_them(
    invoke: Any, fixture: str, status: int
) -> None:
    from local.template import ROOT

    event = json.loads((ROOT / "events" / "chatkit" / f"{fixture}.json").read_text())
    result = invoke("ChatKitFunction", event)
    assert result["statusCode"] == status, result
    if status >= 400:
        assert json.loads(result["body"])["detail"]


async def _run_until(app: Any, body: dict[str, Any], after_chunks: int, *, cancel: bool) -> list[bytes]:
    """Drive the ASGI app directly: after ``after_chunks`` body chunks the client disconnects
    (or, with ``cancel``, the server cancels the request, as a shutdown would)."""
    chunks: list[bytes] = []
    enough = asyncio.Event()
    raw = json.dumps(body).encode()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await enough.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            chunks.append(message["body"])
            if len(chunks) >= after_chunks:
                enough.set()

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/chatkit",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"x-amzn-request-context", request_context("alice").encode()),
        ],
    }
    task = asyncio.create_task(app(scope, receive, send))
    if cancel:
        await enough.wait()
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return chunks


def _answer_saved_after(
    app: Any, fake: FakeResponses, answer: str, *, after_chunks: int, cancel: bool
) -> tuple[bytes, list[dict[str, Any]]]:
    """The stream as far as the client read it, and the thread's items once the request is over."""
    fake.script(text(answer, pieces=len(answer.split()), pause=0.2 if cancel else 0.05))
    body = {"type": "threads.create", "params": {"input": user_message("count")}}
    chunks = asyncio.run(_run_until(app, body, after_chunks=after_chunks, cancel=cancel))
    thread_id = sse.parse(chunks[0])[0]["thread"]["id"]
    items = json.loads(
        send(app, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}).text
    )["data"]
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    return b"".join(chunks), items


def test_a_client_that_leaves_mid_answer_still_gets_the_whole_answer_saved(
    app: Any, fake: FakeResponses
) -> None:
    streamed, items = _answer_saved_after(
        app, fake, "one two three four five six", after_chunks=3, cancel=False
    )
    assert items[1]["content"][0]["text"] == "one two three four five six"
    # No stop button: the client is told up front that a stream cannot be cancelled.
    assert b'"allow_cancel":false' in streamed


def test_an_answer_cut_off_by_a_shutdown_is_saved_as_far_as_it_got_and_says_so(
    app: Any, fake: FakeResponses
) -> None:
    answer = "one two three four five six seven eight"
    _, items = _answer_saved_after(app, fake, answer, after_chunks=8, cancel=True)
    saved = items[1]["content"][0]["text"]
    assert saved.startswith("one") and not saved.startswith(answer)
    assert saved.endswith("(This answer was cut short before it was finished.)")
