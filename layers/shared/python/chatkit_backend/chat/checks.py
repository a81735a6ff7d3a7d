"""What a ChatKit request must meet before the server stores anything or calls the model.

``check_request`` runs after the body has parsed as a ChatKit request and before ChatKit's
``process``. It answers every client mistake with a domain error, so the caller reads a 4xx
``{"detail"}`` and nothing is stored:

- limits (no I/O): a message, tool output or structured input too large is 413
  (``PayloadTooLarge``); a title too long or holding control characters, or a page size out of
  range, is 422;
- ids: a thread or item the caller does not have (never created, deleted, or another user's) is
  404; ChatKit itself answers 404 for a thread it loads, so only the ids it does not check are
  looked up here;
- state: an item of the wrong kind for the request is 422 (``InvalidInput``), an item in the
  wrong state (no pending client tool call, a structured input already answered) is 409
  (``Conflict``);
- what attachments, dictation and widget actions take: a file or recording of a type or size the
  server does not read, empty, or a file without a name, is 422 naming what it does take; a
  message's attachments must be the caller's (else 404), uploaded, within the size limit and not
  part of another thread (422); only the caller's own attachment can be deleted (else 404); an
  action is ``task.complete`` with a payload of only a task id (422), and the task must be the
  caller's (404, from the action's own conditional write).

``CHECKS`` is the table: request type -> the checks it runs, in order. A new request handler adds
or replaces its row; the table-driven test (tests/functions/test_chatkit_requests.py) covers
every request type of the installed ``openai-chatkit``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    AudioInput,
    ClientToolCallItem,
    InputTranscribeReq,
    ItemsFeedbackReq,
    ItemsListReq,
    StructuredInputItem,
    ThreadItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
)
from pydantic import BaseModel, TypeAdapter

from chatkit_backend import errors, limits
from chatkit_backend.chat import transcription
from chatkit_backend.chat.actions import task_id_of
from chatkit_backend.chat.attachments import check_upload
from chatkit_backend.chat.records import check_page
from chatkit_backend.chat.store.context import AttachmentFiles, RequestContext
from chatkit_backend.chat.store.dynamodb import DynamoDBStore
from chatkit_backend.chat.threads import validate_title

Check = Callable[[Any, DynamoDBStore, RequestContext], Awaitable[None]]
_ANY = TypeAdapter(Any)


async def check_request(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    """Raise the domain error for the first rule ``request`` breaks; return when it may proceed."""
    for check in CHECKS.get(type(request), ()):
        await check(request, store, context)


# ---- limits ------------------------------------------------------------------------------------


async def message_within_limits(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    message: UserMessageInput = request.params.input
    text = sum(len(part.text) for part in message.content) + len(message.quoted_text or "")
    if text > limits.MESSAGE_TEXT_MAX_CHARS:
        raise errors.PayloadTooLarge(
            f"The message is {text} characters long; the limit is {limits.MESSAGE_TEXT_MAX_CHARS}. "
            "Send it in parts."
        )
    size = _json_size(message)
    if size > limits.MESSAGE_MAX_BYTES:
        raise errors.PayloadTooLarge(
            f"The message is {size} bytes as JSON (with its tags and options); the limit is "
            f"{limits.MESSAGE_MAX_BYTES}."
        )


async def tool_output_within_limits(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    size = len(_ANY.dump_json(request.params.result))
    if size > limits.TOOL_OUTPUT_MAX_BYTES:
        raise errors.PayloadTooLarge(
            f"The tool output is {size} bytes as JSON; the limit is {limits.TOOL_OUTPUT_MAX_BYTES}."
        )


async def structured_input_within_limits(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    size = _json_size(request.params.input)
    if size > limits.STRUCTURED_INPUT_MAX_BYTES:
        raise errors.PayloadTooLarge(
            f"The answers are {size} bytes as JSON; the limit is {limits.STRUCTURED_INPUT_MAX_BYTES}."
        )


async def title_is_valid(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    validate_title(request.params.title)


async def feedback_names_items(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    count = len(request.params.item_ids)
    if not 1 <= count <= limits.FEEDBACK_ITEMS_MAX:
        raise errors.InvalidInput(
            f"item_ids must name 1 to {limits.FEEDBACK_ITEMS_MAX} items; it names {count}."
        )


# ---- ids ---------------------------------------------------------------------------------------


async def thread_exists(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    await _found(store.load_thread(request.params.thread_id, context))


# ---- state -------------------------------------------------------------------------------------


async def tool_call_is_pending(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    """ChatKit takes a tool output only for the thread's last item, a pending client tool call."""
    page = await _found(store.load_thread_items(request.params.thread_id, None, 1, "desc", context))
    last = page.data[0] if page.data else None
    if not (isinstance(last, ClientToolCallItem) and last.status == "pending"):
        raise errors.Conflict("This thread is not waiting for a client tool's output: nothing to add it to.")


async def item_is_pending_structured_input(
    request: Any, store: DynamoDBStore, context: RequestContext
) -> None:
    item = await _item(store, request.params.thread_id, request.params.item_id, context)
    if not isinstance(item, StructuredInputItem):
        raise errors.InvalidInput(
            f"Item '{item.id}' is a {item.type}, not a structured input: it takes no answers."
        )
    if item.status != "pending":
        raise errors.Conflict(f"Item '{item.id}' was already {item.status}; it takes no more answers.")


