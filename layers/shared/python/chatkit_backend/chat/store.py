"""ChatKit's ``Store`` on DynamoDB: threads and their items in the signed-in user's partition.

ChatKitTable's records (their keys, the ``by_order`` index that pages threads and items in time
order, a thread's deletion) are ``chatkit_backend.chat.records``'; this module turns them into
ChatKit's models and back. Loading, replacing or deleting one item by id is one key operation;
a page of threads or of a thread's items is one Query; nothing ever scans. ``data`` holds the
ChatKit model as JSON, exactly as ChatKit serialises it.

A thread imported from hosted ChatKit keeps its hosted id (``cthr_...``) and has one more
record, its import mark (``hosted#<thread_id>``, written by ``chatkit_backend.migration``). It
has no ``order_key``, so no listing sees it, and deleting the thread leaves it: a later import
then knows the user deleted the thread and does not bring it back.

Attachments and feedback live in the same partition:
- an attachment record: once a message carries it, it also has ``thread_id`` and an
  ``order_key`` (so deleting the thread finds its files with one Query); until then
  ``expires_at`` lets DynamoDB's TTL drop the record of a file never sent, as the bucket's
  lifecycle rule drops the file;
- feedback: ``kind`` positive or negative, one per item and user (a second vote replaces the first).
The files themselves are in S3, behind ``AttachmentFiles``.

Everything is keyed by the caller's ``user_id``, so another user's thread, item or attachment is
simply not there (``NotFoundError``, as ChatKit expects).

A thread created by a request is written together with its first item, in one transaction: a
``threads.create`` that fails before its message is stored leaves no empty thread behind.

One chat turn reads and writes as little as it can (``Turn``, docs/latency.md):
- the thread and (when the request runs the model) its newest items are read once, in two
  requests sent together; every later read of them in the request is answered from that copy
  and from what the request wrote since, so the turn never reads back what it just wrote;
- the user's message of a turn on an existing thread is written ahead (``Turn.write_ahead``):
  its PutItem goes out while the agent prepares and makes its first model call, and everything
  the turn writes after it is held. The service commits the stream, and the agent's tools run,
  only once that write has landed (``Turn.message_stored``); if it fails, the request answers
  the error and nothing of the turn is stored;
- once the answer streams, its writes (items, the thread's new title) are held and sent at
  the end of the turn with BatchWriteItem, 25 a request, before the stream ends. A read the copy
  cannot answer sends the held writes first, so no read ever misses one.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, get_args

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import (
    Attachment,
    FeedbackKind,
    ImageAttachment,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
)
from pydantic import AnyUrl, TypeAdapter

from chatkit_backend.aws.clients import batch_write, client
from chatkit_backend.chat import records
from chatkit_backend.chat.records import accepts_id
from chatkit_backend.errors import DomainError, InvalidInput, ThreadNotFound
from chatkit_backend.limits import FEEDBACK_ITEMS_MAX
from chatkit_backend.tasks.service import TaskService

_ITEM = TypeAdapter(ThreadItem)
# chatkit.types leaves its models with forward references unbuilt until a class is used
# directly, and ChatKit serialises a page of items by each item's own class. Items this store
# reads come through the TypeAdapter above, which builds none of them, so a container whose
# first request is items.list (a cold start on opening a thread) answered 500. Build them now.
for _model in get_args(get_args(ThreadItem)[0]):
    _model.model_rebuild()
_ATTACHMENT = TypeAdapter(Attachment)
# How long the record of an attachment never sent in a message is kept (the bucket's lifecycle
# rule removes the file after a day too).
PENDING_ATTACHMENT_SECONDS = 2 * 24 * 3600
# The metadata of threads and attachments imported from hosted ChatKit (chatkit_backend.migration
# writes it; an imported attachment is a name and a type, its file stayed with OpenAI).
IMPORTED_METADATA: dict[str, str] = {"imported_from": "hosted_chatkit"}


def is_imported(metadata: dict[str, Any] | None) -> bool:
    """Whether a thread's or attachment's ``metadata`` marks it as imported from hosted ChatKit."""
    return (metadata or {}).get("imported_from") == IMPORTED_METADATA["imported_from"]


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
    # Whether the user's message goes out without being waited for (``message_write``): the
    # service sets it for a message on an existing thread, which it then answers.
    write_ahead: bool = False
    message_write: asyncio.Future[Any] | None = field(default=None, repr=False)
    # Set once the answer streams (or the message is written ahead): writes wait in ``held`` (by
    # sort key) for ``flush``.
    hold_writes: bool = False
    held: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Where a handler that runs inside ChatKit's stream (a widget action) leaves the domain error
    # it hit, so the service can still answer it as an HTTP status.
    error: DomainError | None = None
    # What the agent's model calls spent (input, output tokens), recorded at the end of the turn.
    spent: tuple[int, int] | None = None

    async def message_stored(self) -> None:
        """Return once the user's message written ahead is stored; raise what its write raised.
        At once when nothing was written ahead."""
        if self.message_write is not None:
            # Shielded: a caller that is cancelled while it waits leaves the write to finish.
            await asyncio.shield(self.message_write)


@dataclass(frozen=True)
class RequestContext:
    """Who is asking: ChatKit hands this to every store call and to the agent's tools."""

    user_id: str
    # The tasks the agent's tools and the widgets' actions change (None where no turn runs: the
    # hosted import, store-only callers).
    tasks: TaskService | None = field(default=None, compare=False, repr=False)
    # Threads this request created and has not stored yet (id -> metadata, None until ChatKit
    # saves it): each is written with its first item.
    new_threads: dict[str, ThreadMetadata | None] = field(default_factory=dict, compare=False, repr=False)
    turn: Turn = field(default_factory=Turn, compare=False, repr=False)

    def task_service(self) -> TaskService:
        if self.tasks is None:
            raise RuntimeError(
                "this request context was built without the tasks service (ChatKitService.handle sets it)"
            )
        return self.tasks


