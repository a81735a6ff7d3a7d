"""The chat as a todo app, through `make dev`'s stack, for two users: a task list widget whose
button completes a real task (read back with the official MCP client on /mcp), a photo whose
bytes reach the model, a transcript, feedback stored; and at every step, the other user's ids
change nothing.

OpenAI is local/standins/openai.py (OPENAI_BASE_URL): it records what the SDK sent, image bytes
and audio included. Uploads go to the stack's moto over HTTP through the presigned URLs.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from local.standins.openai import call, text

# The same kind of stack and users as the chat's own integration tests (the `chat` fixture).
from tests.support.chat import StackChat as Chat
from tests.support.chat import user_message

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def mcp(chat: Chat, user: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tool call with the official MCP client (mcp 2.x), as the user."""

    async def run() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {chat.tokens[user]}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{chat.stack.url}/mcp", http_client=http)) as client,
        ):
            result = await client.call_tool(tool, arguments)
            assert result.is_error is False, result
            return result.structured_content

    return asyncio.run(run())


def list_widget(chat: Chat, user: str) -> tuple[str, dict[str, Any]]:
    """A new thread in which the agent lists the user's tasks: (thread id, the list widget item)."""
    chat.fake.script(call("list_tasks", status="all"), text("Here you go."))
    events = chat.events({"type": "threads.create", "params": {"input": user_message("my tasks?")}}, user)
    [widget] = [
        e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"
    ]
    assert any(e["type"] == "progress_update" for e in events)
    return events[0]["thread"]["id"], widget


def complete(thread_id: str, item_id: str, task_id: str) -> dict[str, Any]:
    action = {"type": "task.complete", "payload": {"task_id": task_id}}
    return {
        "type": "threads.custom_action",
        "params": {"thread_id": thread_id, "item_id": item_id, "action": action},
    }


def test_a_list_widgets_button_completes_a_task_that_mcp_then_lists_completed(chat: Chat) -> None:
    milk = mcp(chat, "alice", "add_task", {"title": "Buy milk"})["task_id"]
    secret = mcp(chat, "bob", "add_task", {"title": "Bob's secret"})["task_id"]
    alice_thread, alice_list = list_widget(chat, "alice")
    bob_thread, bob_list = list_widget(chat, "bob")
    [row] = [r for r in alice_list["widget"]["children"] if r["key"] == milk]
    button = next(c for c in row["children"] if c["type"] == "Button")
    assert (
        button["onClickAction"]["payload"] == {"task_id": milk}
        and button["onClickAction"]["handler"] == "server"
    )
    assert [r["key"] for r in bob_list["widget"]["children"]] == [secret]

    for user, body in [
        ("bob", complete(alice_thread, alice_list["id"], milk)),  # Alice's thread
        ("bob", complete(bob_thread, bob_list["id"], milk)),  # Alice's task from Bob's widget
        ("alice", complete(alice_thread, alice_list["id"], secret)),  # Bob's task from Alice's widget
        ("alice", complete(alice_thread, bob_list["id"], milk)),  # Bob's widget named in Alice's thread
    ]:
        refused = chat.post(body, user)
        assert refused.status_code == 404, (user, refused.text)
    assert [t["status"] for t in mcp(chat, "alice", "list_tasks", {})["tasks"]] == ["pending"]
    assert [t["status"] for t in mcp(chat, "bob", "list_tasks", {})["tasks"]] == ["pending"]

    events = chat.events(complete(alice_thread, alice_list["id"], milk), "alice")
    replaced = next(e["item"] for e in events if e["type"] == "thread.item.replaced")
    assert replaced["id"] == alice_list["id"]
    assert not [c for c in replaced["widget"]["children"][0]["children"] if c["type"] == "Button"]
    assert [(t["task_id"], t["status"]) for t in mcp(chat, "alice", "list_tasks", {})["tasks"]] == [
        (milk, "completed")
    ]
    assert [(t["task_id"], t["status"]) for t in mcp(chat, "bob", "list_tasks", {})["tasks"]] == [
        (secret, "pending")
    ]
    # The thread shows the new state when it is reloaded.
    items = chat.post({"type": "items.list", "params": {"thread_id": alice_thread}}).json()["data"]
    assert next(i for i in items if i["id"] == alice_list["id"])["widget"] == replaced["widget"]


