"""What one ChatKit request knows as it runs: who asks, and its turn's copy of the thread.

ChatKit hands ``RequestContext`` to every store call and to the agent's tools. ``Turn`` is how one
chat turn reads and writes as little as it can (the store's module, ``chat.store.dynamodb``, says
how): the thread and its newest items as read once, and the writes the turn holds back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatkit.types import ThreadMetadata

from chatkit_backend.errors import DomainError
from chatkit_backend.tasks.service import TaskService

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
