"""The store's feedback: one vote (positive or negative) per item and user; a second vote replaces the first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import FeedbackKind

from chatkit_backend.chat import records
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.table import StoreTable, call, item_sk
from chatkit_backend.errors import InvalidInput
from chatkit_backend.limits import FEEDBACK_ITEMS_MAX


class FeedbackRecords(StoreTable):
    """The store's ``save_feedback``, which ``ChatKitServer.add_feedback`` calls."""

    async def save_feedback(
        self, thread_id: str, item_ids: list[str], kind: FeedbackKind, context: RequestContext
    ) -> None:
        """One vote per item and user; every item must be in the caller's thread (else NotFound,
        and nothing is stored). Two requests: one BatchGetItem, one BatchWriteItem."""
        unique = list(dict.fromkeys(item_ids))
        if not unique or len(unique) > FEEDBACK_ITEMS_MAX:
            raise InvalidInput(f"item_ids must name 1 to {FEEDBACK_ITEMS_MAX} items of the thread.")
        keys = [
            {"user_id": {"S": context.user_id}, "sk": {"S": item_sk(thread_id, item_id)}}
            for item_id in unique
        ]
        found = await self._existing(keys)
        missing = [item_id for item_id in unique if item_sk(thread_id, item_id) not in found]
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
            response = await call("batch_get_item", RequestItems=pending)
            found.update(record["sk"]["S"] for record in response.get("Responses", {}).get(self.table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return found
            await asyncio.sleep(0.05 * 2**attempt)
        raise RuntimeError("DynamoDB left keys unprocessed five times")
