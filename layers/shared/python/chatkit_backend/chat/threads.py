"""The user's threads behind ``/api/chatkit/threads``: ChatKit's own list, read without ChatKit.

The threads are the ChatKit server's (ChatKitTable), self-hosted and imported from hosted
ChatKit alike: the list is the page ``threads.list`` on ``POST /chatkit`` answers, in the same
order (newest first) with the same titles and the same cursor, and a deletion is the one
``threads.delete`` runs (``chat.records``). Every read and delete names the caller's partition,
so another user's thread is simply absent (404).

The store keeps when a thread was created, not when it was last written in (that would cost a
write on every turn): ``updated_at`` is the creation time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit_backend.chat import records
from chatkit_backend.errors import InvalidInput
from chatkit_backend.limits import PAGE_LIMIT_DEFAULT, THREAD_TITLE_MAX_CHARS, forbidden_character
from chatkit_backend.settings import EnvSettings, env


@dataclass(frozen=True)
class ThreadsSettings(EnvSettings):
    chatkit_table: str = env("CHATKIT_TABLE")
    # Where the chat's attachment files are, deleted with their thread.
    attachments_bucket: str = env("ATTACHMENTS_BUCKET")


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


# What PUT /api/chatkit/threads/{thread_id} answers (410 Gone): it recorded hosted threads.
PUT_GONE = (
    "PUT /api/chatkit/threads/{thread_id} is gone: the ChatKit server at POST /chatkit keeps every "
    "thread itself. List them with GET /api/chatkit/threads; POST /api/chatkit/session names the newest."
)


def validate_title(title: object) -> str | None:
    """A thread title, stripped; ``InvalidInput`` when it breaks a rule."""
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


@dataclass(frozen=True)
class ThreadService:
    """The user's threads in ChatKitTable; built once per container from the function's settings."""

    settings: ThreadsSettings

    def list_threads(
        self, user_id: str, *, limit: int = PAGE_LIMIT_DEFAULT, cursor: str | None = None
    ) -> ThreadPage:
        """One page of ``user_id``'s threads, newest first: one Query."""
        found, more = records.query_page(
            self.settings.chatkit_table, user_id, records.THREAD, limit, cursor, "desc"
        )
        return ThreadPage(
            threads=[_thread(record) for record in found],
            next_cursor=records.page_cursor(found[-1]) if more else None,
        )

    def delete_thread(self, user_id: str, thread_id: str) -> None:
        """The thread with its items, feedback and attachments; ``ThreadNotFound`` if there is none."""
        records.delete_thread(
            self.settings.chatkit_table, self.settings.attachments_bucket, user_id, thread_id
        )


def _thread(record: dict[str, Any]) -> Thread:
    # ``data`` is ChatKit's ThreadMetadata as JSON (id, title, created_at, status, metadata).
    data = json.loads(record["data"]["S"])
    created_at = _utc(data["created_at"])
    return Thread(thread_id=data["id"], title=data.get("title"), created_at=created_at, updated_at=created_at)


def _utc(moment: str) -> str:
    """An ISO time as UTC with a Z; ChatKit's own times are naive, in Lambda's local time (UTC)."""
    return records.stamp(datetime.fromisoformat(moment)) + "Z"
