"""POST /chatkit through `make dev`'s stack: the JWT authorizer, the REST route, real streaming.

The model is local/standins/openai.py (OPENAI_BASE_URL), scripted to call the task tools; the tasks
it creates are then read back through /mcp's list_tasks, as the ChatKit workflow would.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from local import sse
from local.standins.openai import call, last_tool_output, text
from tests.support.chat import StackChat as Chat
from tests.support.chat import user_message, wait_for

pytestmark = pytest.mark.integration


def test_the_answer_streams_while_the_agent_creates_and_completes_tasks(chat: Chat) -> None:
    chat.fake.script(
        call("add_task", title="Buy milk", description="2 litres"),
        lambda request: text(
            f"Added {last_tool_output(request)['title']} to your list.", pieces=5, pause=0.4
        ),
    )
    events = chat.stream(
        {"type": "threads.create", "params": {"input": user_message("Add buy milk, 2 litres")}}
    )
    thread_id = events[0][1]["thread"]["id"]
    deltas = [
        (at, e["update"]["delta"])
        for at, e in events
        if e["type"] == "thread.item.updated" and "delta" in e["update"]
    ]
    assert "".join(d for _, d in deltas) == "Added Buy milk to your list."
    # Incremental: the thread's first events and each piece of text arrive as they are produced
    # (the fake model pauses 0.4 s between pieces), not all together at the end.
    assert deltas[-1][0] - deltas[0][0] >= 1.2
    assert deltas[0][0] - events[0][0] >= 0.3
    assert len({round(at, 1) for at, _ in deltas}) >= 4
    [task] = chat.list_tasks("alice")
    assert (task["title"], task["description"], task["status"]) == ("Buy milk", "2 litres", "pending")
    assert chat.list_tasks("bob") == []

    chat.fake.script(
        call("list_tasks", status="pending"),
        lambda request: call("complete_task", task_id=last_tool_output(request)["tasks"][0]["task_id"]),
        lambda request: text(f"Marked {last_tool_output(request)['title']} as done.", pieces=2, pause=0.1),
    )
    more = chat.stream(
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_message("I bought the milk")},
        }
    )
    assert more[-1][1]["item"]["content"][0]["text"] == "Marked Buy milk as done."
    assert [t["status"] for t in chat.list_tasks("alice", "completed")] == ["completed"]
    assert chat.list_tasks("alice", "pending") == []
    log = chat.stack.log()
    assert "POST /chatkit 200 ChatKitFunction auth=" in log and "streamed" in log


def test_threads_are_stored_per_user_and_isolated(chat: Chat) -> None:
    chat.fake.script(text("Hi Bob.", pieces=1, pause=0))
    bob_thread = chat.stream({"type": "threads.create", "params": {"input": user_message("hello")}}, "bob")[
        0
    ][1]["thread"]["id"]
    alice_threads = [
        t["id"] for t in chat.post({"type": "threads.list", "params": {"limit": 50}}).json()["data"]
    ]
    bob_threads = [t["id"] for t in chat.post({"type": "threads.list", "params": {}}, "bob").json()["data"]]
    assert bob_threads == [bob_thread] and bob_thread not in alice_threads and alice_threads
    # A request context sent by the client is replaced by the gateway's, as the adapter does.
    forged = json.dumps({"authorizer": {"principalId": "bob", "user_id": "bob", "token_use": "user"}})
    spoofed = chat.post(
        {"type": "threads.list", "params": {"limit": 50}}, "alice", **{"x-amzn-request-context": forged}
    )
    assert [t["id"] for t in spoofed.json()["data"]] == alice_threads
    items = chat.post(
        {"type": "items.list", "params": {"thread_id": bob_thread, "order": "asc"}}, "bob"
    ).json()["data"]
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    for body in (
        {"type": "items.list", "params": {"thread_id": bob_thread}},
        {"type": "threads.delete", "params": {"thread_id": bob_thread}},
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": bob_thread, "input": user_message("hijack")},
        },
    ):
        refused = chat.post(body, "alice")
        assert refused.status_code == 404 and "No thread" in refused.json()["detail"]
    assert chat.post({"type": "threads.delete", "params": {"thread_id": bob_thread}}, "bob").json() == {}
    assert chat.post({"type": "threads.list", "params": {}}, "bob").json()["data"] == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        pytest.param(
            {"type": "threads.list", "params": {}},
            {"authorization": ""},
            401,
            {"message": "Unauthorized"},
            id="no token",
        ),
        pytest.param(
            {"type": "threads.list", "params": {}},
            {"authorization": "Bearer not.a.jwt"},
            403,
            None,
            id="bad token",
        ),
        pytest.param("{oops", {}, 422, "Not a valid ChatKit request", id="not json"),
        pytest.param(
            {"type": "threads.list", "params": {}},
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "Content-Type",
            id="form post",
        ),
        pytest.param(
            {"type": "threads.nope", "params": {}}, {}, 422, "Not a valid ChatKit request", id="unknown type"
        ),
        pytest.param(
            {"type": "threads.create", "params": {"input": {**user_message("x"), "attachments": ["atc_1"]}}},
            {},
            404,
            "No attachment",
            id="unknown attachment",
        ),
        pytest.param(
            {
                "type": "attachments.create",
                "params": {"name": "x.exe", "size": 9, "mime_type": "application/x-msdownload"},
            },
            {},
            422,
            "Allowed: PNG",
            id="file type",
        ),
        pytest.param(
            {"type": "input.transcribe", "params": {"audio_base64": "AAAA", "mime_type": "audio/flac"}},
            {},
            422,
            "Accepted",
            id="audio type",
        ),
        pytest.param(
            {
                "type": "threads.custom_action",
                "params": {
                    "thread_id": "thr_nope",
                    "action": {"type": "task.complete", "payload": {"task_id": "01JQ7Z8X9Y0ABCDEFGHJKMNPQR"}},
                },
            },
            {},
            404,
            "No thread",
            id="action, unknown thread",
        ),
        pytest.param(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": "thr_nope", "input": user_message("x")},
            },
            {},
            404,
            "No thread",
            id="unknown thread",
        ),
    ],
)
def test_bad_requests_are_answered_with_clear_errors(
    chat: Chat, body: Any, headers: dict[str, str], status: int, says: Any
) -> None:
    before = len(chat.fake.requests)
    response = (
        chat.post(body, "alice", **headers) if headers.get("authorization", "x") else chat.post(body, None)
    )
    assert response.status_code == status
    if isinstance(says, dict):
        assert response.json() == says
    elif says:
        assert says in response.json()["detail"]
    assert len(chat.fake.requests) == before


def test_browser_preflight_is_answered_by_the_function(chat: Chat) -> None:
    response = httpx.options(
        f"{chat.url}/chatkit",
        headers={
            "origin": "http://localhost:3000",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_a_client_that_leaves_mid_answer_finds_the_whole_answer_saved(chat: Chat) -> None:
    answer = "one two three four five six seven eight"
    chat.fake.script(text(answer, pieces=8, pause=0.4))
    body = {"type": "threads.create", "params": {"input": user_message("count slowly")}}
    headers = {"authorization": f"Bearer {chat.tokens['alice']}", "content-type": "application/json"}
    seen: list[dict[str, Any]] = []
    with httpx.stream(
        "POST", f"{chat.url}/chatkit", content=json.dumps(body), headers=headers, timeout=60
    ) as response:
        for event in sse.events(response):
            seen.append(event)
            if any(event.get("update", {}).get("type", "").endswith("text_delta") for event in seen):
                break  # the tab is closed after the first words
    thread_id = seen[0]["thread"]["id"]
    assert not any(
        event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message" for event in seen
    )

    def saved() -> list[dict[str, Any]] | None:
        items = chat.items(thread_id)
        return items if [item["type"] for item in items] == ["user_message", "assistant_message"] else None

    items = wait_for(saved, timeout=60)
    # The run went on without the client: the answer is stored whole, not as far as it was sent.
    assert items[1]["content"][0]["text"] == answer
    assert chat.post({"type": "threads.list", "params": {}}).status_code == 200


def test_client_mistakes_through_the_gateway_are_4xx_and_change_nothing(chat: Chat) -> None:
    chat.fake.script(text("Hi Bob.", pieces=1, pause=0))
    bob_events = chat.events({"type": "threads.create", "params": {"input": user_message("hello")}}, "bob")
    bob_thread = bob_events[0]["thread"]["id"]
    bob_item = chat.items(bob_thread, "bob")[-1]["id"]
    chat.fake.script(text("Hi Alice.", pieces=1, pause=0))
    alice_thread = chat.events({"type": "threads.create", "params": {"input": user_message("hello")}})[0][
        "thread"
    ]["id"]
    alice_threads, alice_items, bob_items = (
        chat.threads(),
        chat.items(alice_thread),
        chat.items(bob_thread, "bob"),
    )
    calls = len(chat.fake.requests)

    for body, headers, status in [
        (
            {
                "type": "items.feedback",
                "params": {"thread_id": bob_thread, "item_ids": [bob_item], "kind": "negative"},
            },
            {},
            404,
        ),
        (
            {
                "type": "items.feedback",
                "params": {"thread_id": alice_thread, "item_ids": [bob_item], "kind": "negative"},
            },
            {},
            404,
        ),
        (
            {
                "type": "threads.retry_after_item",
                "params": {"thread_id": alice_thread, "item_id": "msg_unknown"},
            },
            {},
            404,
        ),
        (
            {
                "type": "threads.retry_after_item",
                "params": {"thread_id": alice_thread, "item_id": alice_items[-1]["id"]},
            },
            {},
            422,
        ),
        (
            {"type": "threads.add_client_tool_output", "params": {"thread_id": alice_thread, "result": {}}},
            {},
            409,
        ),
        ({"type": "threads.create", "params": {"input": user_message("x" * 500_000)}}, {}, 413),
        (
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": alice_thread, "input": user_message("x" * 500_000)},
            },
            {},
            413,
        ),
        ({"type": "threads.update", "params": {"thread_id": alice_thread, "title": "x" * 500_000}}, {}, 422),
        ({"type": "threads.update", "params": {"thread_id": alice_thread, "title": "a\u0000b"}}, {}, 422),
        ({"type": "threads.list", "params": {}}, {"content-type": "text/plain"}, 415),
    ]:
        response = chat.post(body, "alice", **headers)
        assert response.status_code == status, (body["type"], response.text[:300])
        assert response.headers["content-type"] == "application/json" and response.json()["detail"]
    assert chat.threads() == alice_threads
    assert chat.items(alice_thread) == alice_items and chat.items(bob_thread, "bob") == bob_items
    assert len(chat.fake.requests) == calls
    assert " 500 " not in chat.stack.log()


def test_two_chats_stream_at_once_each_in_its_own_sandbox(chat: Chat) -> None:
    """Lambda gives each concurrent invocation its own sandbox: a second chat is not queued behind
    the first. Both models' answers are held until both streams have begun; with one sandbox the
    second stream could not begin before the first ended, and this test would fail."""
    both_begun = threading.Event()

    def held(request: dict[str, Any]) -> Any:
        both_begun.wait(timeout=60)
        return text("Done.", pieces=1, pause=0)

    with chat.fake.lock:
        chat.fake.steps.clear()  # a step an earlier, abandoned run never asked for
    chat.fake.script(held, held)
    begun = {user: threading.Event() for user in ("alice", "bob")}
    answers: dict[str, str] = {}

    def converse(user: str) -> None:
        body = json.dumps({"type": "threads.create", "params": {"input": user_message(f"hello from {user}")}})
        headers = {"authorization": f"Bearer {chat.tokens[user]}", "content-type": "application/json"}
        with httpx.stream(
            "POST", f"{chat.stack.url}/chatkit", content=body, headers=headers, timeout=90
        ) as response:
            for event in sse.events(response):
                begun[user].set()
                if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message":
                    answers[user] = event["item"]["content"][0]["text"]

    threads = [threading.Thread(target=converse, args=(user,)) for user in begun]
    for thread in threads:
        thread.start()
    started_together = all(event.wait(timeout=60) for event in begun.values())
    both_begun.set()
    for thread in threads:
        thread.join(timeout=90)

    assert started_together
    assert answers == {"alice": "Done.", "bob": "Done."}
    assert chat.stack.wait_for_log("ChatKitFunction: 1 sandboxes busy, starting another")
