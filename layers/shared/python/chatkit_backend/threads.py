"""Which ChatKit threads belong to which user: the ThreadsTable service.

Items live under the caller's ``user_id`` partition and nowhere else, so every read and write
names that partition and a thread of another user is simply absent (404), never visible.
Listing uses the ``by_updated_at`` local index, newest first, one Query per page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chatkit_backend.aws import client
from chatkit_backend.cursor import decode_cursor, encode_cursor
from chatkit_backend.errors import InvalidInput, ThreadNotFound
from chatkit_backend.limits import (
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    THREAD_ID_MAX_CHARS,
    THREAD_TITLE_MAX_CHARS,
    forbidden_character,
)
from chatkit_backend.settings import EnvSettings, env

# Hosted ChatKit ids look like ``cthr_<hex>``, a self-hosted ChatKit server's like ``thr_<hex>``;
# both are URL-safe tokens. The bound keeps keys small and logs readable.
THREAD_ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{THREAD_ID_MAX_CHARS - 1}}}")
UPDATED_AT_INDEX = "by_updated_at"


@dataclass(frozen=True)
class ThreadsSettings(EnvSettings):
    table_name: str = env("THREADS_TABLE")


@dataclass(frozen=True)
class Thread:
    thread_id: str
    title: str | None
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class ThreadPage:
    threads: list[Thread]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"threads": [thread.to_dict() for thread in self.threads], "next_cursor": self.next_cursor}


def validate_thread_id(thread_id: object) -> str:
    """``thread_id`` if it is a ChatKit-shaped id; ``InvalidInput`` otherwise."""
    if not isinstance(thread_id, str) or not THREAD_ID_PATTERN.fullmatch(thread_id):
        raise InvalidInput(
            "thread_id is not valid: pass the ChatKit thread id (letters, digits, '_' or '-', "
            f"at most {THREAD_ID_MAX_CHARS} characters)."
        )
    return thread_id


def validate_title(title: object) -> str | None:
    """A thread title (a mapping's, or a ChatKit thread's), stripped; ``InvalidInput`` when it breaks a rule."""
    if title is None:
        return None
    if not isinstance(title, str) or not title.strip() or len(title) > THREAD_TITLE_MAX_CHARS:
        raise InvalidInput(f"title must be 1 to {THREAD_TITLE_MAX_CHARS} characters.")
    character = forbidden_character(title)
    if character is not None:
        raise InvalidInput(
            f"title contains the control character {character}; only newline and tab are allowed."
        )
    return title.strip()


def validate_limit(limit: object) -> int:
    if limit is None:
        return PAGE_LIMIT_DEFAULT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT_MAX:
        raise InvalidInput(f"limit must be a whole number from 1 to {PAGE_LIMIT_MAX}.")
    return limit


def now_iso() -> str:
    # Microseconds and a fixed width keep the strings sortable as the index's sort key.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ThreadService:
    """The thread mappings in one ThreadsTable; built once per container from the function's settings."""

    table: str

    def upsert_thread(
        self, user_id: str, thread_id: str, *, title: str | None = None, now: str | None = None
    ) -> Thread:
        """Record that ``thread_id`` is ``user_id``'s, touching ``updated_at``; keeps ``created_at``
        and, when ``title`` is None, the stored title."""
        thread_id = validate_thread_id(thread_id)
        title = validate_title(title)
        stamp = now or now_iso()
        update = "SET updated_at = :now, created_at = if_not_exists(created_at, :now)"
        values: dict[str, Any] = {":now": {"S": stamp}}
        if title is not None:
            update += ", title = :title"
            values[":title"] = {"S": title}
        response = client("dynamodb").update_item(
            TableName=self.table,
            Key={"user_id": {"S": user_id}, "thread_id": {"S": thread_id}},
            UpdateExpression=update,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return _thread(response["Attributes"])

    def list_threads(
        self, user_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> ThreadPage:
        """One page of ``user_id``'s threads, most recently updated first."""
        page_size = validate_limit(limit)
        start = decode_cursor(cursor, user_id)
        if start is not None and set(start) != {"user_id", "thread_id", "updated_at"}:
            raise InvalidInput(
                "cursor is not valid: pass the next_cursor value from the previous page unchanged."
            )
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": UPDATED_AT_INDEX,
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "ScanIndexForward": False,
            "Limit": page_size,
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        try:
            response = client("dynamodb").query(**request)
        except ClientError as error:
            # A cursor that decodes but names no real position (hand-edited values) lands here.
            if start is not None and error.response["Error"]["Code"] == "ValidationException":
                raise InvalidInput(
                    "cursor is not valid: pass the next_cursor value from the previous page unchanged."
                ) from None
            raise
        return ThreadPage(
            threads=[_thread(item) for item in response.get("Items", [])],
            next_cursor=encode_cursor(response.get("LastEvaluatedKey")),
        )

    def delete_thread(self, user_id: str, thread_id: str) -> None:
        """Forget ``user_id``'s mapping of ``thread_id``; ``ThreadNotFound`` if there is none."""
        thread_id = validate_thread_id(thread_id)
        dynamodb = client("dynamodb")
        try:
            dynamodb.delete_item(
                TableName=self.table,
                Key={"user_id": {"S": user_id}, "thread_id": {"S": thread_id}},
                ConditionExpression="attribute_exists(thread_id)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            raise ThreadNotFound(thread_id) from None


def _thread(item: dict[str, Any]) -> Thread:
    return Thread(
        thread_id=item["thread_id"]["S"],
        title=item["title"]["S"] if "title" in item else None,
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
    )
