"""ChatKit's ``Store`` on DynamoDB: threads and their items in the signed-in user's partition.

ChatKitTable, one partition per user (``user_id``), sort key ``sk``:
- a thread: ``sk = thread#<thread_id>``;
- a thread item: ``sk = item#<thread_id>#<item_id>``, so loading, replacing or deleting one
  item by id is one key operation.
Each record also carries ``order_key`` (``thread#<created_at>#<thread_id>`` or
``item#<thread_id>#<created_at>#<item_id>``), the sort key of the ``by_order`` local index: a
page of threads or of a thread's items, in either order, is one Query; nothing ever scans.
``data`` holds the ChatKit model as JSON, exactly as ChatKit serialises it.

A thread imported from hosted ChatKit keeps its hosted id (``cthr_...``) and has one more
record, its import mark: ``sk = hosted#<thread_id>``, ``data`` = where the last import stopped
(see ``chatkit_backend.assistant.hosted_import``). It has no ``order_key``, so no listing sees
it, and deleting the thread leaves it: a later import then knows the user deleted the thread
and does not bring it back.

Everything is keyed by the caller's ``user_id``, so another user's thread is simply not there
(``NotFoundError``, as ChatKit expects). Attachments are refused with a clear error until this
store supports them.

A thread created by a request is written together with its first item, in one transaction: a
``threads.create`` that fails before its message is stored leaves no empty thread behind.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from botocore.exceptions import ClientError
from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter

from chatkit_backend.aws import client
from chatkit_backend.cursor import decode_cursor, encode_cursor
from chatkit_backend.errors import InvalidInput
from chatkit_backend.limits import PAGE_LIMIT_MAX

ORDER_INDEX = "by_order"
# BatchWriteItem takes at most 25 requests.
BATCH_SIZE = 25
# Ids this store accepts from clients: what it generates and what the Responses API returns.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_ITEM = TypeAdapter(ThreadItem)
# chatkit.types leaves its models with forward references unbuilt until a class is used
# directly, and ChatKit serialises a page of items by each item's own class. Items this store
# reads come through the TypeAdapter above, which builds none of them, so a container whose
# first request is items.list (a cold start on opening a thread) answered 500. Build them now.
for _model in get_args(get_args(ThreadItem)[0]):
    _model.model_rebuild()


@dataclass(frozen=True)
class RequestContext:
    """Who is asking: ChatKit hands this to every store call and to the agent's tools."""

    user_id: str
    # Threads this request created and has not stored yet (id -> metadata, None until ChatKit
    # saves it): each is written with its first item.
    new_threads: dict[str, ThreadMetadata | None] = field(default_factory=dict, compare=False, repr=False)


class AttachmentsNotSupported(InvalidInput):
    def __init__(self) -> None:
        super().__init__("Attachments are not supported by this ChatKit server yet: send text only.")


