"""UserDataFunction in-process against moto: a user's data out (GET /api/me/export) and erased
(DELETE /api/me), and never a byte of anyone else's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.emulator.events import http_event
from local.emulator.runtime import LambdaContext
from local.standins.openai import FakeResponses, fake_responses, text
from local.template import REGION, Template
from tests.support.chatkit_app import attach, load_chatkit_app, post, set_openai_key, sse_events, user_message
from tests.support.tasks import task_service

TABLES = ("TasksTable", "ThreadsTable", "ChatKitTable", "UsageTable")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture(autouse=True)
def tasks_table(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests seed tasks through the task service, which reads its table as the functions do."""
    monkeypatch.setenv("TASKS_TABLE", aws.physical_id("TasksTable"))


@pytest.fixture
def fake() -> Iterator[FakeResponses]:
    with fake_responses() as running:
        yield running


def me(
    invoke: Any, method: str, user_id: str | None = "alice", token_use: str = "user", context: Any = None
) -> tuple[int, dict[str, Any]]:
    path = "/api/me/export" if method == "GET" else "/api/me"
    expires_at = 4102444800 if token_use == "session" else None
    event = http_event(
        method,
        path,
        route_key=f"{method} {path}",
        user_id=user_id,
        token_use=token_use,
        expires_at=expires_at,
    )
    if user_id is None:
        event["requestContext"].pop("authorizer", None)
    result = invoke("UserDataFunction", event, context=context)
    return result["statusCode"], json.loads(result["body"])


def partition(aws: Any, logical_id: str, user_id: str) -> list[dict[str, Any]]:
    """The test's own view: every record of ``user_id`` in the table (a scan, in a test only)."""
    items = aws.client("dynamodb").scan(TableName=aws.physical_id(logical_id))["Items"]
    return sorted((i for i in items if i["user_id"]["S"] == user_id), key=json.dumps)


def seed(aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses, user_id: str, word: str) -> str:
    """What a user leaves behind by using the product: tasks, a hosted thread mapping from before
    the cutover, a chat with its usage, a photo sent in the chat and a photo uploaded but never sent."""
    task_service().add_task(user_id, f"{word} task", "details")
    task_service().add_task(user_id, f"{word} other task")
    put_mapping(aws, user_id, f"cthr_{word}", f"{word} hosted")
    set_openai_key(aws)
    app = load_chatkit_app(aws, monkeypatch, {"OPENAI_BASE_URL": fake.url})
    sent = attach(app, f"{word} list.png", "image/png", PNG + word.encode(), user_id)
    attach(app, f"{word} draft.png", "image/png", PNG + word.encode() * 2, user_id)
    fake.script(text(f"Hello {word}."))
    message = {**user_message(f"Hi, I am {word}"), "attachments": [sent["id"]]}
    response = asyncio.run(post(app, {"type": "threads.create", "params": {"input": message}}, user_id))
    assert response.status_code == 200
    return sse_events(response)[0]["thread"]["id"]


def put_mapping(aws: Any, user_id: str, thread_id: str, title: str) -> None:
    """A ThreadsTable row as PUT /api/chatkit/threads/{id} wrote it before the 2026-11-30 cutover."""
    stamp = "2026-11-24T07:00:00.000000Z"
    aws.client("dynamodb").put_item(
        TableName=aws.physical_id("ThreadsTable"),
        Item={
            "user_id": {"S": user_id},
            "thread_id": {"S": thread_id},
            "title": {"S": title},
            "created_at": {"S": stamp},
            "updated_at": {"S": stamp},
        },
    )


def files(aws: Any, user_id: str) -> dict[str, bytes]:
    """The user's objects in the attachments bucket (the test's own listing)."""
    s3, bucket = aws.client("s3"), aws.physical_id("AttachmentsBucket")
    keys = [
        entry["Key"]
        for entry in s3.list_objects_v2(Bucket=bucket, Prefix=f"users/{user_id}/").get("Contents", [])
    ]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_export_is_everything_of_the_caller_and_nothing_of_anyone_else(
    invoke: Any, aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses
) -> None:
    thread_id = seed(aws, monkeypatch, fake, "alice", "Alice")
    seed(aws, monkeypatch, fake, "bob", "Bob")
    status, document = me(invoke, "GET")
    assert status == 200 and document["complete"] is True and document["user_id"] == "alice"
    assert sorted(task["title"] for task in document["tasks"]) == ["Alice other task", "Alice task"]
    assert [m["thread_id"] for m in document["thread_mappings"]] == ["cthr_Alice"]
    [thread] = document["chatkit"]["threads"]
    assert thread["id"] == thread_id and thread["title"] == "Hi, I am Alice"
    assert [item["type"] for item in thread["items"]] == ["user_message", "assistant_message"]
    assert thread["items"][1]["content"][0]["text"] == "Hello Alice."
    [day] = document["usage"]
    # Two uploads and one message: the turn limit counts the message only.
    assert (day["turns"], day["tokens_in"], day["tokens_out"]) == (1, 10, 5)
    by_name = {a["name"]: a for a in document["chatkit"]["attachments"]}
    assert sorted(by_name) == ["Alice draft.png", "Alice list.png"]
    assert by_name["Alice list.png"]["thread_id"] == thread_id
    for name, content in (("Alice list.png", PNG + b"Alice"), ("Alice draft.png", PNG + b"AliceAlice")):
        attachment = by_name[name]
        assert "upload_descriptor" not in attachment and "preview_url" not in attachment
        assert "X-Amz-Expires=900" in attachment["download_url"] and attachment["download_url_expires_at"]
        # The short-lived link gives the file's own bytes to whoever holds the export.
        assert requests.get(attachment["download_url"], timeout=10).content == content
    assert "Bob" not in json.dumps(document) and "bob" not in json.dumps(document)


