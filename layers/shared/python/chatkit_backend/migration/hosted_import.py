"""Hosted ChatKit threads into ChatKitTable: what `make import-hosted-threads` and
ImportHostedThreadsFunction run.

Threads made through hosted ChatKit sessions (Agent Builder workflows) live at OpenAI. This
module reads them with the project's key through the ``openai`` SDK's ChatKit threads API
(``client.beta.chatkit.threads.list`` / ``list_items``, header ``OpenAI-Beta: chatkit_beta=v1``)
and writes each one into the self-hosted store, so ``POST /chatkit`` shows it to its owner:

- The owner is the hosted thread's ``user``: the ``user`` the session route passed, our user_id.
- The thread keeps its hosted id (``cthr_...``), title, status and ``created_at``. Items keep
  their ids, their order and their ``created_at``; items of one second (the API's resolution)
  are set apart by a microsecond per position, so the store's time order is the hosted order.
- Each item becomes the ``openai-chatkit`` item that shows the same thing (``convert_item``).
  One that cannot be converted is counted and logged by its type, never dropped in silence.
- Idempotent and resumable: an import mark per thread (``ImportStore``) records where the last
  import stopped. A rerun re-reads from the last imported item on, writes only what is new or
  changed, and leaves alone a thread the user deleted here since.
- A 429 or 5XX is retried with backoff, honouring ``Retry-After``; a thread that still fails is
  counted and the others go on. Threads are imported a few at a time, pages of threads in order,
  so a run cut short by the Lambda time limit returns a continuation token to resume from.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import openai
from chatkit.store import NotFoundError
from chatkit.types import (
    ActiveStatus,
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    ClosedStatus,
    CustomTask,
    FileAttachment,
    FileSource,
    InferenceOptions,
    LockedStatus,
    TaskItem,
    ThoughtTask,
    ThreadItem,
    ThreadMetadata,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import WidgetRoot
from openai.types.beta.chatkit import ChatKitThread
from openai.types.beta.chatkit.chatkit_thread_assistant_message_item import ChatKitThreadAssistantMessageItem
from openai.types.beta.chatkit.chatkit_thread_item_list import (
    Data as HostedItem,
)
from openai.types.beta.chatkit.chatkit_thread_item_list import (
    DataChatKitClientToolCall,
    DataChatKitTask,
    DataChatKitTaskGroup,
)
from openai.types.beta.chatkit.chatkit_thread_user_message_item import ChatKitThreadUserMessageItem
from openai.types.beta.chatkit.chatkit_widget_item import ChatKitWidgetItem
from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from chatkit_backend import limits
from chatkit_backend.aws.secrets import SecretCache
from chatkit_backend.chat import records
from chatkit_backend.chat.records import accepts_id
from chatkit_backend.chat.store import IMPORTED_METADATA, DynamoDBStore, RequestContext
from chatkit_backend.errors import InvalidInput
from chatkit_backend.observability.logs import logger
from chatkit_backend.openai_api.key import openai_api_key
from chatkit_backend.openai_api.retry import retry_after
from chatkit_backend.settings import EnvSettings, env

# The API's page ceiling, for threads and for items alike.
PAGE_SIZE = 100
# Threads imported at once: enough to hide OpenAI's latency, few enough to stay polite.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16
# Per OpenAI request. The SDK's own retries are off (max_retries=0): ours below honour
# Retry-After of any length, know the Lambda deadline, pause every task after a 429, and log.
REQUEST_TIMEOUT = openai.Timeout(30.0, connect=5.0)
MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 600.0
# No thread is started with less than this left before the deadline (one thread of a few
# hundred items takes seconds), and no retry waits into the last of it.
START_MARGIN_SECONDS = 120.0
RETRY_MARGIN_SECONDS = 30.0
# The authorizer's limit on a token's sub: a longer hosted user could never sign in here.
MAX_USER_ID_CHARS = 256
TOKEN_VERSION = 1

_WIDGET = TypeAdapter(WidgetRoot)
_ITEM = TypeAdapter(ThreadItem)
T = TypeVar("T")


# ---- the store, with the import marks -----------------------------------------------------
class ImportStore(DynamoDBStore):
    """The chat's store, plus what only the import writes: a thread's import mark
    (``hosted#<thread_id>``, ``data`` = where the last import stopped) and its items in batches."""

    async def load_import_mark(self, thread_id: str, context: RequestContext) -> dict[str, Any] | None:
        """Where the last import of this hosted thread stopped, or None if it was never imported."""
        if not accepts_id(thread_id):
            raise NotFoundError(f"No thread with id '{str(thread_id)[:128]}'.")
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
        requests = [{"PutRequest": {"Item": self._item_record(thread_id, item, context)}} for item in items]
        if thread is not None:
            record = self._thread_record(thread, context)
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


# ---- converting one hosted thread or item -----------------------------------------------
class NotConvertible(Exception):
    """A hosted thread or item has no faithful counterpart here; the message says why."""


def convert_thread(hosted: ChatKitThread) -> ThreadMetadata:
    """The self-hosted thread for ``hosted``: same id, title, status and creation time."""
    owner(hosted)
    if not accepts_id(hosted.id):
        raise NotConvertible("its id is not one the store accepts")
    status = hosted.status
    return ThreadMetadata(
        id=hosted.id,
        title=_title(hosted.title),
        created_at=datetime.fromtimestamp(hosted.created_at, UTC),
        status=(
            LockedStatus(reason=status.reason)
            if status.type == "locked"
            else ClosedStatus(reason=status.reason)
            if status.type == "closed"
            else ActiveStatus()
        ),
        metadata=dict(IMPORTED_METADATA),
    )


def _title(title: str | None) -> str | None:
    """The hosted title within this API's title rules: no control characters, at most 200 characters."""
    if title is None:
        return None
    clean = " ".join("".join(" " if limits.forbidden_character(c) else c for c in title).split())
    if len(clean) > limits.THREAD_TITLE_MAX_CHARS:
        clean = clean[: limits.THREAD_TITLE_MAX_CHARS - 1].rstrip() + "…"
    return clean or None


def owner(hosted: ChatKitThread) -> str:
    """The user_id that owns the thread here: the hosted thread's ``user``."""
    user = hosted.user
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_ID_CHARS:
        raise NotConvertible(
            f"its user is not a user id this API accepts (1 to {MAX_USER_ID_CHARS} characters)"
        )
    return user


def item_time(created_at: int, position: int) -> datetime:
    """When the item at ``position`` (0-based, in hosted order) was created, as stored here.

    The API gives whole seconds, and a turn's items often share one. Adding the position in
    microseconds keeps their order: created_at never decreases along the thread and the position
    always grows, so the sum always grows; the shift (a millisecond per thousand items) is far
    below what any client shows.
    """
    return datetime.fromtimestamp(created_at, UTC) + timedelta(microseconds=position)


def convert_item(hosted: HostedItem, thread_id: str, created_at: datetime) -> ThreadItem:
    """The ``openai-chatkit`` item that shows what ``hosted`` showed; ``NotConvertible`` if none does."""
    if not accepts_id(hosted.id):
        raise NotConvertible("its id is not one the store accepts")
    base = {"id": hosted.id, "thread_id": thread_id, "created_at": created_at}
    try:
        item: ThreadItem
        if isinstance(hosted, ChatKitThreadUserMessageItem):
            item = _user_message(hosted, base)
        elif isinstance(hosted, ChatKitThreadAssistantMessageItem):
            item = AssistantMessageItem(**base, content=[_output_text(part) for part in hosted.content])
        elif isinstance(hosted, ChatKitWidgetItem):
            item = WidgetItem(**base, widget=_widget(hosted.widget))
        elif isinstance(hosted, DataChatKitClientToolCall):
            item = _client_tool_call(hosted, base)
        elif isinstance(hosted, DataChatKitTask):
            item = TaskItem(**base, task=_task(hosted.task_type, hosted.heading, hosted.summary))
        elif isinstance(hosted, DataChatKitTaskGroup):
            tasks = [_task(task.type, task.heading, task.summary) for task in hosted.tasks]
            reasoning = bool(tasks) and all(task.type == "thought" for task in hosted.tasks)
            # No summary: the API gives no duration to put in one. Expanded, as the group listed
            # its tasks; ChatKit collapses only the workflows it ends itself.
            workflow = Workflow(type="reasoning" if reasoning else "custom", tasks=tasks, expanded=True)
            item = WorkflowItem(**base, workflow=workflow)
        else:
            raise NotConvertible(f"no ChatKit item shows a {getattr(hosted, 'type', type(hosted).__name__)}")
        # What the store will write must fit one DynamoDB item and read back as the same item.
        stored = _ITEM.dump_json(item)
        if len(stored) > limits.IMPORTED_ITEM_MAX_BYTES:
            raise NotConvertible(
                f"it is {len(stored) // 1024} KiB as JSON, over the {limits.IMPORTED_ITEM_MAX_BYTES // 1024} KiB a stored item may hold"
            )
        return _ITEM.validate_json(stored)
    except PydanticSerializationError:
        raise NotConvertible("its text holds characters that cannot be stored (lone surrogates)") from None
    except ValidationError as error:
        problem = error.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"]) or "item"
        raise NotConvertible(f"{where}: {problem['msg']}") from None


def _user_message(hosted: ChatKitThreadUserMessageItem, base: dict[str, Any]) -> UserMessageItem:
    texts = [part.text for part in hosted.content if part.type == "input_text"]
    quotes = [part.text for part in hosted.content if part.type == "quoted_text"]
    options = hosted.inference_options
    return UserMessageItem(
        **base,
        content=[UserMessageTextContent(text=text) for text in texts],
        # ChatKit keeps one quote per message; hosted messages carry at most one in practice.
        quoted_text="\n\n".join(quotes) or None,
        # Names and types only: the files stay with OpenAI (docs/migration.md). A file attachment
        # either way, since an image's preview URL pointed at OpenAI's storage.
        attachments=[
            FileAttachment(
                id=attachment.id,
                name=attachment.name,
                mime_type=attachment.mime_type,
                thread_id=base["thread_id"],
                metadata={**IMPORTED_METADATA, "hosted_type": attachment.type},
            )
            for attachment in hosted.attachments
        ],
        inference_options=InferenceOptions(
            model=options.model if options else None,
            tool_choice=ToolChoice(id=options.tool_choice.id) if options and options.tool_choice else None,
        ),
    )


def _output_text(part: Any) -> AssistantMessageContent:
    annotations = []
    for annotation in part.annotations:
        source = annotation.source
        if source.type == "file":
            annotations.append(Annotation(source=FileSource(filename=source.filename, title=source.filename)))
        else:
            annotations.append(Annotation(source=URLSource(url=source.url, title=source.url)))
    return AssistantMessageContent(text=part.text, annotations=annotations)


def _widget(serialized: str) -> Any:
    try:
        root = json.loads(serialized)
    except ValueError:
        raise NotConvertible("the widget is not JSON") from None
    if not isinstance(root, dict):
        raise NotConvertible("the widget is not a JSON object")
    try:
        return _WIDGET.validate_python(root)
    except ValidationError:
        raise NotConvertible(
            f"ChatKit's widget model does not accept a {str(root.get('type'))[:40]!r} root"
        ) from None


def _client_tool_call(hosted: DataChatKitClientToolCall, base: dict[str, Any]) -> ClientToolCallItem:
    try:
        arguments = json.loads(hosted.arguments)
    except ValueError:
        raise NotConvertible("its arguments are not JSON") from None
    if not isinstance(arguments, dict):
        raise NotConvertible("its arguments are not a JSON object")
    output: Any = hosted.output
    if output is not None:
        try:
            output = json.loads(output)
        except ValueError:
            pass  # plain text output: kept as the text it was
    return ClientToolCallItem(
        **base,
        call_id=hosted.call_id,
        name=hosted.name,
        arguments=arguments,
        output=output,
        status="completed" if hosted.status == "completed" else "pending",
    )


def _task(kind: str, heading: str | None, summary: str | None) -> CustomTask | ThoughtTask:
    if kind == "thought":
        return ThoughtTask(title=heading, content=summary or "")
    return CustomTask(title=heading, content=summary)


# ---- what a run asks for and reports ------------------------------------------------------
@dataclass(frozen=True)
class ImportRequest:
    """One invocation's input: which threads, whether to write, and where to resume."""

    user: str | None = None
    dry_run: bool = False
    after: str | None = None  # the hosted thread id the previous invocation got to
    totals: dict[str, Any] = field(default_factory=dict)  # carried across invocations

    @classmethod
    def from_event(cls, event: Any) -> ImportRequest:
        """``{"user"?, "dry_run"?, "continuation"?}``; ``InvalidInput`` naming what is wrong."""
        if event is None:
            event = {}
        if not isinstance(event, dict):
            raise InvalidInput('The event must be a JSON object: {"user"?, "dry_run"?, "continuation"?}.')
        unknown = sorted(set(event) - {"user", "dry_run", "continuation"})
        if unknown:
            raise InvalidInput(
                f"Unknown field(s) {', '.join(unknown)}: the event takes user, dry_run and continuation."
            )
        user = event.get("user")
        if user is not None and (
            not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_ID_CHARS
        ):
            raise InvalidInput(f"user must be a user id: a string of 1 to {MAX_USER_ID_CHARS} characters.")
        dry_run = event.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise InvalidInput("dry_run must be true or false.")
        token = event.get("continuation")
        if token is None:
            return cls(user=user, dry_run=dry_run)
        resumed = cls.from_token(token)
        if ("user" in event and user != resumed.user) or ("dry_run" in event and dry_run != resumed.dry_run):
            raise InvalidInput(
                "user and dry_run must match the run the continuation came from (or be left out)."
            )
        return resumed

    @classmethod
    def from_token(cls, token: Any) -> ImportRequest:
        invalid = InvalidInput("continuation is not a token this import returned: pass it back unchanged.")
        if not isinstance(token, str) or not 0 < len(token) <= 4096:
            raise invalid
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        except (ValueError, binascii.Error):
            raise invalid from None
        if not isinstance(state, dict) or state.get("v") != TOKEN_VERSION:
            raise invalid
        user, dry_run, after, totals = (
            state.get("user"),
            state.get("dry_run"),
            state.get("after"),
            state.get("totals"),
        )
        if not (user is None or isinstance(user, str)) or not isinstance(dry_run, bool):
            raise invalid
        if not (after is None or isinstance(after, str)) or not isinstance(totals, dict):
            raise invalid
        return cls(user=user, dry_run=dry_run, after=after, totals=totals)

    def token(self, after: str | None, totals: Totals) -> str:
        state = {
            "v": TOKEN_VERSION,
            "user": self.user,
            "dry_run": self.dry_run,
            "after": after,
            "totals": totals.as_dict(),
        }
        return (
            base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
        )


ThreadStatus = Literal["imported", "updated", "unchanged", "skipped", "failed"]


@dataclass
class ThreadOutcome:
    """What happened to one hosted thread."""

    thread_id: str
    user_id: str
    status: ThreadStatus = "failed"
    items_imported: int = 0
    items_unchanged: int = 0
    items_failed: Counter[str] = field(default_factory=Counter)  # by hosted item type
    reason: str = ""

    def line(self, dry_run: bool = False) -> str:
        """One progress line, for a person watching; no titles or texts (they are the user's)."""
        verb = (
            f"would be {self.status}" if dry_run and self.status in ("imported", "updated") else self.status
        )
        parts = [f"thread {self.thread_id} (user {self.user_id}): {verb}"]
        if self.items_imported or self.items_unchanged or self.items_failed:
            items = f"{self.items_imported} items {'to import' if dry_run else 'imported'}, {self.items_unchanged} already here"
            if self.items_failed:
                items += ", " + _by_type(self.items_failed) + " not convertible"
            parts.append(items)
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)


