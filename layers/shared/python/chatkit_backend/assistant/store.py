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

One chat turn reads and writes as little as it can (``Turn``, docs/latency.md):
- the thread and (when the request runs the model) its newest items are read once, in two
  requests sent together; every later read of them in the request is answered from that copy
  and from what the request wrote since, so the turn never reads back what it just wrote;
- once the answer streams, its writes (items, the thread's new title) are held and sent at
  the end of the turn with BatchWriteItem, 25 a request, before the stream ends. A read the copy
  cannot answer sends the held writes first, so no read ever misses one.
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


@dataclass
class Turn:
    """What one request knows of the thread it works on, and the writes it holds back."""

    # How many of the thread's newest items to read with the thread (0: the thread only).
    history: int = 0
    # The thread's record and the records of its newest items (ascending), as DynamoDB holds
    # them once this request's writes are in; ``items`` None: not read.
    thread_id: str | None = None
    thread: dict[str, Any] | None = None
    items: list[dict[str, Any]] | None = None
    # Whether ``items`` are all of the thread's items (no older ones left unread).
    all_items: bool = False
    # Set once the answer streams: writes wait in ``held`` (by sort key) for ``flush``.
    hold_writes: bool = False
    held: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """Who is asking: ChatKit hands this to every store call and to the agent's tools."""

    user_id: str
    # Threads this request created and has not stored yet (id -> metadata, None until ChatKit
    # saves it): each is written with its first item.
    new_threads: dict[str, ThreadMetadata | None] = field(default_factory=dict, compare=False, repr=False)
    turn: Turn = field(default_factory=Turn, compare=False, repr=False)


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
        turn = context.turn
        if turn.thread_id != thread_id or turn.thread is None:
            await self._read_thread(thread_id, context)
        if turn.thread is None:
            raise NotFoundError(f"No thread with id '{thread_id[:128]}'.")
        return ThreadMetadata.model_validate_json(turn.thread["data"]["S"])

    async def _read_thread(self, thread_id: str, context: RequestContext) -> None:
        """The thread's record and, if the turn wants history, its newest items: two requests at once."""
        turn = context.turn
        sk = _thread_sk(thread_id)
        await self.flush(context)
        if turn.history:
            thread, (records, more) = await asyncio.gather(
                self._get(context.user_id, sk),
                self._query_page(context.user_id, f"item#{thread_id}#", turn.history, None, "desc"),
            )
            turn.items, turn.all_items = list(reversed(records)), not more
        else:
            thread = await self._get(context.user_id, sk)
            turn.items, turn.all_items = None, False
        turn.thread_id, turn.thread = thread_id, thread

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        # A Thread (metadata plus a page of items) is saved as its metadata only.
        metadata = ThreadMetadata.model_validate(thread.model_dump(exclude={"items"}))
        if metadata.id in context.new_threads:
            context.new_threads[metadata.id] = metadata  # stored with its first item
            return
        record = self._thread_record(metadata, context)
        if context.turn.thread_id == metadata.id:
            context.turn.thread = record
        await self._put(record, context)

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
        records, next_after = await self._page(context, "thread#", limit, after, order)
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
        if context.turn.thread_id == thread_id:
            context.turn.thread_id, context.turn.thread, context.turn.items = None, None, None
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
        known = _known_page(context.turn, thread_id, limit, after, order)
        if known is not None:
            records, next_after = known
            return Page(
                data=[_ITEM.validate_json(r["data"]["S"]) for r in records], has_more=next_after is not None, after=next_after
            )
        records, next_after = await self._page(context, f"item#{thread_id}#", limit, after, order)
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
            _remember(context.turn, thread_id, record)
            await self._put(record, context)
            return
        # The new thread's first item: both or neither.
        thread_record = self._thread_record(thread, context)
        await _call(
            "transact_write_items",
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": thread_record}},
                {"Put": {"TableName": self.table, "Item": record}},
            ],
        )
        del context.new_threads[thread_id]
        # This request made the thread: it knows all of it without reading.
        turn = context.turn
        turn.thread_id, turn.thread, turn.items, turn.all_items = thread_id, thread_record, [record], True

    def _item_record(self, thread_id: str, item: ThreadItem, context: RequestContext) -> dict[str, Any]:
        return {
            "user_id": {"S": context.user_id},
            "sk": {"S": _item_sk(thread_id, item.id)},
            "order_key": {"S": f"item#{thread_id}#{_stamp(item.created_at)}#{item.id}"},
            "thread_id": {"S": thread_id},
            "data": {"S": _ITEM.dump_json(item).decode()},
        }

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        sk = _item_sk(thread_id, item_id)
        turn = context.turn
        known = next((r for r in turn.items or () if r["sk"]["S"] == sk), None) if turn.thread_id == thread_id else None
        if known is None and not (turn.thread_id == thread_id and turn.all_items):
            await self.flush(context)
            known = await self._get(context.user_id, sk)
        if known is None:
            raise NotFoundError(f"No item with id '{item_id[:128]}' in thread '{thread_id[:128]}'.")
        return _ITEM.validate_json(known["data"]["S"])

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        key = {"user_id": {"S": context.user_id}, "sk": {"S": _item_sk(thread_id, item_id)}}
        turn = context.turn
        if turn.thread_id == thread_id and turn.items is not None:
            turn.items = [r for r in turn.items if r["sk"] != key["sk"]]
        if turn.hold_writes:
            turn.held[key["sk"]["S"]] = {"DeleteRequest": {"Key": key}}
            return
        await _call("delete_item", TableName=self.table, Key=key)

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
            record = self._thread_record(thread, context)
            if context.turn.thread_id == thread_id:
                context.turn.thread = record
            requests.append({"PutRequest": {"Item": record}})
        if mark is not None:
            record = {
                "user_id": {"S": context.user_id},
                "sk": {"S": _mark_sk(thread_id)},
                "thread_id": {"S": thread_id},
                "data": {"S": json.dumps(mark, sort_keys=True)},
            }
            requests.append({"PutRequest": {"Item": record}})
        await self._write_batch(requests)

    async def flush(self, context: RequestContext) -> None:
        """Send the writes the turn holds (BatchWriteItem, 25 a request); the service calls this
        at the end of every streamed answer, before the stream ends."""
        held = context.turn.held
        if held:
            requests = list(held.values())
            held.clear()
            await self._write_batch(requests)

    async def _put(self, record: dict[str, Any], context: RequestContext) -> None:
        if context.turn.hold_writes:
            context.turn.held[record["sk"]["S"]] = {"PutRequest": {"Item": record}}
            return
        await _call("put_item", TableName=self.table, Item=record)

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
        self, context: RequestContext, prefix: str, limit: int, after: str | None, order: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` records under ``prefix`` in ``order``, and the cursor of the next page.

        One Query for ``limit + 1`` records: the extra one only says whether more exist, so
        ``has_more`` is exact (a bare LastEvaluatedKey can point at an empty next page).
        """
        _check_page(limit, order)
        await self.flush(context)
        records, more = await self._query_page(context.user_id, prefix, limit, after, order)
        return records, _cursor(records[-1]) if more else None

    async def _query_page(
        self, user_id: str, prefix: str, limit: int, after: str | None, order: str
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` records under ``prefix`` in ``order``, and whether more follow."""
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
        return records[:limit], len(records) > limit


def _check_page(limit: int, order: str) -> None:
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be 'asc' or 'desc'.")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT_MAX:
        raise InvalidInput(f"limit must be a whole number from 1 to {PAGE_LIMIT_MAX}.")


def _cursor(record: dict[str, Any]) -> str | None:
    return encode_cursor({"sk": record["sk"], "order_key": record["order_key"]})


def _remember(turn: Turn, thread_id: str, record: dict[str, Any]) -> None:
    """Put an item this request writes into the turn's copy of the thread (replacing its old self)."""
    if turn.thread_id != thread_id or turn.items is None:
        return
    items = [r for r in turn.items if r["sk"] != record["sk"]]
    items.append(record)
    items.sort(key=lambda r: r["order_key"]["S"])
    turn.items = items


def _known_page(
    turn: Turn, thread_id: str, limit: int, after: str | None, order: str
) -> tuple[list[dict[str, Any]], str | None] | None:
    """The first page of the thread's newest items from the turn's copy, or None if it cannot tell.

    The copy holds the newest items (and all of them when ``all_items``), so a first page in
    descending order is in it when it holds ``limit`` items or the whole thread.
    """
    if turn.thread_id != thread_id or turn.thread is None or turn.items is None or after is not None or order != "desc":
        return None
    _check_page(limit, order)
    newest = turn.items[::-1]
    if len(newest) < limit and not turn.all_items:
        return None
    page = newest[:limit]
    more = len(newest) > limit or not turn.all_items
    return page, _cursor(page[-1]) if more else None


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