class AttachmentFiles(Protocol):
    """The bytes of attachments (S3), as the store and the request checks need them."""

    bucket: str
    max_bytes: int

    def preview_url(self, user_id: str, attachment_id: str) -> str: ...

    async def uploaded_size(self, user_id: str, attachment_id: str) -> int | None: ...

    async def mark_attached(self, user_id: str, attachment_id: str) -> None: ...


class DynamoDBStore(Store[RequestContext]):
    """Threads and items of ChatKit in one DynamoDB table, partitioned by user."""

    def __init__(self, table: str, files: AttachmentFiles | None = None) -> None:
        self.table = table
        self.files = files

    # ---- ids: unique within the user's partition, not just probably unique -------------
    def generate_thread_id(self, context: RequestContext) -> str:
        thread_id = f"thr_{uuid.uuid4().hex}"
        context.new_threads[thread_id] = None
        return thread_id

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
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
            "order_key": {"S": records.thread_order_key(metadata.created_at, metadata.id)},
            "thread_id": {"S": metadata.id},
            "data": {"S": metadata.model_dump_json()},
        }

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        found, next_after = await self._page(context, records.THREAD, limit, after, order)
        return Page(
            data=[ThreadMetadata.model_validate_json(r["data"]["S"]) for r in found],
            has_more=next_after is not None,
            after=next_after,
        )

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        """The thread with its items, feedback, attachment records and files (``records.delete_thread``,
        which DELETE /api/chatkit/threads/{id} runs too); NotFound when the caller has no such thread."""
        bucket = self.files.bucket if self.files is not None else ""
        try:
            await asyncio.to_thread(records.delete_thread, self.table, bucket, context.user_id, thread_id)
        except ThreadNotFound:
            raise NotFoundError(f"No thread with id '{thread_id[:128]}'.") from None
        if context.turn.thread_id == thread_id:
            context.turn.thread_id, context.turn.thread, context.turn.items = None, None, None

    # ---- items -----------------------------------------------------------------------------
    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        _check_id(thread_id)
        known = _known_page(context.turn, thread_id, limit, after, order)
        if known is None:
            known = await self._page(context, records.item_sk(thread_id, ""), limit, after, order)
            if (
                not known[0]
                and after is None
                and await self._get(context.user_id, _thread_sk(thread_id)) is None
            ):
                # An empty first page: tell "no such thread" (or another user's) from an empty one.
                raise NotFoundError(f"No thread with id '{thread_id[:128]}'.")
        found, next_after = known
        return Page(
            data=[self._fresh(_item(r["data"]["S"]), context) for r in found],
            has_more=next_after is not None,
            after=next_after,
        )

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        # ChatKit adds the same item twice at times (a workflow kept open across turns): an upsert.
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        record = self._item_record(thread_id, item, context)
        thread = context.new_threads.get(thread_id)
        turn = context.turn
        if thread is None:
            _remember(turn, thread_id, record)
            if turn.write_ahead and turn.message_write is None and isinstance(item, UserMessageItem):
                # The turn goes on while the message is written; what it writes next waits for the end.
                turn.message_write = asyncio.ensure_future(
                    _call("put_item", TableName=self.table, Item=record)
                )
                turn.hold_writes = True
                return
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
        turn.thread_id, turn.thread, turn.items, turn.all_items = thread_id, thread_record, [record], True

    def _item_record(self, thread_id: str, item: ThreadItem, context: RequestContext) -> dict[str, Any]:
        return {
            "user_id": {"S": context.user_id},
            "sk": {"S": _item_sk(thread_id, item.id)},
            "order_key": {"S": records.item_order_key(thread_id, item.created_at, item.id)},
            "thread_id": {"S": thread_id},
            "data": {"S": _ITEM.dump_json(item).decode()},
        }

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        sk = _item_sk(thread_id, item_id)
        turn = context.turn
        known = (
            next((r for r in turn.items or () if r["sk"]["S"] == sk), None)
            if turn.thread_id == thread_id
            else None
        )
        if known is None and not (turn.thread_id == thread_id and turn.all_items):
            await self.flush(context)
            known = await self._get(context.user_id, sk)
        if known is None:
            raise NotFoundError(f"No item with id '{item_id[:128]}' in thread '{thread_id[:128]}'.")
        return self._fresh(_item(known["data"]["S"]), context)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        key = {"user_id": {"S": context.user_id}, "sk": {"S": _item_sk(thread_id, item_id)}}
        turn = context.turn
        if turn.thread_id == thread_id and turn.items is not None:
            turn.items = [r for r in turn.items if r["sk"] != key["sk"]]
        if turn.hold_writes:
            turn.held[key["sk"]["S"]] = {"DeleteRequest": {"Key": key}}
            return
        await _call("delete_item", TableName=self.table, Key=key)

    async def flush(self, context: RequestContext) -> None:
        """Send the writes the turn holds (BatchWriteItem, 25 a request), once its message written
        ahead is stored; the service calls this at the end of every streamed answer, before the
        stream ends."""
        await context.turn.message_stored()
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
        await asyncio.to_thread(batch_write, self.table, requests)

    # ---- attachments ---------------------------------------------------------------------
    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        """Record an attachment; once it has a thread (its message was sent), mark its file kept."""
        _check_attachment_id(attachment.id)
        # The upload URL is for the uploader, once; the preview URL is signed afresh on each read.
        stored = attachment.model_copy(update={"upload_descriptor": None})
        record: dict[str, Any] = {
            "user_id": {"S": context.user_id},
            "sk": {"S": records.attachment_sk(attachment.id)},
            "data": {"S": _ATTACHMENT.dump_json(stored).decode()},
        }
        if attachment.thread_id:
            _check_id(attachment.thread_id)
            record["thread_id"] = {"S": attachment.thread_id}
            record["order_key"] = {"S": records.attachment_order_key(attachment.thread_id, attachment.id)}
            if self.files is not None:
                await self.files.mark_attached(context.user_id, attachment.id)
        else:
            record["expires_at"] = {"N": str(int(time.time()) + PENDING_ATTACHMENT_SECONDS)}
        await _call("put_item", TableName=self.table, Item=record)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        _check_attachment_id(attachment_id)
        record = await self._get(context.user_id, records.attachment_sk(attachment_id))
        if record is None:
            raise NotFoundError(f"No attachment with id '{attachment_id[:128]}'.")
        return self._fresh_attachment(_ATTACHMENT.validate_json(record["data"]["S"]), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        _check_attachment_id(attachment_id)
        await _call(
            "delete_item",
            TableName=self.table,
            Key={"user_id": {"S": context.user_id}, "sk": {"S": records.attachment_sk(attachment_id)}},
        )

    def _fresh(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        """``item`` with its images' preview URLs signed anew (they expire; the bucket is private)."""
        if isinstance(item, UserMessageItem) and item.attachments:
            item.attachments = [self._fresh_attachment(a, context) for a in item.attachments]
        return item

    def _fresh_attachment(self, attachment: Attachment, context: RequestContext) -> Attachment:
        if isinstance(attachment, ImageAttachment) and self.files is not None:
            url = AnyUrl(self.files.preview_url(context.user_id, attachment.id))
            return attachment.model_copy(update={"preview_url": url})
        return attachment

    # ---- feedback --------------------------------------------------------------------------
    async def save_feedback(
        self, thread_id: str, item_ids: list[str], kind: FeedbackKind, context: RequestContext
    ) -> None:
        """One vote per item and user; every item must be in the caller's thread (else NotFound,
        and nothing is stored). Two requests: one BatchGetItem, one BatchWriteItem."""
        unique = list(dict.fromkeys(item_ids))
        if not unique or len(unique) > FEEDBACK_ITEMS_MAX:
            raise InvalidInput(f"item_ids must name 1 to {FEEDBACK_ITEMS_MAX} items of the thread.")
        keys = [
            {"user_id": {"S": context.user_id}, "sk": {"S": _item_sk(thread_id, item_id)}}
            for item_id in unique
        ]
        found = await self._existing(keys)
        missing = [item_id for item_id in unique if _item_sk(thread_id, item_id) not in found]
        if missing:
            raise NotFoundError(f"No item with id '{missing[0][:128]}' in thread '{thread_id[:128]}'.")
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        votes = [
            {
                "user_id": {"S": context.user_id},
                "sk": {"S": records.feedback_sk(thread_id, item_id)},
                "thread_id": {"S": thread_id},
                "item_id": {"S": item_id},
                "kind": {"S": kind},
                "created_at": {"S": now},
            }
            for item_id in unique
        ]
        await self._write_batch([{"PutRequest": {"Item": vote}} for vote in votes])

    async def _existing(self, keys: list[dict[str, Any]]) -> set[str]:
        """The sort keys among ``keys`` that exist (one BatchGetItem, retried for unprocessed keys)."""
        found: set[str] = set()
        pending = {self.table: {"Keys": keys, "ProjectionExpression": "sk", "ConsistentRead": True}}
        for attempt in range(5):
            response = await _call("batch_get_item", RequestItems=pending)
            found.update(record["sk"]["S"] for record in response.get("Responses", {}).get(self.table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return found
            await asyncio.sleep(0.05 * 2**attempt)
        raise RuntimeError("DynamoDB left keys unprocessed five times")

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
        """Up to ``limit`` records under ``prefix`` in ``order``, and the cursor of the next page."""
        await self.flush(context)
        found, more = await self._query_page(context.user_id, prefix, limit, after, order)
        return found, records.page_cursor(found[-1]) if more else None

    async def _query_page(
        self, user_id: str, prefix: str, limit: int, after: str | None, order: str
    ) -> tuple[list[dict[str, Any]], bool]:
        return await asyncio.to_thread(records.query_page, self.table, user_id, prefix, limit, after, order)


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
    if (
        turn.thread_id != thread_id
        or turn.thread is None
        or turn.items is None
        or after is not None
        or order != "desc"
    ):
        return None
    records.check_page(limit, order)
    newest = turn.items[::-1]
    if len(newest) < limit and not turn.all_items:
        return None
    page = newest[:limit]
    more = len(newest) > limit or not turn.all_items
    return page, records.page_cursor(page[-1]) if more else None


def _item(data: str) -> ThreadItem:
    """A stored item's model, from its ``data``; a copy of the container's parse of the same text,
    so what a request changes on it (an image's fresh preview URL) stays with that request."""
    return _parsed(data).model_copy()


@functools.lru_cache(maxsize=256)
def _parsed(data: str) -> ThreadItem:
    # Every turn reads the same newest items again, and ChatKit's widget types make a widget item
    # slow to validate (~0.25 ms, where a message takes microseconds): each text is parsed once
    # per container. Keyed by the whole text, ids included: one user's item never answers another's.
    return _ITEM.validate_json(data)


async def _call(operation: str, **request: Any) -> dict[str, Any]:
    """One DynamoDB request, off the event loop so the SSE stream keeps flowing meanwhile."""
    return await asyncio.to_thread(getattr(client("dynamodb"), operation), **request)


def _check_id(value: str) -> None:
    if not accepts_id(value):
        raise NotFoundError(f"No thread with id '{str(value)[:128]}'.")


def _check_attachment_id(value: str) -> None:
    if not accepts_id(value):
        raise NotFoundError(f"No attachment with id '{str(value)[:128]}'.")


def _thread_sk(thread_id: str) -> str:
    _check_id(thread_id)
    return records.thread_sk(thread_id)


def _item_sk(thread_id: str, item_id: str) -> str:
    _check_id(thread_id)
    if not accepts_id(item_id):
        raise NotFoundError(f"No item with id '{str(item_id)[:128]}'.")
    return records.item_sk(thread_id, item_id)
