"""The store's threads: a thread's record (its ChatKit metadata as JSON), read, written, listed, deleted."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Page, ThreadMetadata

from chatkit_backend.chat import records
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.table import StoreTable, thread_sk
from chatkit_backend.errors import ThreadNotFound


class ThreadRecords(StoreTable):
    """ChatKit's thread methods of the store."""

    def generate_thread_id(self, context: RequestContext) -> str:
        thread_id = f"thr_{uuid.uuid4().hex}"
        context.new_threads[thread_id] = None
        return thread_id

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
        sk = thread_sk(thread_id)
        await self.flush(context)
        if turn.history:
            thread, (newest, more) = await asyncio.gather(
                self._get(context.user_id, sk),
                self._query_page(context.user_id, records.item_sk(thread_id, ""), turn.history, None, "desc"),
            )
            turn.items, turn.all_items = list(reversed(newest)), not more
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
        record = thread_record(metadata, context.user_id)
        if context.turn.thread_id == metadata.id:
            context.turn.thread = record
        await self._put(record, context)

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


def thread_record(metadata: ThreadMetadata, user_id: str) -> dict[str, Any]:
    """The record of a thread: its key, its place in the time order, its metadata as JSON."""
    return {
        "user_id": {"S": user_id},
        "sk": {"S": thread_sk(metadata.id)},
        "order_key": {"S": records.thread_order_key(metadata.created_at, metadata.id)},
        "thread_id": {"S": metadata.id},
        "data": {"S": metadata.model_dump_json()},
    }