class DynamoDBStore(Store[RequestContext]):
    """Threads and items of ChatKit in one DynamoDB table, partitioned by user."""

    def __init__(self, table: str) -> None:
        self.table = table

    # ---- ids: unique within the user's partition, not just probably unique -------------
    def generate_thread_id(self, context: RequestContext) -> str:
        thread_id = f"thr_{uuid.uuid4().hex}"
        context.new_threads[thread_id] = None
        return thread_id

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext) -> str:
        prefix = {"message": "msg", "tool_call": "tc", "task": "tsk", "workflow": "wf"}.get(item_type, "itm")
        return f"{prefix}_{uuid.uuid4().hex}"

    # ---- threads ---------------------------------------------------------------------------
    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        pending = context.new_threads.get(thread_id)
        if pending is not None:
            return pending.model_copy(deep=True)
        item = await self._get(context.user_id, _thread_sk(thread_id))
        if item is None:
            raise NotFoundError(f"No thread with id '{thread_id[:128]}'.")
        return ThreadMetadata.model_validate_json(item["data"]["S"])

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        # A Thread (metadata plus a page of items) is saved as its metadata only.
        metadata = ThreadMetadata.model_validate(thread.model_dump(exclude={"items"}))
        if metadata.id in context.new_threads:
            context.new_threads[metadata.id] = metadata  # stored with its first item
            return
        await _call("put_item", TableName=self.table, Item=self._thread_record(metadata, context))

    def _thread_record(self, metadata: ThreadMetadata, context: RequestContext) -> dict[str, Any]:
        return {
            "user_id": {"S": context.user_id},
            "sk": {"S": _thread_sk(metadata.id)},
            "order_key": {"S": f"thread#{_stamp(metadata.created_at)}#{metadata.id}"},
            "thread_id": {"S": metadata.id},
            "data": {"S": metadata.model_dump_json()},
        }

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        records, next_after = await self._page(context.user_id, "thread#", limit, after, order)
        return Page(
            data=[ThreadMetadata.model_validate_json(r["data"]["S"]) for r in records],
            has_more=next_after is not None,
            after=next_after,
        )

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        """Delete the thread (conditionally: a thread that is not there is NotFound), then its items."""
        try:
            await _call(
                "delete_item",
                TableName=self.table,
                Key={"user_id": {"S": context.user_id}, "sk": {"S": _thread_sk(thread_id)}},
                ConditionExpression="attribute_exists(sk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise NotFoundError(f"No thread with id '{thread_id[:128]}'.") from None
            raise
        # The thread is gone, so its items are unreachable from here on; remove them for good.
        start_key: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "user_id = :u AND begins_with(sk, :p)",
                "ExpressionAttributeValues": {":u": {"S": context.user_id}, ":p": {"S": f"item#{thread_id}#"}},
                "ProjectionExpression": "user_id, sk",
            }
            if start_key:
                request["ExclusiveStartKey"] = start_key
            response = await _call("query", **request)
            await self._write_batch([{"DeleteRequest": {"Key": key}} for key in response.get("Items", [])])
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                return

    # ---- items -----------------------------------------------------------------------------
    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        _check_id(thread_id)
        records, next_after = await self._page(context.user_id, f"item#{thread_id}#", limit, after, order)
        if not records and after is None and await self._get(context.user_id, _thread_sk(thread_id)) is None:
            # An empty first page: tell "no such thread" (or another user's) from an empty one.
            raise NotFoundError(f"No thread with id '{thread_id[:128]}'.")
        return Page(
            data=[_ITEM.validate_json(r["data"]["S"]) for r in records],
            has_more=next_after is not None,
            after=next_after,
        )

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        # ChatKit adds the same item twice at times (a workflow kept open across turns): an upsert.
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        record = self._item_record(thread_id, item, context)
        thread = context.new_threads.get(thread_id)
        if thread is None:
            await _call("put_item", TableName=self.table, Item=record)
            return
        # The new thread's first item: both or neither.
        await _call(
            "transact_write_items",
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": self._thread_record(thread, context)}},
                {"Put": {"TableName": self.table, "Item": record}},
            ],
        )
        del context.new_threads[thread_id]

    def _item_record(self, thread_id: str, item: ThreadItem, context: RequestContext) -> dict[str, Any]:
        return {
            "user_id": {"S": context.user_id},
            "sk": {"S": _item_sk(thread_id, item.id)},
            "order_key": {"S": f"item#{thread_id}#{_stamp(item.created_at)}#{item.id}"},
            "thread_id": {"S": thread_id},
            "data": {"S": _ITEM.dump_json(item).decode()},
        }

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        record = await self._get(context.user_id, _item_sk(thread_id, item_id))
        if record is None:
            raise NotFoundError(f"No item with id '{item_id[:128]}' in thread '{thread_id[:128]}'.")
        return _ITEM.validate_json(record["data"]["S"])

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        await _call(
            "delete_item",
            TableName=self.table,
            Key={"user_id": {"S": context.user_id}, "sk": {"S": _item_sk(thread_id, item_id)}},
        )

    # ---- threads imported from hosted ChatKit ----------------------------------------------
    async def load_import_mark(self, thread_id: str, context: RequestContext) -> dict[str, Any] | None:
        """Where the last import of this hosted thread stopped, or None if it was never imported."""
        record = await self._get(context.user_id, _mark_sk(thread_id))
        return None if record is None else json.loads(record["data"]["S"])

    async def save_imported(
        self,
        thread_id: str,
        items: list[ThreadItem],
        context: RequestContext,
        *,
        thread: ThreadMetadata | None = None,
        mark: dict[str, Any] | None = None,
    ) -> None:
        """Write imported ``items`` of the thread, then (if given) the thread and its import mark.

        Records are the ones ``save_item`` and ``save_thread`` write, sent by BatchWriteItem, 25 a
        request. The thread and its mark go in the last request, so a mark never claims items that
        are not stored yet.
        """
        requests = [{"PutRequest": {"Item": self._item_record(thread_id, item, context)}} for item in items]
        if thread is not None:
            requests.append({"PutRequest": {"Item": self._thread_record(thread, context)}})
        if mark is not None:
            record = {
                "user_id": {"S": context.user_id},
                "sk": {"S": _mark_sk(thread_id)},
                "thread_id": {"S": thread_id},
                "data": {"S": json.dumps(mark, sort_keys=True)},
            }
            requests.append({"PutRequest": {"Item": record}})
        await self._write_batch(requests)

    async def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem in chunks of 25, retrying what DynamoDB leaves unprocessed."""
        for index in range(0, len(requests), BATCH_SIZE):
            pending = requests[index : index + BATCH_SIZE]
            for attempt in range(5):
                response = await _call("batch_write_item", RequestItems={self.table: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table, [])
                if not pending:
                    break
                await asyncio.sleep(0.05 * 2**attempt)
            else:
                raise RuntimeError(f"DynamoDB left {len(pending)} writes unprocessed five times")

    # ---- attachments: refused until this store keeps files ---------------------------------
    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        raise AttachmentsNotSupported()

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        raise AttachmentsNotSupported()

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        raise AttachmentsNotSupported()

    # ---- DynamoDB --------------------------------------------------------------------------
    async def _get(self, user_id: str, sk: str) -> dict[str, Any] | None:
        response = await _call(
            "get_item",
            TableName=self.table,
            Key={"user_id": {"S": user_id}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        return response.get("Item")

    async def _page(
        self, user_id: str, prefix: str, limit: int, after: str | None, order: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` records under ``prefix`` in ``order``, and the cursor of the next page.

        One Query for ``limit + 1`` records: the extra one only says whether more exist, so
        ``has_more`` is exact (a bare LastEvaluatedKey can point at an empty next page).
        """
        if order not in ("asc", "desc"):
            raise InvalidInput("order must be 'asc' or 'desc'.")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT_MAX:
            raise InvalidInput(f"limit must be a whole number from 1 to {PAGE_LIMIT_MAX}.")
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ORDER_INDEX,
            "KeyConditionExpression": "user_id = :u AND begins_with(order_key, :p)",
            "ExpressionAttributeValues": {":u": {"S": user_id}, ":p": {"S": prefix}},
            "ScanIndexForward": order == "asc",
            "ConsistentRead": True,
            "Limit": limit + 1,
        }
        start_key = decode_cursor(after, user_id)
        if start_key is not None:
            position = start_key.get("order_key", {}).get("S", "")
            if set(start_key) != {"user_id", "sk", "order_key"} or not position.startswith(prefix):
                raise InvalidInput("after is not valid for this listing: pass the previous page's 'after' unchanged.")
            request["ExclusiveStartKey"] = start_key
        response = await _call("query", **request)
        records = response.get("Items", [])
        if len(records) <= limit:
            return records, None
        last = records[limit - 1]
        return records[:limit], encode_cursor({"sk": last["sk"], "order_key": last["order_key"]})


async def _call(operation: str, **request: Any) -> dict[str, Any]:
    """One DynamoDB request, off the event loop so the SSE stream keeps flowing meanwhile."""
    return await asyncio.to_thread(getattr(client("dynamodb"), operation), **request)


def accepts_id(value: object) -> bool:
    """Whether ``value`` can be a thread or item id in this store."""
    return isinstance(value, str) and bool(_ID.match(value))


def _check_id(value: str) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise NotFoundError(f"No thread with id '{str(value)[:128]}'.")


def _thread_sk(thread_id: str) -> str:
    _check_id(thread_id)
    return f"thread#{thread_id}"


def _item_sk(thread_id: str, item_id: str) -> str:
    _check_id(thread_id)
    if not isinstance(item_id, str) or not _ID.match(item_id):
        raise NotFoundError(f"No item with id '{str(item_id)[:128]}'.")
    return f"item#{thread_id}#{item_id}"


def _mark_sk(thread_id: str) -> str:
    _check_id(thread_id)
    return f"hosted#{thread_id}"


def _stamp(moment: datetime) -> str:
    """A sortable timestamp; ChatKit stamps items with naive local time, Lambda's local is UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")