async def item_is_user_message(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    item = await _item(store, request.params.thread_id, request.params.item_id, context)
    if not isinstance(item, UserMessageItem):
        raise errors.InvalidInput(
            f"Item '{item.id}' is a {item.type}; an answer can only be retried from a user message."
        )


async def sender_is_widget(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    if request.params.item_id is None:
        return
    item = await _item(store, request.params.thread_id, request.params.item_id, context)
    if not isinstance(item, WidgetItem):
        raise errors.InvalidInput(f"Item '{item.id}' is a {item.type}; only a widget can send an action.")


# ---- attachments, dictation, widget actions ------------------------------------------------


async def attachments_sendable(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    """Every attachment of the message is the caller's, uploaded, within the limit, and not part
    of another thread (ChatKit would move it, and deleting either thread would take the file)."""
    attachment_ids = request.params.input.attachments
    if len(attachment_ids) > limits.ATTACHMENTS_PER_MESSAGE_MAX:
        raise errors.InvalidInput(
            f"A message can carry at most {limits.ATTACHMENTS_PER_MESSAGE_MAX} attachments."
        )
    thread_id = getattr(request.params, "thread_id", None)
    for attachment_id in dict.fromkeys(attachment_ids):
        attachment = await _found(store.load_attachment(attachment_id, context))
        if attachment.thread_id and attachment.thread_id != thread_id:
            raise errors.InvalidInput(
                f"Attachment '{attachment_id}' already belongs to another conversation: attach the file again."
            )
        files = _files(store)
        size = await files.uploaded_size(context.user_id, attachment_id)
        if size is None:
            raise errors.InvalidInput(
                f"Attachment '{attachment_id}' has not been uploaded yet: upload it, then send."
            )
        if size > files.max_bytes:
            raise errors.InvalidInput(
                f"Attachment '{attachment_id}' is over the {files.max_bytes}-byte limit."
            )


async def attachment_is_callers(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    """Only the uploader's own record names a file: another user's id is 404 and deletes nothing."""
    await _found(store.load_attachment(request.params.attachment_id, context))


async def upload_is_readable(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    check_upload(request.params, _files(store).max_bytes)


async def audio_is_readable(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    try:
        audio = base64.b64decode(request.params.audio_base64, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidInput("audio_base64 is not valid base64.") from None
    transcription.check_audio(AudioInput(data=audio, mime_type=request.params.mime_type))


async def action_is_known(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    task_id_of(request.params.action)


async def page_is_valid(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    """The page size the client asked for: ChatKit turns a limit of 0 into its default page
    (``limit or DEFAULT_PAGE_SIZE``) before the store sees it, so it is checked here first."""
    params = request.params
    if params.limit is not None:
        check_page(params.limit, params.order)


CHECKS: dict[type, tuple[Check, ...]] = {
    ThreadsCreateReq: (message_within_limits, attachments_sendable),
    # The thread (and the history the model will see) is read here, while the turn's limit is
    # counted beside it; ChatKit's own load of the thread is then answered from that copy.
    ThreadsAddUserMessageReq: (message_within_limits, attachments_sendable, thread_exists),
    ThreadsAddClientToolOutputReq: (tool_output_within_limits, thread_exists, tool_call_is_pending),
    ThreadsAddStructuredInputReq: (
        structured_input_within_limits,
        thread_exists,
        item_is_pending_structured_input,
    ),
    ThreadsRetryAfterItemReq: (thread_exists, item_is_user_message),
    # ChatKit loads the thread itself (404); a sender must be a widget of the caller's thread.
    # The task must be the caller's too: the action's one conditional UpdateItem is that check
    # (404, nothing changed), so it costs no read here.
    ThreadsCustomActionReq: (action_is_known, sender_is_widget),
    ThreadsSyncCustomActionReq: (action_is_known, sender_is_widget),
    ThreadsUpdateReq: (title_is_valid,),
    # The store checks every named item with one BatchGetItem before it writes a vote (404).
    ItemsFeedbackReq: (feedback_names_items,),
    AttachmentsCreateReq: (upload_is_readable,),
    AttachmentsDeleteReq: (attachment_is_callers,),
    InputTranscribeReq: (audio_is_readable,),
    ThreadsListReq: (page_is_valid,),
    ItemsListReq: (page_is_valid,),
    # threads.get_by_id and threads.delete need nothing more: ChatKit and the store answer their
    # unknown ids (404) before anything changes.
}


async def _found(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except NotFoundError as missing:
        raise errors.NotFound(str(missing) or "Not found.") from None


async def _item(store: DynamoDBStore, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
    return await _found(store.load_item(thread_id, item_id, context))


def _files(store: DynamoDBStore) -> AttachmentFiles:
    if store.files is None:
        raise errors.NotConfigured(
            "ATTACHMENTS_BUCKET", "Deploy with template.yaml, which creates the attachments bucket."
        )
    return store.files


def _json_size(model: BaseModel) -> int:
    return len(model.model_dump_json())
