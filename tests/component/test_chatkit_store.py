"""The DynamoDB ChatKit store against moto: threads per user, items in order, pages by Query."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from chatkit.store import NotFoundError
from chatkit.types import AssistantMessageContent, AssistantMessageItem, InferenceOptions, ThreadMetadata, UserMessageItem, UserMessageTextContent

from chatkit_backend import aws as aws_clients
from chatkit_backend.assistant.store import AttachmentsNotSupported, DynamoDBStore, RequestContext
from chatkit_backend.errors import InvalidInput

ALICE, BOB = RequestContext("alice"), RequestContext("bob")
START = datetime(2026, 11, 24, 8, 0, 0)


@pytest.fixture
def store(aws: Any) -> DynamoDBStore:
    aws_clients.client.cache_clear()
    return DynamoDBStore(aws.physical_id("ChatKitTable"))


@pytest.fixture
def operations(store: DynamoDBStore) -> Iterator[list[str]]:
    """Every DynamoDB operation the store sends, by name."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    events = aws_clients.client("dynamodb").meta.events
    events.register("before-call.dynamodb", record)
    yield seen
    events.unregister("before-call.dynamodb", record)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def thread(thread_id: str, minutes: int = 0, title: str | None = None) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=START + timedelta(minutes=minutes), title=title)


def message(thread_id: str, item_id: str, seconds: int, text: str = "hi") -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=START + timedelta(seconds=seconds),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


def reply(thread_id: str, item_id: str, seconds: int, text: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id, created_at=START + timedelta(seconds=seconds),
        content=[AssistantMessageContent(text=text)],
    )


def test_a_saved_thread_loads_back_for_its_user_only(store: DynamoDBStore) -> None:
    run(store.save_thread(thread("thr_a", title="Groceries"), ALICE))
    assert run(store.load_thread("thr_a", ALICE)).title == "Groceries"
    with pytest.raises(NotFoundError):
        run(store.load_thread("thr_a", BOB))
    with pytest.raises(NotFoundError):
        run(store.load_thread_items("thr_a", None, 20, "asc", BOB))
    with pytest.raises(NotFoundError):
        run(store.delete_thread("thr_a", BOB))
    assert run(store.load_thread("thr_a", ALICE)).title == "Groceries"  # Bob's delete changed nothing


def test_threads_are_listed_per_user_newest_first_in_exact_pages(store: DynamoDBStore, operations: list[str]) -> None:
    for minute in range(5):
        run(store.save_thread(thread(f"thr_{minute}", minutes=minute), ALICE))
    run(store.save_thread(thread("thr_bob", minutes=9), BOB))
    operations.clear()
    first = run(store.load_threads(2, None, "desc", ALICE))
    assert [t.id for t in first.data] == ["thr_4", "thr_3"] and first.has_more
    second = run(store.load_threads(2, first.after, "desc", ALICE))
    assert [t.id for t in second.data] == ["thr_2", "thr_1"] and second.has_more
    last = run(store.load_threads(2, second.after, "desc", ALICE))
    assert [t.id for t in last.data] == ["thr_0"] and not last.has_more and last.after is None
    assert [t.id for t in run(store.load_threads(10, None, "asc", ALICE)).data] == [f"thr_{m}" for m in range(5)]
    assert [t.id for t in run(store.load_threads(10, None, "desc", BOB)).data] == ["thr_bob"]
    assert set(operations) == {"Query"}  # one Query a page, never a Scan


def test_items_come_back_in_time_order_whatever_their_ids(store: DynamoDBStore, operations: list[str]) -> None:
    run(store.save_thread(thread("thr_a"), ALICE))
    # Ids from the Responses API do not sort by time; created_at decides the order.
    run(store.add_thread_item("thr_a", message("thr_a", "msg_zzz", 1, "first"), ALICE))
    run(store.add_thread_item("thr_a", reply("thr_a", "msg_aaa", 2, "second"), ALICE))
    run(store.add_thread_item("thr_a", message("thr_a", "msg_mmm", 3, "third"), ALICE))
    operations.clear()
    page = run(store.load_thread_items("thr_a", None, 2, "asc", ALICE))
    assert [i.id for i in page.data] == ["msg_zzz", "msg_aaa"] and page.has_more
    rest = run(store.load_thread_items("thr_a", page.after, 2, "asc", ALICE))
    assert [i.id for i in rest.data] == ["msg_mmm"] and not rest.has_more
    newest = run(store.load_thread_items("thr_a", None, 1, "desc", ALICE))
    assert [i.id for i in newest.data] == ["msg_mmm"]
    assert operations == ["Query", "Query", "Query"]


