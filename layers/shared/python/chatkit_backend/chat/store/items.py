"""The store's items: a thread's messages, widgets, tool calls and tasks, each a record in time order.

A turn's reads are answered from its copy of the thread where they can be (``Turn``), its writes
held for the end of the turn once the answer streams; the user's message may be written ahead.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any, get_args

from chatkit.store import NotFoundError, StoreItemType
from chatkit.types import Page, ThreadItem, ThreadMetadata, UserMessageItem
from pydantic import TypeAdapter

from chatkit_backend.chat import records
from chatkit_backend.chat.store.context import RequestContext, Turn
from chatkit_backend.chat.store.table import StoreTable, call, check_thread_id, item_sk, thread_sk
from chatkit_backend.chat.store.threads import thread_record

ITEM_ADAPTER = TypeAdapter(ThreadItem)
# chatkit.types leaves its models with forward references unbuilt until a class is used
# directly, and ChatKit serialises a page of items by each item's own class. Items this store
# reads come through the TypeAdapter above, which builds none of them, so a container whose
# first request is items.list (a cold start on opening a thread) answered 500. Build them now.
for _model in get_args(get_args(ThreadItem)[0]):
    _model.model_rebuild()


class ItemRecords(StoreTable):
    """ChatKit's item methods of the store."""

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        prefix = {"message": "msg", "tool_call": "tc", "task": "tsk", "workflow": "wf"}.get(item_type, "itm")
        return f"{prefix}_{uuid.uuid4().hex}"

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        check_thread_id(thread_id)
        known = _known_page(context.turn, thread_id, limit, after, order)
        if known is None:
            known = await self._page(context, records.item_sk(thread_id, ""), limit, after, order)
            if (
                not known[0]
                and after is None
                and await self._get(context.user_id, thread_sk(thread_id)) is None
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
        record = item_record(thread_id, item, context.user_id)
        thread = context.new_threads.get(thread_id)
        turn = context.turn
        if thread is None:
            _remember(turn, thread_id, record)
            if turn.write_ahead and turn.message_write is None and isinstance(item, UserMessageItem):
                # The turn goes on while the message is written; what it writes next waits for the end.
                turn.message_write = asyncio.ensure_future(
                    call("put_item", TableName=self.table, Item=record)
                )
                turn.hold_writes = True
                return
            await self._put(record, context)
            return
        # The new thread's first item: both or neither.
        new_thread = thread_record(thread, context.user_id)
        await call(
            "transact_write_items",
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": new_thread}},
                {"Put": {"TableName": self.table, "Item": record}},
            ],
        )
        del context.new_threads[thread_id]
        # This request made the thread: it knows all of it without reading.
        turn.thread_id, turn.thread, turn.items, turn.all_items = thread_id, new_thread, [record], True

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        sk = item_sk(thread_id, item_id)
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
        key = {"user_id": {"S": context.user_id}, "sk": {"S": item_sk(thread_id, item_id)}}
        turn = context.turn
        if turn.thread_id == thread_id and turn.items is not None:
            turn.items = [r for r in turn.items if r["sk"] != key["sk"]]
        if turn.hold_writes:
            turn.held[key["sk"]["S"]] = {"DeleteRequest": {"Key": key}}
            return
        await call("delete_item", TableName=self.table, Key=key)

    def _fresh(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        """``item`` with its images' preview URLs signed anew (they expire; the bucket is private)."""
        if isinstance(item, UserMessageItem) and item.attachments:
            item.attachments = [self.fresh_attachment(a, context) for a in item.attachments]
        return item


def item_record(thread_id: str, item: ThreadItem, user_id: str) -> dict[str, Any]:
    """The record of an item: its key, its place in the thread's time order, the item as JSON."""
    return {
        "user_id": {"S": user_id},
        "sk": {"S": item_sk(thread_id, item.id)},
        "order_key": {"S": records.item_order_key(thread_id, item.created_at, item.id)},
        "thread_id": {"S": thread_id},
        "data": {"S": ITEM_ADAPTER.dump_json(item).decode()},
    }


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
    return ITEM_ADAPTER.validate_json(data)
