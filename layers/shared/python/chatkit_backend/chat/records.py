"""ChatKitTable's records without ChatKit: the key schema, pages in time order, a thread's deletion.

One partition per user (``user_id``), sort key ``sk``:
- a thread: ``thread#<thread_id>``;
- a thread item: ``item#<thread_id>#<item_id>``;
- an attachment: ``attachment#<attachment_id>``;
- feedback: ``feedback#<thread_id>#<item_id>``;
- the import mark of a thread imported from hosted ChatKit: ``hosted#<thread_id>``.
Threads, items and sent attachments also carry ``order_key`` (``thread#<created_at>#<thread_id>``,
``item#<thread_id>#<created_at>#<item_id>``, ``attachment#<thread_id>#<attachment_id>``), the sort
key of the ``by_order`` local index: a page of threads or of a thread's items, in either order,
is one Query. ``data`` holds the ChatKit model as JSON.

``chat.store`` (ChatKit's ``Store``) and the functions that ship without ChatKit (ThreadsFunction,
SessionFunction, UserDataFunction) read and delete through this module, so ``GET
/api/chatkit/threads`` is the very page ChatKit's ``threads.list`` answers, and ``DELETE
/api/chatkit/threads/{id}`` the very deletion of ChatKit's ``threads.delete``. Calls are
synchronous; the store runs them off its event loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chatkit_backend.aws.clients import batch_write, client, is_condition_failure
from chatkit_backend.aws.cursor import decode_cursor, encode_cursor
from chatkit_backend.chat.attachment_keys import delete_files
from chatkit_backend.errors import InvalidInput, ThreadNotFound
from chatkit_backend.limits import PAGE_LIMIT_MAX, THREAD_ID_MAX_CHARS

ORDER_INDEX = "by_order"
THREAD = "thread#"
ITEM = "item#"
ATTACHMENT = "attachment#"
FEEDBACK = "feedback#"
HOSTED = "hosted#"
# Ids (of threads, items, attachments) this table accepts from clients: what the store generates
# and what OpenAI returns.
_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{THREAD_ID_MAX_CHARS}}}")
BAD_CURSOR = "The cursor is not valid for this listing: pass the one the previous page gave, unchanged."


def accepts_id(value: object) -> bool:
    """Whether ``value`` can be a thread, item or attachment id in this table."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def thread_sk(thread_id: str) -> str:
    return f"{THREAD}{thread_id}"


def item_sk(thread_id: str, item_id: str) -> str:
    return f"{ITEM}{thread_id}#{item_id}"


def attachment_sk(attachment_id: str) -> str:
    return f"{ATTACHMENT}{attachment_id}"


def feedback_sk(thread_id: str, item_id: str) -> str:
    return f"{FEEDBACK}{thread_id}#{item_id}"


def mark_sk(thread_id: str) -> str:
    return f"{HOSTED}{thread_id}"


def thread_order_key(created_at: datetime, thread_id: str) -> str:
    return f"{THREAD}{stamp(created_at)}#{thread_id}"


def item_order_key(thread_id: str, created_at: datetime, item_id: str) -> str:
    return f"{ITEM}{thread_id}#{stamp(created_at)}#{item_id}"


def attachment_order_key(thread_id: str, attachment_id: str) -> str:
    return f"{ATTACHMENT}{thread_id}#{attachment_id}"


