"""What a ChatKit request must meet before the server stores anything or calls the model.

``check_request`` runs after the body has parsed as a ChatKit request and before ChatKit's
``process``. It answers every client mistake with a domain error, so the caller reads a 4xx
``{"detail"}`` and nothing is stored:

- limits (no I/O): a message, tool output or structured input too large is 413
  (``PayloadTooLarge``); a title too long or holding control characters is 422;
- ids: a thread or item the caller does not have (never created, deleted, or another user's) is
  404; ChatKit itself answers 404 for a thread it loads, so only the ids it does not check are
  looked up here;
- state: an item of the wrong kind for the request is 422 (``InvalidInput``), an item in the
  wrong state (no pending client tool call, a structured input already answered) is 409
  (``Conflict``);
- features this server does not offer (yet) are 422.

``CHECKS`` is the table: request type -> the checks it runs, in order. A new request handler adds
or replaces its row; the table-driven test (tests/component/test_chatkit_requests.py) covers
every request type of the installed ``openai-chatkit``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ClientToolCallItem,
    InputTranscribeReq,
    ItemsFeedbackReq,
    StructuredInputItem,
    ThreadItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
)
from pydantic import BaseModel, TypeAdapter

from chatkit_backend import errors, limits
from chatkit_backend.assistant.store import AttachmentsNotSupported, DynamoDBStore, RequestContext
from chatkit_backend.threads import validate_title

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
        raise errors.InvalidInput(f"item_ids must name 1 to {limits.FEEDBACK_ITEMS_MAX} items; it names {count}.")


# ---- ids ---------------------------------------------------------------------------------------


async def thread_exists(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    await _found(store.load_thread(request.params.thread_id, context))


async def items_exist(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    for item_id in dict.fromkeys(request.params.item_ids):
        await _item(store, request.params.thread_id, item_id, context)


# ---- state -------------------------------------------------------------------------------------


async def tool_call_is_pending(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    """ChatKit takes a tool output only for the thread's last item, a pending client tool call."""
    page = await _found(store.load_thread_items(request.params.thread_id, None, 1, "desc", context))
    last = page.data[0] if page.data else None
    if not (isinstance(last, ClientToolCallItem) and last.status == "pending"):
        raise errors.Conflict("This thread is not waiting for a client tool's output: nothing to add it to.")


async def item_is_pending_structured_input(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    item = await _item(store, request.params.thread_id, request.params.item_id, context)
    if not isinstance(item, StructuredInputItem):
        raise errors.InvalidInput(f"Item '{item.id}' is a {item.type}, not a structured input: it takes no answers.")
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


# ---- what this server does not offer yet -------------------------------------------------------


async def no_attachments(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    if request.params.input.attachments:
        raise AttachmentsNotSupported()


async def attachments_refused(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    raise AttachmentsNotSupported()


async def dictation_refused(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    raise errors.InvalidInput("Dictation (input.transcribe) is not supported by this ChatKit server.")


async def actions_refused(request: Any, store: DynamoDBStore, context: RequestContext) -> None:
    raise errors.InvalidInput("Widget actions are not supported by this ChatKit server.")


CHECKS: dict[type, tuple[Check, ...]] = {
    ThreadsCreateReq: (message_within_limits, no_attachments),
    ThreadsAddUserMessageReq: (message_within_limits, no_attachments),
    ThreadsAddClientToolOutputReq: (tool_output_within_limits, thread_exists, tool_call_is_pending),
    ThreadsAddStructuredInputReq: (structured_input_within_limits, thread_exists, item_is_pending_structured_input),
    ThreadsRetryAfterItemReq: (thread_exists, item_is_user_message),
    ThreadsCustomActionReq: (thread_exists, sender_is_widget, actions_refused),
    ThreadsSyncCustomActionReq: (thread_exists, sender_is_widget, actions_refused),
    ThreadsUpdateReq: (title_is_valid,),
    ItemsFeedbackReq: (feedback_names_items, thread_exists, items_exist),
    AttachmentsCreateReq: (attachments_refused,),
    AttachmentsDeleteReq: (attachments_refused,),
    InputTranscribeReq: (dictation_refused,),
    # threads.get_by_id, threads.list, items.list and threads.delete need nothing more: ChatKit
    # and the store answer their unknown ids (404) and bad pages (422) before anything changes.
}


async def _found(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except NotFoundError as missing:
        raise errors.NotFound(str(missing) or "Not found.") from None


async def _item(store: DynamoDBStore, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
    return await _found(store.load_item(thread_id, item_id, context))


def _json_size(model: BaseModel) -> int:
    return len(model.model_dump_json())
