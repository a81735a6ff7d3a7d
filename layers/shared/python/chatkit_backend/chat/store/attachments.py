"""The store's attachment records: what a file is (name, type, its thread once sent), not its bytes.

Once a message carries an attachment its record also has ``thread_id`` and an ``order_key`` (so
deleting the thread finds its files with one Query); until then ``expires_at`` lets DynamoDB's
TTL drop the record of a file never sent, as the bucket's lifecycle rule drops the file. The
files themselves are in S3, behind ``AttachmentFiles``.
"""

from __future__ import annotations

import time
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Attachment
from pydantic import TypeAdapter

from chatkit_backend.chat import records
from chatkit_backend.chat.records import accepts_id
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.table import StoreTable, call, check_thread_id

_ATTACHMENT = TypeAdapter(Attachment)
# How long the record of an attachment never sent in a message is kept (the bucket's lifecycle
# rule removes the file after a day too).
PENDING_ATTACHMENT_SECONDS = 2 * 24 * 3600


class AttachmentRecords(StoreTable):
    """ChatKit's attachment methods of the store."""

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
            check_thread_id(attachment.thread_id)
            record["thread_id"] = {"S": attachment.thread_id}
            record["order_key"] = {"S": records.attachment_order_key(attachment.thread_id, attachment.id)}
            if self.files is not None:
                await self.files.mark_attached(context.user_id, attachment.id)
        else:
            record["expires_at"] = {"N": str(int(time.time()) + PENDING_ATTACHMENT_SECONDS)}
        await call("put_item", TableName=self.table, Item=record)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        _check_attachment_id(attachment_id)
        record = await self._get(context.user_id, records.attachment_sk(attachment_id))
        if record is None:
            raise NotFoundError(f"No attachment with id '{attachment_id[:128]}'.")
        return self.fresh_attachment(_ATTACHMENT.validate_json(record["data"]["S"]), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        _check_attachment_id(attachment_id)
        await call(
            "delete_item",
            TableName=self.table,
            Key={"user_id": {"S": context.user_id}, "sk": {"S": records.attachment_sk(attachment_id)}},
        )


def _check_attachment_id(value: str) -> None:
    if not accepts_id(value):
        raise NotFoundError(f"No attachment with id '{str(value)[:128]}'.")
