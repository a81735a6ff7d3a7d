"""ChatKitTable as the store reads and writes it: one user's partition, one request at a time.

The base of every part of the store (threads, items, attachments, feedback): the table and the
attachment files, the DynamoDB calls (off the event loop), the writes a turn holds back, and the
checks that turn an id no record can have into ChatKit's ``NotFoundError``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Attachment, ImageAttachment
from pydantic import AnyUrl

from chatkit_backend.aws.clients import batch_write, client
from chatkit_backend.chat import records
from chatkit_backend.chat.records import accepts_id
from chatkit_backend.chat.store.context import AttachmentFiles, RequestContext


class StoreTable:
    """ChatKitTable and the attachment files, with the calls every part of the store shares."""

    def __init__(self, table: str, files: AttachmentFiles | None = None) -> None:
        self.table = table
        self.files = files

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
        await call("put_item", TableName=self.table, Item=record)

    async def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(batch_write, self.table, requests)

    async def _get(self, user_id: str, sk: str) -> dict[str, Any] | None:
        response = await call(
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

    def fresh_attachment(self, attachment: Attachment, context: RequestContext) -> Attachment:
        """``attachment`` with an image's preview URL signed anew (they expire; the bucket is private)."""
        if isinstance(attachment, ImageAttachment) and self.files is not None:
            url = AnyUrl(self.files.preview_url(context.user_id, attachment.id))
            return attachment.model_copy(update={"preview_url": url})
        return attachment


async def call(operation: str, **request: Any) -> dict[str, Any]:
    """One DynamoDB request, off the event loop so the SSE stream keeps flowing meanwhile."""
    return await asyncio.to_thread(getattr(client("dynamodb"), operation), **request)


def check_thread_id(value: str) -> None:
    if not accepts_id(value):
        raise NotFoundError(f"No thread with id '{str(value)[:128]}'.")


def thread_sk(thread_id: str) -> str:
    check_thread_id(thread_id)
    return records.thread_sk(thread_id)


def item_sk(thread_id: str, item_id: str) -> str:
    check_thread_id(thread_id)
    if not accepts_id(item_id):
        raise NotFoundError(f"No item with id '{str(item_id)[:128]}'.")
    return records.item_sk(thread_id, item_id)