def test_erasure_removes_everything_of_the_caller_counts_it_and_is_idempotent(
    invoke: Any, aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses
) -> None:
    seed(aws, monkeypatch, fake, "alice", "Alice")
    seed(aws, monkeypatch, fake, "bob", "Bob")
    bobs = {table: partition(aws, table, "bob") for table in TABLES}
    bobs_files = files(aws, "bob")
    assert len(bobs_files) == 2 and len(files(aws, "alice")) == 2
    status, answer = me(invoke, "DELETE")
    assert status == 200 and answer["complete"] is True
    assert answer["removed"] == {
        "attachment_files": 2,
        "attachments": 2,
        "tasks": 2,
        "thread_mappings": 1,
        "chatkit_threads": 1,
        "chatkit_items": 2,
        "usage_counters": 1,
    }
    assert all(partition(aws, table, "alice") == [] for table in TABLES)
    assert files(aws, "alice") == {}
    assert {table: partition(aws, table, "bob") for table in TABLES} == bobs
    assert files(aws, "bob") == bobs_files
    # Again: nothing left, nothing counted, still nothing of Bob's touched.
    assert me(invoke, "DELETE") == (200, {"complete": True, "removed": {}})
    assert {table: partition(aws, table, "bob") for table in TABLES} == bobs
    assert files(aws, "bob") == bobs_files
    status, empty = me(invoke, "GET")
    assert (empty["tasks"], empty["thread_mappings"], empty["chatkit"]["threads"]) == ([], [], [])


class ShortOfTime(LambdaContext):
    """Lambda's context, with the function's time running out after ``checks`` looks at the clock."""

    def __init__(self, checks: int) -> None:
        super().__init__(Template.load().functions()["UserDataFunction"], REGION)
        self.checks = checks

    def get_remaining_time_in_millis(self) -> int:
        self.checks -= 1
        return 20_000 if self.checks >= 0 else 1_000


def test_an_erasure_cut_short_by_time_says_what_is_left_and_the_next_call_finishes(
    invoke: Any, aws: Any
) -> None:
    for n in range(60):
        task_service().add_task("alice", f"Task {n}")
    put_mapping(aws, "alice", "cthr_one", "One")
    status, first = me(invoke, "DELETE", context=ShortOfTime(checks=3))
    assert status == 200 and first["complete"] is False
    assert "tasks" in first["left"] and "thread_mappings" in first["left"]
    assert "DELETE /api/me again" in first["detail"]
    status, second = me(invoke, "DELETE")
    assert second["complete"] is True
    assert first["removed"].get("tasks", 0) + second["removed"]["tasks"] == 60
    assert second["removed"]["thread_mappings"] == 1
    assert partition(aws, "TasksTable", "alice") == []


def test_an_export_cut_short_by_time_says_which_sections_are_missing(invoke: Any, aws: Any) -> None:
    task_service().add_task("alice", "Kept")
    status, document = me(invoke, "GET", context=ShortOfTime(checks=1))
    assert status == 200 and document["complete"] is False
    assert document["left"] == ["thread_mappings", "chatkit", "usage"]
    assert [task["title"] for task in document["tasks"]] == ["Kept"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    ("user_id", "token_use", "status", "says"),
    [
        (None, "user", 401, "Authentication required"),
        ("alice", "session", 403, "works on POST /chatkit only"),
        ("alice", "mcp", 401, "Authentication required"),
        ("alice", "admin", 401, "Authentication required"),
        ("", "user", 401, "Authentication required"),
    ],
)
def test_no_user_token_no_data_and_nothing_erased(
    invoke: Any, aws: Any, method: str, user_id: str | None, token_use: str, status: int, says: str
) -> None:
    task_service().add_task("alice", "Still here")
    assert me(invoke, method, user_id, token_use)[0] == status
    assert says in me(invoke, method, user_id, token_use)[1]["detail"]
    assert [t.title for t in task_service().list_tasks("alice").tasks] == ["Still here"]
