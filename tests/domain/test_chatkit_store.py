"""The DynamoDB ChatKit store against moto: threads per user, items in order, pages by Query,
attachment records beside their S3 files, feedback per item and user."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from chatkit_backend.aws import clients as aws_clients
from chatkit_backend.chat.attachments import S3Files, object_key
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.dynamodb import DynamoDBStore
from chatkit_backend.errors import InvalidInput
from chatkit_backend.limits import FEEDBACK_ITEMS_MAX

ALICE, BOB = RequestContext("alice"), RequestContext("bob")
START = datetime(2026, 11, 24, 8, 0, 0)  # noqa: DTZ001 - ChatKit's items carry naive times (chatkit.agents subtracts datetime.now() from them)


@pytest.fixture
def store(aws: Any) -> DynamoDBStore:
    aws_clients.client.cache_clear()
    return DynamoDBStore(
        aws.physical_id("ChatKitTable"), S3Files(aws.physical_id("AttachmentsBucket"), 1024 * 1024)
    )


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
        id=item_id,
        thread_id=thread_id,
        created_at=START + timedelta(seconds=seconds),
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


def test_threads_are_listed_per_user_newest_first_in_exact_pages(
    store: DynamoDBStore, operations: list[str]
) -> None:
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
    assert [t.id for t in run(store.load_threads(10, None, "asc", ALICE)).data] == [
        f"thr_{m}" for m in range(5)
    ]
    assert [t.id for t in run(store.load_threads(10, None, "desc", BOB)).data] == ["thr_bob"]
    assert set(operations) == {"Query"}  # one Query a page, never a Scan


def test_items_come_back_in_time_order_whatever_their_ids(
    store: DynamoDBStore, operations: list[str]
) -> None:
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
        TableName=aws.physical_id("ChatKitTable"),
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": "alice"}},
    )["Items"]
    assert sorted(item["sk"]["S"] for item in left) == ["item#thr_b#msg_keep", "thread#thr_b"]


@pytest.mark.parametrize(
    ("limit", "after", "order"),
    [
        (0, None, "asc"),
        (101, None, "asc"),
        (True, None, "asc"),
        (5, None, "sideways"),
        (5, "not-a-cursor!", "asc"),
        (5, "eyJzayI6eyJTIjoieCJ9fQ", "asc"),
    ],
)
def test_bad_page_requests_are_refused_with_a_reason(
    store: DynamoDBStore, limit: Any, after: Any, order: str
) -> None:
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


def partition(aws: Any, user_id: str) -> dict[str, dict[str, Any]]:
    """Every record of the user's partition, by sort key (the test's view of the table)."""
    items = aws.client("dynamodb").query(
        TableName=aws.physical_id("ChatKitTable"),
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
    )["Items"]
    return {item["sk"]["S"]: item for item in items}


def upload(aws: Any, user_id: str, attachment_id: str, body: bytes = b"%PDF-1.4") -> None:
    aws.client("s3").put_object(
        Bucket=aws.physical_id("AttachmentsBucket"),
        Key=object_key(user_id, attachment_id),
        Body=body,
        Tagging="chatkit-attachment=pending",
    )


def tags(aws: Any, user_id: str, attachment_id: str) -> dict[str, str]:
    tag_set = aws.client("s3").get_object_tagging(
        Bucket=aws.physical_id("AttachmentsBucket"), Key=object_key(user_id, attachment_id)
    )["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def objects(aws: Any) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=aws.physical_id("AttachmentsBucket"))
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def test_an_attachment_record_is_its_uploaders_and_expires_unless_sent(
    store: DynamoDBStore, aws: Any
) -> None:
    upload(aws, "alice", "atc_plan")
    pending = FileAttachment(id="atc_plan", name="plan.pdf", mime_type="application/pdf")
    run(store.save_attachment(pending, ALICE))
    record = partition(aws, "alice")["attachment#atc_plan"]
    assert "expires_at" in record and "order_key" not in record  # TTL'd until a message carries it
    assert run(store.load_attachment("atc_plan", ALICE)).name == "plan.pdf"
    with pytest.raises(NotFoundError):
        run(store.load_attachment("atc_plan", BOB))
    run(store.save_attachment(pending.model_copy(update={"thread_id": "thr_a"}), ALICE))
    record = partition(aws, "alice")["attachment#atc_plan"]
    assert "expires_at" not in record and record["order_key"]["S"] == "attachment#thr_a#atc_plan"
    assert tags(aws, "alice", "atc_plan") == {
        "chatkit-attachment": "attached"
    }  # the lifecycle rule spares it now
    run(store.delete_attachment("atc_plan", BOB))  # Bob's delete names his own partition: nothing
    assert "attachment#atc_plan" in partition(aws, "alice")


def test_image_previews_are_signed_anew_for_the_private_bucket(store: DynamoDBStore, aws: Any) -> None:
    stale = ImageAttachment(
        id="atc_photo",
        name="list.png",
        mime_type="image/png",
        preview_url="https://expired.example/list.png",
        thread_id="thr_a",
    )
    upload(aws, "alice", "atc_photo", b"\x89PNG")
    run(store.save_thread(thread("thr_a"), ALICE))
    run(store.save_attachment(stale, ALICE))
    item = message("thr_a", "msg_1", 1).model_copy(update={"attachments": [stale]})
    run(store.add_thread_item("thr_a", item, ALICE))
    loaded = run(store.load_attachment("atc_photo", ALICE))
    [in_message] = run(store.load_thread_items("thr_a", None, 20, "asc", ALICE)).data[0].attachments
    for url in (str(loaded.preview_url), str(in_message.preview_url)):
        assert "users/alice/atc_photo" in url and "X-Amz-Signature=" in url and "expired.example" not in url


def test_deleting_a_thread_deletes_its_files_and_no_others(store: DynamoDBStore, aws: Any) -> None:
    for user, context, thread_id, attachment_id in [
        ("alice", ALICE, "thr_a", "atc_1"),
        ("alice", ALICE, "thr_a", "atc_2"),
        ("alice", ALICE, "thr_b", "atc_3"),
        ("bob", BOB, "thr_a", "atc_1"),
    ]:
        run(store.save_thread(thread(thread_id), context))
        upload(aws, user, attachment_id)
        attachment = FileAttachment(
            id=attachment_id, name="f.pdf", mime_type="application/pdf", thread_id=thread_id
        )
        run(store.save_attachment(attachment, context))
    upload(aws, "alice", "atc_unsent")
    run(
        store.save_attachment(
            FileAttachment(id="atc_unsent", name="u.pdf", mime_type="application/pdf"), ALICE
        )
    )
    run(store.delete_thread("thr_a", ALICE))
    assert objects(aws) == ["users/alice/atc_3", "users/alice/atc_unsent", "users/bob/atc_1"]
    assert sorted(sk for sk in partition(aws, "alice") if sk.startswith("attachment#")) == [
        "attachment#atc_3",
        "attachment#atc_unsent",
    ]
    assert "attachment#atc_1" in partition(aws, "bob")


def test_feedback_is_one_vote_per_item_and_user(
    store: DynamoDBStore, aws: Any, operations: list[str]
) -> None:
    run(store.save_thread(thread("thr_a"), ALICE))
    run(store.add_thread_item("thr_a", reply("thr_a", "msg_1", 1, "Done."), ALICE))
    run(store.add_thread_item("thr_a", reply("thr_a", "msg_2", 2, "Added."), ALICE))
    operations.clear()
    run(store.save_feedback("thr_a", ["msg_1", "msg_2"], "negative", ALICE))
    assert operations == ["BatchGetItem", "BatchWriteItem"]
    run(store.save_feedback("thr_a", ["msg_1"], "positive", ALICE))  # a second vote replaces the first
    votes = {
        sk: record["kind"]["S"]
        for sk, record in partition(aws, "alice").items()
        if sk.startswith("feedback#")
    }
    assert votes == {"feedback#thr_a#msg_1": "positive", "feedback#thr_a#msg_2": "negative"}


@pytest.mark.parametrize(
    ("context", "item_ids", "error"),
    [
        pytest.param(BOB, ["msg_1"], NotFoundError, id="another user's item"),
        pytest.param(ALICE, ["msg_1", "msg_nope"], NotFoundError, id="one unknown item"),
        pytest.param(ALICE, ["msg#1"], NotFoundError, id="malformed item id"),
        pytest.param(ALICE, [], InvalidInput, id="no item"),
        pytest.param(
            ALICE, [f"msg_{n}" for n in range(FEEDBACK_ITEMS_MAX + 1)], InvalidInput, id="too many items"
        ),
    ],
)
def test_feedback_on_items_that_are_not_the_callers_stores_nothing(
    store: DynamoDBStore, aws: Any, context: RequestContext, item_ids: list[str], error: type[Exception]
) -> None:
    run(store.save_thread(thread("thr_a"), ALICE))
    run(store.add_thread_item("thr_a", reply("thr_a", "msg_1", 1, "Done."), ALICE))
    with pytest.raises(error):
        run(store.save_feedback("thr_a", item_ids, "positive", context))
    for user in ("alice", "bob"):
        assert not [sk for sk in partition(aws, user) if sk.startswith("feedback#")]


def test_items_read_again_are_new_objects_with_the_stored_content(store: DynamoDBStore) -> None:
    """The container parses an item's text once (chat.store.items._item): what a request does to the
    items it reads never reaches the next read, and a replaced item reads as replaced."""
    run(store.save_thread(thread("thr_a"), ALICE))
    run(store.add_thread_item("thr_a", reply("thr_a", "msg_1", 1, "first"), ALICE))

    def read() -> AssistantMessageItem:
        [item] = run(store.load_thread_items("thr_a", None, 20, "asc", ALICE)).data
        assert isinstance(item, AssistantMessageItem)
        return item

    first = read()
    first.content = [AssistantMessageContent(text="changed by a request")]
    again = read()
    assert again is not first and [c.text for c in again.content] == ["first"]
    run(store.save_item("thr_a", reply("thr_a", "msg_1", 1, "edited"), ALICE))
    assert [c.text for c in read().content] == ["edited"]
