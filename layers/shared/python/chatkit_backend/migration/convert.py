"""One hosted thread or item as the ``openai-chatkit`` thread or item that shows the same thing.

The thread keeps its hosted id (``cthr_...``), title, status and ``created_at``. Items keep their
ids, their order and their ``created_at``; items of one second (the API's resolution) are set
apart by a microsecond per position (``item_time``), so the store's time order is the hosted
order. What cannot be converted raises ``NotConvertible`` with the reason, to be counted, never
dropped in silence.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

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
from chatkit_backend.chat.records import accepts_id
from chatkit_backend.chat.store.context import IMPORTED_METADATA
from chatkit_backend.chat.store.items import ITEM_ADAPTER

_WIDGET = TypeAdapter(WidgetRoot)


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
    if not isinstance(user, str) or not user.strip() or len(user) > limits.USER_ID_MAX_CHARS:
        raise NotConvertible(
            f"its user is not a user id this API accepts (1 to {limits.USER_ID_MAX_CHARS} characters)"
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
        stored = ITEM_ADAPTER.dump_json(item)
        if len(stored) > limits.IMPORTED_ITEM_MAX_BYTES:
            raise NotConvertible(
                f"it is {len(stored) // 1024} KiB as JSON, over the {limits.IMPORTED_ITEM_MAX_BYTES // 1024} KiB a stored item may hold"
            )
        return ITEM_ADAPTER.validate_json(stored)
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