def test_a_photo_uploaded_through_its_presigned_url_reaches_the_model(chat: Chat) -> None:
    created = chat.post(
        {
            "type": "attachments.create",
            "params": {"name": "list.png", "size": len(PNG), "mime_type": "image/png"},
        }
    )
    assert created.status_code == 200, created.text
    attachment = created.json()
    descriptor = attachment["upload_descriptor"]
    assert descriptor["url"].startswith(
        chat.stack.aws_endpoint_url
    )  # straight to the bucket, not via the API
    assert httpx.put(descriptor["url"], content=PNG, headers=descriptor["headers"]).status_code == 200
    assert httpx.get(attachment["preview_url"]).content == PNG
    unsigned = descriptor["url"].split("?", 1)[0]
    assert httpx.get(unsigned).status_code == 403  # private: no signature, no file

    bobs_try = {
        "type": "threads.create",
        "params": {"input": {**user_message("mine?"), "attachments": [attachment["id"]]}},
    }
    refused = chat.post(bobs_try, "bob")
    assert refused.status_code == 404 and "No attachment" in refused.json()["detail"]
    assert (
        chat.post(
            {"type": "attachments.delete", "params": {"attachment_id": attachment["id"]}}, "bob"
        ).status_code
        == 404
    )
    assert httpx.get(attachment["preview_url"]).content == PNG  # still there

    before = len(chat.fake.requests)
    chat.fake.script(text("Milk, eggs and bread."))
    message = {**user_message("What is on my list?"), "attachments": [attachment["id"]]}
    events = chat.events({"type": "threads.create", "params": {"input": message}}, "alice")
    assert events[-1]["item"]["content"][0]["text"] == "Milk, eggs and bread."
    [request] = chat.fake.requests[before:]
    user_parts = [item for item in request["input"] if item.get("role") == "user"][-1]["content"]
    image = next(part for part in user_parts if part["type"] == "input_image")
    header, encoded = image["image_url"].split(",", 1)
    assert header == "data:image/png;base64" and base64.b64decode(encoded) == PNG


def test_dictation_returns_the_transcript(chat: Chat) -> None:
    audio = b"\x1aE\xdf\xa3" + b"opus" * 500
    chat.fake.transcripts.extend(["Add water the plants", "Bob's words"])
    body = {
        "type": "input.transcribe",
        "params": {"audio_base64": base64.b64encode(audio).decode(), "mime_type": "audio/webm;codecs=opus"},
    }
    assert chat.post(body).json() == {"text": "Add water the plants"}
    assert chat.post(body, "bob").json() == {"text": "Bob's words"}
    assert [(t.model, t.audio) for t in chat.fake.transcriptions[-2:]] == [
        ("gpt-4o-mini-transcribe", audio)
    ] * 2
    wrong = chat.post({**body, "params": {**body["params"], "mime_type": "video/mp4"}})
    assert wrong.status_code == 422 and "audio/webm" in wrong.json()["detail"]


def test_feedback_is_stored_for_its_user_only(chat: Chat) -> None:
    chat.fake.script(text("All done."))
    events = chat.events({"type": "threads.create", "params": {"input": user_message("thanks")}}, "alice")
    thread_id, answer = events[0]["thread"]["id"], events[-1]["item"]["id"]
    vote = {
        "type": "items.feedback",
        "params": {"thread_id": thread_id, "item_ids": [answer], "kind": "positive"},
    }
    assert chat.post(vote, "bob").status_code == 404
    assert chat.post(vote).json() == {}
    dynamodb = chat.stack.client("dynamodb")

    def votes(user: str) -> list[tuple[str, str]]:
        records = dynamodb.query(
            TableName=chat.stack.physical_id("ChatKitTable"),
            KeyConditionExpression="user_id = :u AND begins_with(sk, :f)",
            ExpressionAttributeValues={":u": {"S": user}, ":f": {"S": "feedback#"}},
        )["Items"]
        return [(r["item_id"]["S"], r["kind"]["S"]) for r in records]

    assert votes("alice") == [(answer, "positive")] and votes("bob") == []
    # One log line per vote: the operators' signal, countable with a metric filter.
    assert chat.stack.wait_for_log('"feedback":"positive"')