def test_items_are_upserted_loaded_and_deleted_by_id(store: DynamoDBStore) -> None:
    run(store.save_thread(thread("thr_a"), ALICE))
    run(store.add_thread_item("thr_a", reply("thr_a", "msg_1", 1, "draft"), ALICE))
    run(store.save_item("thr_a", reply("thr_a", "msg_1", 1, "final"), ALICE))
    loaded = run(store.load_item("thr_a", "msg_1", ALICE))
    assert isinstance(loaded, AssistantMessageItem) and loaded.content[0].text == "final"
    assert len(run(store.load_thread_items("thr_a", None, 20, "asc", ALICE)).data) == 1
    with pytest.raises(NotFoundError):
        run(store.load_item("thr_a", "msg_1", BOB))
    run(store.delete_thread_item("thr_a", "msg_1", ALICE))
    with pytest.raises(NotFoundError):
        run(store.load_item("thr_a", "msg_1", ALICE))
    assert run(store.load_thread_items("thr_a", None, 20, "asc", ALICE)).data == []  # empty, but there


def test_deleting_a_thread_removes_every_item_of_it_and_nothing_else(store: DynamoDBStore, aws: Any) -> None:
    run(store.save_thread(thread("thr_a"), ALICE))
    run(store.save_thread(thread("thr_b", minutes=1), ALICE))
    for second in range(30):  # more than one BatchWriteItem of 25
        run(store.add_thread_item("thr_a", message("thr_a", f"msg_{second}", second), ALICE))
    run(store.add_thread_item("thr_b", message("thr_b", "msg_keep", 1), ALICE))
    run(store.delete_thread("thr_a", ALICE))
    with pytest.raises(NotFoundError):
        run(store.load_thread("thr_a", ALICE))
    left = aws.client("dynamodb").query(
        TableName=aws.physical_id("ChatKitTable"), KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": "alice"}},
    )["Items"]
    assert sorted(item["sk"]["S"] for item in left) == ["item#thr_b#msg_keep", "thread#thr_b"]


@pytest.mark.parametrize(
    ("limit", "after", "order"),
    [(0, None, "asc"), (101, None, "asc"), (True, None, "asc"), (5, None, "sideways"),
     (5, "not-a-cursor!", "asc"), (5, "eyJzayI6eyJTIjoieCJ9fQ", "asc")],
)
def test_bad_page_requests_are_refused_with_a_reason(store: DynamoDBStore, limit: Any, after: Any, order: str) -> None:
    run(store.save_thread(thread("thr_a"), ALICE))
    with pytest.raises(InvalidInput):
        run(store.load_thread_items("thr_a", after, limit, order, ALICE))


def test_a_cursor_from_threads_does_not_page_items(store: DynamoDBStore) -> None:
    run(store.save_thread(thread("thr_a"), ALICE))
    run(store.save_thread(thread("thr_b", minutes=1), ALICE))
    page = run(store.load_threads(1, None, "asc", ALICE))
    with pytest.raises(InvalidInput):
        run(store.load_thread_items("thr_a", page.after, 5, "asc", ALICE))


@pytest.mark.parametrize("thread_id", ["", "thr#a", "a" * 129, "thr a", "../thr"])
def test_malformed_thread_ids_are_not_found(store: DynamoDBStore, thread_id: str) -> None:
    with pytest.raises(NotFoundError):
        run(store.load_thread(thread_id, ALICE))


def test_attachments_are_refused_clearly(store: DynamoDBStore) -> None:
    with pytest.raises(AttachmentsNotSupported, match="Attachments are not supported"):
        run(store.load_attachment("atc_1", ALICE))
    with pytest.raises(AttachmentsNotSupported):
        run(store.delete_attachment("atc_1", ALICE))
