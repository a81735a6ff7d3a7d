"""A user's data, taken out or erased: ``GET /api/me/export`` and ``DELETE /api/me``.

Everything this backend stores for a user sits in that user's partition (``user_id``) of four
tables, and in one prefix of the attachments bucket:

- TasksTable: the tasks;
- ThreadsTable: the hosted thread mappings (thread id, title) the frontend recorded before the
  2026-11-30 cutover; no function writes it any more, but a deployed table keeps its rows;
- ChatKitTable: ChatKit threads, their items, feedback, attachment records and marks of threads
  imported from hosted ChatKit (``chat.records`` has their keys);
- UsageTable: the usage counters (one item per day);
- the attachments bucket: the files, under ``users/<user id, percent-encoded>/``.

Every read and every delete names the caller's partition (or prefix) and nothing else, so no
other user's data is ever read or touched. Both operations page through the data themselves
and stop before the function's time runs out (or, for the export, before the answer outgrows
what API Gateway passes on), saying what was left: calling the erasure again finishes it (it is
idempotent: what is gone is not counted twice), and an export that stopped says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatkit_backend import limits
from chatkit_backend.aws.clients import BATCH_WRITE_SIZE, batch_write, client
from chatkit_backend.aws.deadline import Deadline, OutOfTime
from chatkit_backend.chat import records
from chatkit_backend.chat.attachment_keys import object_key, user_prefix
from chatkit_backend.settings import EnvSettings, env

# Stop starting new work this long before the function's own timeout.
TIME_MARGIN_SECONDS = 3.0
DOWNLOAD_URL_SECONDS = 900
QUERY_PAGE = 500
S3_DELETE_BATCH = 1000

# ChatKitTable's record kinds, by sort key prefix, as the export and the counts name them.
CHATKIT_KINDS = {
    records.THREAD: "chatkit_threads",
    records.ITEM: "chatkit_items",
    records.FEEDBACK: "feedback",
    records.ATTACHMENT: "attachments",
    records.HOSTED: "import_marks",
}


@dataclass(frozen=True)
class UserDataSettings(EnvSettings):
    tasks_table: str = env("TASKS_TABLE")
    threads_table: str = env("THREADS_TABLE")
    chatkit_table: str = env("CHATKIT_TABLE")
    usage_table: str = env("USAGE_TABLE")
    attachments_bucket: str = env("ATTACHMENTS_BUCKET")
    download_url_seconds: int = env("EXPORT_DOWNLOAD_URL_SECONDS", DOWNLOAD_URL_SECONDS)


@dataclass
class Erasure:
    """What one ``DELETE /api/me`` removed; ``complete`` False means call again for the rest."""

    removed: dict[str, int] = field(default_factory=dict)
    complete: bool = True
    left: list[str] = field(default_factory=list)

    def count(self, kind: str, n: int = 1) -> None:
        self.removed[kind] = self.removed.get(kind, 0) + n

    def to_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"complete": self.complete, "removed": self.removed}
        if self.left:
            answer["left"] = self.left
            answer["detail"] = (
                "Time ran out before everything was erased: send DELETE /api/me again to finish."
            )
        return answer


class UserData:
    """Export and erasure of one user's data across the tables and the bucket."""

    def __init__(self, settings: UserDataSettings) -> None:
        self.settings = settings

    # ---- export ----------------------------------------------------------------------------
    def export(self, user_id: str, deadline: Deadline) -> dict[str, Any]:
        """Everything stored for ``user_id`` as one JSON-ready document."""
        document: dict[str, Any] = {
            "user_id": user_id,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "complete": True,
            "tasks": [],
            "thread_mappings": [],
            "chatkit": {"threads": [], "feedback": [], "attachments": [], "imported_threads": []},
            "usage": [],
        }
        size = 0
        chatkit: dict[str, Any] = {"threads": {}, "items": {}, "feedback": [], "imported": []}
        attachments: list[dict[str, Any]] = []
        sections: list[tuple[str, str, Callable[[dict[str, Any]], None]]] = [
            ("tasks", self.settings.tasks_table, lambda r: document["tasks"].append(_task(r))),
            (
                "thread_mappings",
                self.settings.threads_table,
                lambda r: document["thread_mappings"].append(_mapping(r)),
            ),
            ("chatkit", self.settings.chatkit_table, lambda r: _chatkit_record(r, chatkit, attachments)),
            ("usage", self.settings.usage_table, lambda r: document["usage"].append(_usage_day(r))),
        ]
        left: list[str] = []
        for name, table, add in sections:
            if left:
                left.append(name)
                continue
            try:
                for record in self._records(table, user_id, deadline):
                    size += len(json.dumps(record, default=str))
                    if size > limits.EXPORT_MAX_BYTES:
                        raise OutOfTime()
                    add(_plain(record))
            except OutOfTime:
                left.append(name)
        threads = chatkit["threads"]
        for thread_id, items in chatkit["items"].items():
            items.sort(key=lambda item: str(item.get("created_at", "")) if isinstance(item, dict) else "")
            threads.setdefault(thread_id, {"id": thread_id})["items"] = items
        ordered = sorted(threads.values(), key=lambda thread: str(thread.get("created_at", "")))
        document["chatkit"] = {
            "threads": [{**thread, "items": thread.get("items", [])} for thread in ordered],
            "feedback": chatkit["feedback"],
            "attachments": [self._with_download_url(user_id, a) for a in attachments],
            "imported_threads": chatkit["imported"],
        }
        if left:
            document["complete"] = False
            document["left"] = left
            document["detail"] = (
                "The export stopped before the end (time or size): the sections in 'left' are missing "
                "or partial. Ask the operator for a full export of this account."
            )
        return document

    def _with_download_url(self, user_id: str, attachment: dict[str, Any]) -> dict[str, Any]:
        attachment = {k: v for k, v in attachment.items() if k not in ("upload_descriptor", "preview_url")}
        attachment_id = attachment.get("id")
        if not self.settings.attachments_bucket or not isinstance(attachment_id, str):
            return attachment
        expires = self.settings.download_url_seconds
        attachment["download_url"] = client("s3").generate_presigned_url(
            "get_object",
            Params={"Bucket": self.settings.attachments_bucket, "Key": object_key(user_id, attachment_id)},
            ExpiresIn=expires,
        )
        attachment["download_url_expires_at"] = datetime.fromtimestamp(time.time() + expires, UTC).isoformat(
            timespec="seconds"
        )
        return attachment

    # ---- erasure ---------------------------------------------------------------------------
    def erase(self, user_id: str, deadline: Deadline) -> Erasure:
        """Delete everything stored for ``user_id``; what is already gone counts nothing."""
        erasure = Erasure()
        steps: list[tuple[str, Callable[[], None]]] = [
            ("attachment files", lambda: self._erase_files(user_id, erasure, deadline)),
            (
                "chatkit",
                lambda: self._erase_table(
                    self.settings.chatkit_table, user_id, erasure, deadline, _chatkit_kind
                ),
            ),
            (
                "tasks",
                lambda: self._erase_table(
                    self.settings.tasks_table, user_id, erasure, deadline, lambda _: "tasks"
                ),
            ),
            (
                "thread_mappings",
                lambda: self._erase_table(
                    self.settings.threads_table, user_id, erasure, deadline, lambda _: "thread_mappings"
                ),
            ),
            (
                "usage",
                lambda: self._erase_table(
                    self.settings.usage_table, user_id, erasure, deadline, lambda _: "usage_counters"
                ),
            ),
        ]
        for name, step in steps:
            if erasure.left:
                erasure.left.append(name)
                continue
            try:
                step()
            except OutOfTime:
                erasure.left.append(name)
        erasure.complete = not erasure.left
        return erasure

    def _erase_table(
        self,
        table: str,
        user_id: str,
        erasure: Erasure,
        deadline: Deadline,
        kind: Callable[[dict[str, Any]], str],
    ) -> None:
        keys_of = self._key_names(table)
        for page in _pages(self._query(table, user_id, deadline, projection=keys_of)):
            for start in range(0, len(page), BATCH_WRITE_SIZE):
                deadline.check()
                chunk = page[start : start + BATCH_WRITE_SIZE]
                keys = [{name: record[name] for name in keys_of if name in record} for record in chunk]
                batch_write(table, [{"DeleteRequest": {"Key": key}} for key in keys])
                for record in chunk:
                    erasure.count(kind(record))

    def _erase_files(self, user_id: str, erasure: Erasure, deadline: Deadline) -> None:
        bucket = self.settings.attachments_bucket
        if not bucket:
            return
        s3 = client("s3")
        request: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": user_prefix(user_id),
            "MaxKeys": S3_DELETE_BATCH,
        }
        while True:
            deadline.check()
            response = s3.list_objects_v2(**request)
            keys = [{"Key": entry["Key"]} for entry in response.get("Contents", [])]
            if keys:
                deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                failed = deleted.get("Errors", [])
                if failed:
                    raise RuntimeError(f"S3 refused to delete {len(failed)} attachment files")
                erasure.count("attachment_files", len(keys))
            if not response.get("IsTruncated"):
                return
            request["ContinuationToken"] = response["NextContinuationToken"]

    def _key_names(self, table: str) -> tuple[str, str]:
        """The table's key attributes (the template's KeySchema)."""
        return (
            "user_id",
            {self.settings.tasks_table: "task_id", self.settings.threads_table: "thread_id"}.get(table, "sk"),
        )

    # ---- reading a partition ---------------------------------------------------------------
    def _records(self, table: str, user_id: str, deadline: Deadline) -> Iterator[dict[str, Any]]:
        for page in _pages(self._query(table, user_id, deadline)):
            yield from page

    @staticmethod
    def _query(
        table: str, user_id: str, deadline: Deadline, projection: tuple[str, ...] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of the user's partition of ``table``: one Query per page, never a scan."""
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "user_id = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "Limit": QUERY_PAGE,
        }
        if projection:
            request["ProjectionExpression"] = ", ".join(f"#k{i}" for i in range(len(projection)))
            request["ExpressionAttributeNames"] = {f"#k{i}": name for i, name in enumerate(projection)}
        while True:
            deadline.check()
            response = client("dynamodb").query(**request)
            yield response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _pages(pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    return (page for page in pages if page)


def _chatkit_kind(record: dict[str, Any]) -> str:
    sk = record.get("sk", {}).get("S", "")
    for prefix, kind in CHATKIT_KINDS.items():
        if sk.startswith(prefix):
            return kind
    return "other_chat_records"


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain JSON values."""
    return {name: _value(attribute) for name, attribute in value.items()}


def _value(attribute: dict[str, Any]) -> Any:
    ((kind, raw),) = attribute.items()
    if kind == "N":
        number = float(raw)
        return int(number) if number.is_integer() else number
    if kind == "M":
        return _plain(raw)
    if kind == "L":
        return [_value(entry) for entry in raw]
    if kind == "NULL":
        return None
    if kind in ("SS", "BS"):
        return list(raw)
    if kind == "NS":
        return [_value({"N": entry}) for entry in raw]
    return raw


def _task(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("user_id", "status_task_id")}


def _mapping(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "user_id"}


def _usage_day(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "day": str(record.get("sk", "")).removeprefix("day#"),
        **{k: record[k] for k in ("turns", "calls", "tokens_in", "tokens_out", "tokens") if k in record},
    }


def _chatkit_record(
    record: dict[str, Any], chatkit: dict[str, Any], attachments: list[dict[str, Any]]
) -> None:
    sk = str(record.get("sk", ""))
    data = _json(record.get("data"))
    if sk.startswith(records.THREAD):
        chatkit["threads"][sk.removeprefix(records.THREAD)] = data
    elif sk.startswith(records.ITEM):
        thread_id = str(record.get("thread_id") or sk.split("#")[1])
        chatkit["items"].setdefault(thread_id, []).append(data)
    elif sk.startswith(records.FEEDBACK):
        _, thread_id, item_id = (sk.split("#", 2) + ["", ""])[:3]
        entry = {"thread_id": thread_id, "item_id": item_id}
        entry.update({k: v for k, v in record.items() if k not in ("user_id", "sk", "data")})
        if isinstance(data, dict):
            entry.update(data)
        chatkit["feedback"].append(entry)
    elif sk.startswith(records.ATTACHMENT):
        attachment = data if isinstance(data, dict) else {}
        attachment.setdefault("id", sk.removeprefix(records.ATTACHMENT))
        if record.get("thread_id"):
            attachment.setdefault("thread_id", record["thread_id"])
        attachments.append(attachment)
    elif sk.startswith(records.HOSTED):
        chatkit["imported"].append({"thread_id": sk.removeprefix(records.HOSTED), "import": data})


def _json(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw
