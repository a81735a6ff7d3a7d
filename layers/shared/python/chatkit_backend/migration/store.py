"""ChatKitTable as the import writes it: the chat's store, plus each hosted thread's import mark."""

from __future__ import annotations

import json
from typing import Any

from chatkit.types import (
    ThreadItem,
    ThreadMetadata,
)

from chatkit_backend.chat import records
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.dynamodb import DynamoDBStore
from chatkit_backend.chat.store.items import item_record
from chatkit_backend.chat.store.table import check_thread_id
from chatkit_backend.chat.store.threads import thread_record


class ImportStore(DynamoDBStore):
    """The chat's store, plus what only the import writes: a thread's import mark
    (``hosted#<thread_id>``, ``data`` = where the last import stopped) and its items in batches."""

    async def load_import_mark(self, thread_id: str, context: RequestContext) -> dict[str, Any] | None:
        """Where the last import of this hosted thread stopped, or None if it was never imported."""
        check_thread_id(thread_id)
        record = await self._get(context.user_id, records.mark_sk(thread_id))
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
        requests = [{"PutRequest": {"Item": item_record(thread_id, item, context.user_id)}} for item in items]
        if thread is not None:
            record = thread_record(thread, context.user_id)
            if context.turn.thread_id == thread_id:
                context.turn.thread = record
            requests.append({"PutRequest": {"Item": record}})
        if mark is not None:
            record = {
                "user_id": {"S": context.user_id},
                "sk": {"S": records.mark_sk(thread_id)},
                "thread_id": {"S": thread_id},
                "data": {"S": json.dumps(mark, sort_keys=True)},
            }
            requests.append({"PutRequest": {"Item": record}})
        await self._write_batch(requests)