@dataclass
class Totals:
    """Counts over a run (and over the invocations a continuation chains)."""

    threads: Counter[str] = field(default_factory=Counter)  # by ThreadStatus
    items_imported: int = 0
    items_unchanged: int = 0
    items_failed: Counter[str] = field(default_factory=Counter)  # not convertible, by hosted type

    def add(self, outcome: ThreadOutcome) -> None:
        self.threads[outcome.status] += 1
        self.items_imported += outcome.items_imported
        self.items_unchanged += outcome.items_unchanged
        self.items_failed.update(outcome.items_failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "threads": {
                status: self.threads[status]
                for status in ("imported", "updated", "unchanged", "skipped", "failed")
            },
            "items": {
                "imported": self.items_imported,
                "skipped": self.items_unchanged,
                "failed": sum(self.items_failed.values()),
                "failed_by_type": dict(sorted(self.items_failed.items())),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Totals:
        totals = cls()
        try:
            totals.threads.update({str(k): int(v) for k, v in (data.get("threads") or {}).items()})
            items = data.get("items") or {}
            totals.items_imported = int(items.get("imported", 0))
            totals.items_unchanged = int(items.get("skipped", 0))
            totals.items_failed.update(
                {str(k): int(v) for k, v in (items.get("failed_by_type") or {}).items()}
            )
        except (AttributeError, TypeError, ValueError):
            raise InvalidInput(
                "continuation is not a token this import returned: pass it back unchanged."
            ) from None
        return totals

    def summary(self, dry_run: bool = False) -> str:
        t = self.threads
        text = (
            f"threads: {t['imported']} imported, {t['updated']} updated, {t['unchanged']} unchanged, "
            f"{t['skipped']} skipped, {t['failed']} failed; "
            f"items: {self.items_imported} imported, {self.items_unchanged} skipped (already here), "
            f"{sum(self.items_failed.values())} failed"
        )
        if self.items_failed:
            text += f" ({_by_type(self.items_failed)}: not convertible)"
        return text + (" [dry run: nothing was written]" if dry_run else "")


def _by_type(counts: Counter[str]) -> str:
    return ", ".join(f"{kind} ×{count}" for kind, count in sorted(counts.items()))


@dataclass
class RunResult:
    totals: Totals
    dry_run: bool
    continuation: str | None = None  # None: every thread was visited
    error: str | None = None  # the run stopped on something no retry fixes (a refused key)

    @property
    def done(self) -> bool:
        return self.continuation is None and self.error is None

    def as_dict(self) -> dict[str, Any]:
        """The function's answer: pass ``continuation`` back until ``done``."""
        return {
            "done": self.done,
            "continuation": self.continuation,
            "dry_run": self.dry_run,
            "totals": self.totals.as_dict(),
            "summary": self.totals.summary(self.dry_run),
            **({"error": self.error} if self.error else {}),
        }


# ---- talking to OpenAI ------------------------------------------------------------------
class OutOfTime(Exception):
    """The deadline is too close to start (or keep waiting on) this work; a continuation resumes it."""


class GarbledAnswer(Exception):
    """OpenAI answered 200 with something that is not its API's answer (a proxy's page, a
    document cut short): the SDK hands back the text of a body that is not JSON, or fails to read it."""

    def __init__(self, what: str) -> None:
        super().__init__(f"OpenAI answered {what} with something else than its API's answer")


class Deadline:
    """Time left in this invocation; none locally (``make import-hosted-threads`` runs to the end)."""

    def __init__(self, remaining_ms: Callable[[], int] | None = None) -> None:
        self._remaining_ms = remaining_ms

    def remaining(self) -> float:
        return math.inf if self._remaining_ms is None else self._remaining_ms() / 1000.0


class HostedApi:
    """OpenAI's ChatKit threads API through the SDK (its own pagination), with our retries."""

    def __init__(self, client: openai.AsyncOpenAI, deadline: Deadline) -> None:
        self.client = client
        self.deadline = deadline
        # After a 429 every task waits until then: one Retry-After pauses the whole run.
        self._not_before = 0.0

    async def list_threads(self, user: str | None, after: str | None) -> Any:
        query: dict[str, Any] = {"limit": PAGE_SIZE, "order": "asc"}
        if user is not None:
            query["user"] = user
        if after is not None:
            query["after"] = after
        return await self.call("list threads", lambda: self.client.beta.chatkit.threads.list(**query))

    async def list_items(self, thread_id: str, after: str | None) -> Any:
        query: dict[str, Any] = {"limit": PAGE_SIZE, "order": "asc"}
        if after is not None:
            query["after"] = after
        return await self.call(
            f"list items of {thread_id}",
            lambda: self.client.beta.chatkit.threads.list_items(thread_id, **query),
        )

    async def next_page(self, page: Any, what: str) -> Any:
        return await self.call(what, page.get_next_page)

    async def call(self, what: str, request: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            pause = self._not_before - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                answer = await request()
            except (ValueError, AttributeError, TypeError) as error:
                raise GarbledAnswer(what) from error
            except openai.APIError as error:
                if not _retryable(error) or attempt >= MAX_ATTEMPTS:
                    raise
                delay, told = _retry_delay(error, attempt)
                if self.deadline.remaining() - delay < RETRY_MARGIN_SECONDS:
                    raise OutOfTime(
                        f"{what}: OpenAI asked to wait {delay:.0f} s, past this invocation's time"
                    ) from error
                if getattr(error, "status_code", None) == 429:
                    self._not_before = max(self._not_before, time.monotonic() + delay)
                logger.warning(
                    "OpenAI did not answer %s; retrying in %.1f s",
                    what,
                    delay,
                    extra={"upstream_status": _status(error), "attempt": attempt, "retry_after": told},
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if isinstance(answer, str):
                raise GarbledAnswer(what)
            return answer


def _status(error: openai.APIError) -> str:
    code = getattr(error, "status_code", None)
    return str(code) if code is not None else type(error).__name__


def _retryable(error: openai.APIError) -> bool:
    if isinstance(error, openai.APIConnectionError):  # includes timeouts
        return True
    code = getattr(error, "status_code", None)
    if code == 429:
        # Out of quota is a 429 too, and waiting does not end it.
        return getattr(error, "code", None) != "insufficient_quota"
    return code in (408, 409) or (isinstance(code, int) and code >= 500)


def _retry_delay(error: openai.APIError, attempt: int) -> tuple[float, bool]:
    """Seconds to wait before the next attempt, and whether OpenAI said so (Retry-After)."""
    response = getattr(error, "response", None)
    told = retry_after(response.headers) if response is not None else None
    if told is not None:
        return min(told, MAX_RETRY_AFTER_SECONDS), True
    backoff = min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    return backoff * (0.75 + random.random() / 4), False


def _fatal(error: BaseException) -> str | None:
    """Why the whole run must stop (the same answer would come for every thread), or None."""
    if isinstance(error, openai.AuthenticationError):
        return "OpenAI refused the API key (401). Put a valid key in OpenAIApiKeySecret and run again."
    if isinstance(error, openai.PermissionDeniedError):
        return "OpenAI refused this key access to ChatKit threads (403): use a key of the project the threads belong to."
    if isinstance(error, openai.RateLimitError) and getattr(error, "code", None) == "insufficient_quota":
        return "OpenAI answered that the project is out of quota (429 insufficient_quota)."
    return None


# ---- the import -------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportSettings(EnvSettings):
    chatkit_table: str = env("CHATKIT_TABLE")
    openai_api_key_secret_arn: str = env("OPENAI_API_KEY_SECRET_ARN")
    # The OpenAI SDK's own variable; empty means api.openai.com.
    openai_base_url: str = env("OPENAI_BASE_URL")
    concurrency: int = env("IMPORT_CONCURRENCY", DEFAULT_CONCURRENCY)

    @classmethod
    def from_env(cls) -> ImportSettings:
        settings = super().from_env()
        if not 1 <= settings.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"IMPORT_CONCURRENCY must be 1 to {MAX_CONCURRENCY}, got {settings.concurrency}")
        return settings


Progress = Callable[[ThreadOutcome], None]


class HostedImport:
    """Imports hosted threads into the store; one instance per container."""

    def __init__(self, settings: ImportSettings, secrets: SecretCache | None = None) -> None:
        self.settings = settings
        self.secrets = secrets or SecretCache()
        self.store = ImportStore(settings.chatkit_table)

    def run(
        self, request: ImportRequest, deadline: Deadline | None = None, progress: Progress | None = None
    ) -> RunResult:
        return asyncio.run(self.run_async(request, deadline or Deadline(), progress))

    async def run_async(
        self, request: ImportRequest, deadline: Deadline, progress: Progress | None = None
    ) -> RunResult:
        """Visit the threads after ``request.after``, page by page, until done or out of time."""
        api_key = openai_api_key(self.secrets, self.settings.openai_api_key_secret_arn)
        totals = Totals.from_dict(request.totals)
        after = request.after
        client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.settings.openai_base_url or None,
            max_retries=0,
            timeout=REQUEST_TIMEOUT,
        )
        api = HostedApi(client, deadline)
        try:
            page = await api.list_threads(request.user, after)
            while True:
                outcomes = await self._import_page(api, list(page.data), request.dry_run, deadline, progress)
                for hosted, outcome in zip(page.data, outcomes):
                    if outcome is None:  # not started or cut short: the continuation starts here
                        return RunResult(totals, request.dry_run, continuation=request.token(after, totals))
                    totals.add(outcome)
                    after = hosted.id
                if not page.has_next_page():
                    return RunResult(totals, request.dry_run)
                if deadline.remaining() < START_MARGIN_SECONDS:
                    return RunResult(totals, request.dry_run, continuation=request.token(after, totals))
                page = await api.next_page(page, "list threads")
        except OutOfTime:
            return RunResult(totals, request.dry_run, continuation=request.token(after, totals))
        except openai.APIError as error:
            reason = _fatal(error) or (
                f"OpenAI did not list the threads ({_status(error)}) in {MAX_ATTEMPTS} attempts; run again to resume."
                if _retryable(error)
                else f"OpenAI refused to list the threads ({_status(error)})."
            )
            logger.error("hosted import stopped", extra={"reason": reason, "after": after})
            return RunResult(totals, request.dry_run, continuation=request.token(after, totals), error=reason)
        except GarbledAnswer as garbled:
            reason = f"{garbled}; run again to resume."
            logger.error("hosted import stopped", extra={"reason": reason, "after": after})
            return RunResult(totals, request.dry_run, continuation=request.token(after, totals), error=reason)
        except _Fatal as stop:
            logger.error("hosted import stopped", extra={"reason": str(stop), "after": after})
            return RunResult(
                totals, request.dry_run, continuation=request.token(after, totals), error=str(stop)
            )
        finally:
            await client.close()

    async def _import_page(
        self,
        api: HostedApi,
        threads: list[ChatKitThread],
        dry_run: bool,
        deadline: Deadline,
        progress: Progress | None,
    ) -> list[ThreadOutcome | None]:
        """Each thread's outcome, in page order; None for one not started or cut short."""
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(hosted: ChatKitThread) -> ThreadOutcome | None:
            async with gate:
                if deadline.remaining() < START_MARGIN_SECONDS:
                    return None
                outcome = await self.import_thread(api, hosted, dry_run)
            if outcome is not None and progress is not None:
                progress(outcome)
            return outcome

        results = await asyncio.gather(*(one(hosted) for hosted in threads), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):  # a _Fatal: the others are done or cut short
                raise result
        return list(results)  # type: ignore[arg-type]

    async def import_thread(
        self, api: HostedApi, hosted: ChatKitThread, dry_run: bool
    ) -> ThreadOutcome | None:
        """Import one thread; never raises for this thread's own trouble (it is the outcome)."""
        outcome = ThreadOutcome(thread_id=hosted.id, user_id=str(hosted.user)[:MAX_USER_ID_CHARS])
        try:
            await self._import_thread(api, hosted, dry_run, outcome)
        except OutOfTime:
            return None
        except NotConvertible as error:
            outcome.status, outcome.reason = "failed", f"not imported: {error}"
        except openai.NotFoundError:
            outcome.status, outcome.reason = "skipped", "gone from OpenAI since it was listed"
        except GarbledAnswer as garbled:
            outcome.status, outcome.reason = "failed", f"{garbled}; run again to retry"
        except openai.APIError as error:
            fatal = _fatal(error)
            if fatal:
                raise _Fatal(fatal) from error
            outcome.status, outcome.reason = (
                "failed",
                f"OpenAI did not answer ({_status(error)}); run again to retry",
            )
        except Exception as error:  # noqa: BLE001 - one thread's surprise must not stop the others; logged with its traceback
            logger.exception("importing a hosted thread failed", extra={"thread_id": hosted.id})
            outcome.status, outcome.reason = "failed", f"{type(error).__name__}; run again to retry"
        log = logger.warning if outcome.status == "failed" or outcome.items_failed else logger.info
        log(
            "hosted thread %s",
            outcome.status,
            extra={
                "thread_id": outcome.thread_id,
                "user_id": outcome.user_id,
                "items_imported": outcome.items_imported,
                "items_unchanged": outcome.items_unchanged,
                "items_failed": dict(outcome.items_failed),
                "reason": outcome.reason,
                "dry_run": dry_run,
            },
        )
        return outcome

    async def _import_thread(
        self, api: HostedApi, hosted: ChatKitThread, dry_run: bool, outcome: ThreadOutcome
    ) -> None:
        thread = convert_thread(hosted)
        context = RequestContext(user_id=owner(hosted))
        mark, existing = await asyncio.gather(
            self.store.load_import_mark(hosted.id, context), self._load_thread(hosted.id, context)
        )
        if mark is not None and existing is None:
            outcome.status, outcome.reason = "skipped", "deleted here after an earlier import; left deleted"
            return

        # Re-read from the last item imported (it may have changed since: a tool call completed),
        # so its predecessor is where listing resumes.
        resume_after: str | None = mark["resume_after"] if mark else None
        position: int = mark["resume_position"] if mark else 0
        known: int = mark["items"] if mark else 0
        previous, last = resume_after, None
        pending: list[ThreadItem] = []
        page = await api.list_items(hosted.id, resume_after)
        while True:
            for hosted_item in page.data:
                try:
                    item = convert_item(hosted_item, hosted.id, item_time(hosted_item.created_at, position))
                except NotConvertible as error:
                    kind = getattr(hosted_item, "type", "unknown")
                    outcome.items_failed[kind] += 1
                    logger.warning(
                        "hosted item not convertible",
                        extra={
                            "thread_id": hosted.id,
                            "item_id": hosted_item.id,
                            "item_type": kind,
                            "reason": str(error),
                        },
                    )
                else:
                    if position < known and await self._stored_as(hosted.id, item, context):
                        outcome.items_unchanged += 1
                    else:
                        pending.append(item)
                position += 1
                if last is not None:
                    previous = last
                last = hosted_item.id
            if not dry_run and len(pending) >= PAGE_SIZE:
                await self.store.save_imported(hosted.id, pending, context)
                outcome.items_imported += len(pending)
                pending = []
            if not page.has_next_page():
                break
            page = await api.next_page(page, f"list items of {hosted.id}")

        new_mark = dict(mark) if mark else {}
        if last is not None:
            new_mark.update(resume_after=previous, resume_position=position - 1, items=position)
        new_mark.setdefault("resume_after", None)
        new_mark.setdefault("resume_position", 0)
        new_mark.setdefault("items", 0)
        new_mark["title"] = thread.title
        retitled: ThreadMetadata | None = None
        if existing is None:
            retitled = thread
        elif mark is not None and thread.title != mark.get("title") and existing.title == mark.get("title"):
            # Retitled at OpenAI and not renamed here: follow OpenAI. A rename here wins.
            retitled = existing.model_copy(update={"title": thread.title})
        changed_mark = new_mark if new_mark != mark else None
        if not dry_run and (pending or retitled is not None or changed_mark is not None):
            await self.store.save_imported(hosted.id, pending, context, thread=retitled, mark=changed_mark)
        outcome.items_imported += len(pending)
        if existing is None:
            outcome.status = "imported"
        elif outcome.items_imported or retitled is not None:
            outcome.status = "updated"
        else:
            outcome.status = "unchanged"

    async def _load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata | None:
        try:
            return await self.store.load_thread(thread_id, context)
        except NotFoundError:
            return None

    async def _stored_as(self, thread_id: str, item: ThreadItem, context: RequestContext) -> bool:
        """Whether the store already holds exactly this item."""
        try:
            stored = await self.store.load_item(thread_id, item.id, context)
        except NotFoundError:
            return False
        return _ITEM.dump_json(stored) == _ITEM.dump_json(item)


class _Fatal(Exception):
    """Raised out of a thread's import to stop the run: the same refusal would hit every thread."""