def stamp(moment: datetime) -> str:
    """A sortable timestamp; ChatKit stamps items with naive local time, Lambda's local is UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


# ---- pages in time order ----------------------------------------------------------------
def check_page(limit: int, order: str) -> None:
    """``InvalidInput`` unless ``limit`` is a page size and ``order`` "asc" or "desc"."""
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be 'asc' or 'desc'.")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT_MAX:
        raise InvalidInput(f"limit must be a whole number from 1 to {PAGE_LIMIT_MAX}.")


def query_page(
    table: str, user_id: str, prefix: str, limit: int, after: str | None, order: str
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` of the user's records whose ``order_key`` starts with ``prefix``, in
    ``order`` ("asc" or "desc") after the cursor ``after``, and whether more follow.

    One Query for ``limit + 1`` records: the extra one only says whether more exist, so a
    listing's ``has_more`` is exact (a bare LastEvaluatedKey can point at an empty next page).
    """
    check_page(limit, order)
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": ORDER_INDEX,
        "KeyConditionExpression": "user_id = :u AND begins_with(order_key, :p)",
        "ExpressionAttributeValues": {":u": {"S": user_id}, ":p": {"S": prefix}},
        "ScanIndexForward": order == "asc",
        "ConsistentRead": True,
        "Limit": limit + 1,
        # What pages are made of (the model, and the cursor's keys), nothing else: a page of
        # items is the largest answer of a turn, and every attribute is parsed on both ends.
        "ProjectionExpression": "sk, order_key, #data",
        "ExpressionAttributeNames": {"#data": "data"},
    }
    start_key = decode_cursor(after, user_id)
    if start_key is not None:
        position = start_key.get("order_key", {}).get("S", "")
        if set(start_key) != {"user_id", "sk", "order_key"} or not position.startswith(prefix):
            raise InvalidInput(BAD_CURSOR)
        request["ExclusiveStartKey"] = start_key
    try:
        response = client("dynamodb").query(**request)
    except ClientError as error:
        # A cursor that decodes but names no real position (hand-edited values) lands here.
        if start_key is not None and error.response.get("Error", {}).get("Code") == "ValidationException":
            raise InvalidInput(BAD_CURSOR) from None
        raise
    records = response.get("Items", [])
    return records[:limit], len(records) > limit


def page_cursor(record: dict[str, Any]) -> str | None:
    """The cursor of the page that follows ``record``."""
    return encode_cursor({"sk": record["sk"], "order_key": record["order_key"]})


def latest_thread_id(table: str, user_id: str) -> str | None:
    """The id of the user's newest thread (the first that ``threads.list`` shows), or None: one Query."""
    response = client("dynamodb").query(
        TableName=table,
        IndexName=ORDER_INDEX,
        KeyConditionExpression="user_id = :u AND begins_with(order_key, :p)",
        ExpressionAttributeValues={":u": {"S": user_id}, ":p": {"S": THREAD}},
        ScanIndexForward=False,
        ConsistentRead=True,
        Limit=1,
        ProjectionExpression="thread_id",
    )
    items = response.get("Items", [])
    return items[0]["thread_id"]["S"] if items else None


# ---- deleting a thread --------------------------------------------------------------------
def delete_thread(table: str, bucket: str, user_id: str, thread_id: str) -> None:
    """Delete the user's thread with its attachment files (in ``bucket``, when there is one) and
    records, its items and its feedback; ``ThreadNotFound`` when the user has no such thread.

    Files go first: should S3 fail, the thread is still there to delete again, rather than gone
    with its files left behind for good. The import mark (``hosted#``) stays, so a later import
    knows the user deleted the thread and does not bring it back.
    """
    if not accepts_id(thread_id):
        raise ThreadNotFound(thread_id[:128])
    for keys in _keys(table, user_id, "order_key", attachment_order_key(thread_id, ""), ORDER_INDEX):
        if bucket:
            delete_files(bucket, user_id, [key["sk"]["S"].removeprefix(ATTACHMENT) for key in keys])
        batch_write(table, [{"DeleteRequest": {"Key": key}} for key in keys])
    dynamodb = client("dynamodb")
    try:
        dynamodb.delete_item(
            TableName=table,
            Key={"user_id": {"S": user_id}, "sk": {"S": thread_sk(thread_id)}},
            ConditionExpression="attribute_exists(sk)",
        )
    except ClientError as error:
        if is_condition_failure(error):
            raise ThreadNotFound(thread_id) from None
        raise
    # The thread is gone, so its items and the votes on them are unreachable: remove them for good.
    for prefix in (item_sk(thread_id, ""), feedback_sk(thread_id, "")):
        for keys in _keys(table, user_id, "sk", prefix):
            batch_write(table, [{"DeleteRequest": {"Key": key}} for key in keys])


def _keys(
    table: str, user_id: str, attribute: str, prefix: str, index: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of the keys of the user's records whose ``attribute`` (sk, or the index's
    order_key) starts with ``prefix``: one Query a page."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": f"user_id = :u AND begins_with({attribute}, :p)",
        "ExpressionAttributeValues": {":u": {"S": user_id}, ":p": {"S": prefix}},
        "ProjectionExpression": "user_id, sk",
    }
    if index:
        request["IndexName"] = index
    while True:
        response = client("dynamodb").query(**request)
        if response.get("Items"):
            yield [{"user_id": item["user_id"], "sk": item["sk"]} for item in response["Items"]]
        start_key = response.get("LastEvaluatedKey")
        if not start_key:
            return
        request["ExclusiveStartKey"] = start_key
