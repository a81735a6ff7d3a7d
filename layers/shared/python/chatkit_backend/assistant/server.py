"""The ChatKit server: ChatKit protocol requests in, JSON or an SSE stream out.

``ChatKitService.handle`` is the one call the ASGI app makes. It takes the caller from the
authorizer's context only, checks what ChatKit itself does not (attachments are the caller's and
uploaded, dictation audio is a type and size OpenAI takes, a retried item is a user message)
before anything is stored, and turns ChatKit's errors into REST answers. A streaming request
only commits to ``200 text/event-stream`` once its first event exists (for a widget action: once
the action has run), so an unknown thread or another user's task is a 404, not a broken stream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, RunConfig, Runner
from agents.models.openai_responses import OpenAIResponsesModel
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    Action,
    AudioInput,
    ChatKitReq,
    FeedbackKind,
    InputTranscribeReq,
    SyncCustomActionResponse,
    ThreadMetadata,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from openai import AsyncOpenAI
from pydantic import TypeAdapter, ValidationError

from chatkit_backend import errors
from chatkit_backend.assistant import transcription
from chatkit_backend.assistant.actions import complete_from_widget, task_id_of
from chatkit_backend.assistant.agent import build_agent
from chatkit_backend.assistant.attachments import S3AttachmentStore, S3Files
from chatkit_backend.assistant.model_input import ModelInputConverter
from chatkit_backend.assistant.settings import ChatKitSettings
from chatkit_backend.assistant.store import DynamoDBStore, RequestContext
from chatkit_backend.http import status_for
from chatkit_backend.identity import identity_from_event
from chatkit_backend.observability import logger
from chatkit_backend.secrets import SecretCache

# How many earlier items of the thread the agent sees each turn.
HISTORY_ITEMS = 30
TITLE_CHARS = 60
MAX_BODY_BYTES = 1024 * 1024
# Dictation carries its audio inline (base64): a larger body, for that request type only.
MAX_TRANSCRIBE_BODY_BYTES = transcription.MAX_AUDIO_BYTES * 4 // 3 + 64 * 1024
_REQUEST = TypeAdapter(ChatKitReq)
_SSE_ERROR = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'
_STREAM_OPTIONS = b'data: {"type":"stream_options"'
# Events ChatKit may run ahead of a slow client.
STREAM_BUFFER_CHUNKS = 64


@dataclass
class Reply:
    """What the app sends: a status, headers, and either a whole body or a stream of chunks."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def error_reply(error: errors.DomainError) -> Reply:
    reply = json_reply(status_for(error), {"detail": error.detail})
    if isinstance(error, errors.RateLimited) and error.retry_after is not None:
        reply.headers["retry-after"] = str(error.retry_after)
    return reply


def json_reply(status: int, body: Any) -> Reply:
    return Reply(status, {"content-type": "application/json"}, json.dumps(body, ensure_ascii=False).encode())


class TaskAssistantServer(ChatKitServer[RequestContext]):
    """ChatKit's server with the task agent answering every user message, the task widgets'
    actions, attachments in S3, dictation and feedback."""

    def __init__(self, store: DynamoDBStore, files: S3Files, transcription_model: str) -> None:
        self.attachments = S3AttachmentStore(files, store)
        super().__init__(store, self.attachments)
        self.store: DynamoDBStore = store
        self.files = files
        self.transcription_model = transcription_model
        # Set by ChatKitService before any request that calls OpenAI (it needs the OpenAI key).
        self.agent: Agent[AgentContext[Any]] | None = None
        self.openai: AsyncOpenAI | None = None

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        if self.agent is None:
            raise errors.NotConfigured("the OpenAI API key")
        if thread.title is None and input_user_message is not None:
            # A title for the thread list, without a model call; ChatKit saves the changed
            # thread and tells the client (thread.updated).
            thread.title = _title(input_user_message)
        page = await self.store.load_thread_items(thread.id, None, HISTORY_ITEMS, "desc", context)
        history = await ModelInputConverter(self.files, context).to_agent_input(list(reversed(page.data)))
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        result = Runner.run_streamed(
            self.agent,
            history,
            context=agent_context,
            # Traces would go to OpenAI's tracing endpoint; this service logs its own way.
            run_config=RunConfig(tracing_disabled=True),
        )
        async for event in stream_agent_response(agent_context, result):
            yield event

    async def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        try:
            outcome = await complete_from_widget(self.store, thread, action, sender, context)
        except errors.DomainError as error:
            # ChatKit turns any exception here into an error event; the service answers this one.
            context.error = error
            raise
        for event in outcome.events():
            yield event

    async def sync_action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> SyncCustomActionResponse:
        outcome = await complete_from_widget(self.store, thread, action, sender, context)
        # A sync action's answer is not saved by ChatKit: store what the stream would have.
        await self.store.add_thread_item(thread.id, outcome.note, context)
        if outcome.replaced is None:
            return SyncCustomActionResponse()
        await self.store.save_item(thread.id, outcome.replaced, context)
        return SyncCustomActionResponse(updated_item=outcome.replaced)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.save_feedback(thread_id, item_ids, feedback, context)
        # The operators' first signal of answer quality: one line per vote, easy to count.
        logger.info("feedback", extra={"feedback": feedback, "thread_id": thread_id, "item_ids": item_ids})

    async def transcribe(self, audio_input: AudioInput, context: RequestContext) -> TranscriptionResult:
        if self.openai is None:
            raise errors.NotConfigured("the OpenAI API key")
        return await transcription.transcribe(self.openai, self.transcription_model, audio_input)


@dataclass
class ChatKitService:
    settings: ChatKitSettings
    secrets: SecretCache = field(default_factory=SecretCache)
    server: TaskAssistantServer = field(init=False)
    _api_key: str | None = None

    def __post_init__(self) -> None:
        files = S3Files(self.settings.attachments_bucket, self.settings.attachment_max_bytes)
        store = DynamoDBStore(self.settings.chatkit_table, files)
        self.server = TaskAssistantServer(store, files, self.settings.transcription_model)

    def _ready_agent(self) -> None:
        """Give the server an agent and a client with the current OpenAI key (re-read at most once a minute)."""
        api_key = self._openai_api_key()
        if self.server.agent is None or api_key != self._api_key:
            # Bounded well inside the function's 120 s, with one retry, so a stuck upstream ends as a stream error.
            client = AsyncOpenAI(
                api_key=api_key, base_url=self.settings.openai_base_url or None, max_retries=1, timeout=45.0
            )
            self.server.agent = build_agent(OpenAIResponsesModel(model=self.settings.model, openai_client=client))
            self.server.openai = client
            self._api_key = api_key

    def _openai_api_key(self) -> str:
        if not self.settings.openai_api_key_secret_arn:
            raise errors.NotConfigured("OPENAI_API_KEY_SECRET_ARN")
        version = self.secrets.get(self.settings.openai_api_key_secret_arn)
        try:
            api_key = json.loads(version.value).get("api_key", "") if version else ""
        except (ValueError, AttributeError):
            api_key = ""
        if not isinstance(api_key, str) or not api_key.strip():
            raise errors.NotConfigured(
                "the OpenAI API key", 'Put it in OpenAIApiKeySecret as {"api_key": "sk-..."}.'
            )
        return api_key.strip()

    async def handle(self, body: bytes, request_context: dict[str, Any] | None) -> Reply:
        """Answer one POST /chatkit; ``request_context`` is API Gateway's (with the authorizer's)."""
        try:
            identity = identity_from_event({"requestContext": request_context or {}})
            if identity.token_use != "user":
                raise errors.Forbidden("This route takes a user's token, not an MCP token.")
            request = parse_request(body)
            context = RequestContext(user_id=identity.user_id)
            await self._check(request, context)
            if _calls_openai(request):
                self._ready_agent()
            result = await self.server.process(body, context)
        except errors.DomainError as error:
            return error_reply(error)
        except NotFoundError as error:
            return json_reply(404, {"detail": str(error) or "Not found."})
        except ValueError as error:
            return _refused(error)
        if isinstance(result, NonStreamingResult):
            return Reply(200, {"content-type": "application/json"}, result.json)
        return await self._stream(result, request, context)

    async def _check(self, request: Any, context: RequestContext) -> None:
        """What must hold before ChatKit stores anything; raises the domain error otherwise."""
        if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)) and request.params.input.attachments:
            thread_id = getattr(request.params, "thread_id", None)
            await self.server.attachments.check_sendable(request.params.input.attachments, thread_id, context)
        elif isinstance(request, InputTranscribeReq):
            try:
                audio = base64.b64decode(request.params.audio_base64, validate=True)
            except (binascii.Error, ValueError):
                raise errors.InvalidInput("audio_base64 is not valid base64.") from None
            transcription.check_audio(AudioInput(data=audio, mime_type=request.params.mime_type))
        elif isinstance(request, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)):
            task_id_of(request.params.action)
        elif isinstance(request, ThreadsRetryAfterItemReq):
            item = await self.server.store.load_item(request.params.thread_id, request.params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise errors.InvalidInput("Only a user message can be retried: pass the id of the message to answer again.")

    async def _stream(self, result: StreamingResult, request: Any, context: RequestContext) -> Reply:
        """200 and the SSE stream once its first event exists; an HTTP error if ChatKit fails first.

        One task runs ChatKit's whole stream (its context variables must be set and reset in
        one context) and hands the chunks over a small queue; leaving the stream early (the
        client went away) cancels that task, which stops the agent run.
        """
        chunks: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(maxsize=STREAM_BUFFER_CHUNKS)

        async def produce() -> None:
            try:
                async for chunk in result:
                    await chunks.put(chunk)
            except Exception as error:  # handed over: before the first event it becomes a status
                await chunks.put(error)
            else:
                await chunks.put(None)

        producer = asyncio.create_task(produce())
        held: list[bytes] = []
        first = await chunks.get()
        # ChatKit opens an action's stream (stream_options) before the action runs: wait for the
        # action's first event, so that its failure is still an HTTP answer.
        while isinstance(request, ThreadsCustomActionReq) and isinstance(first, bytes) and first.startswith(_STREAM_OPTIONS):
            held.append(first)
            first = await chunks.get()
        failure = _early_failure(first, context)
        if failure is not None:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            return failure

        async def stream() -> AsyncIterator[bytes]:
            try:
                item: bytes | Exception | None = first
                for chunk in held:
                    yield chunk
                while item is not None:
                    if isinstance(item, Exception):
                        # Headers are out: end the stream with ChatKit's own error event, not a cut.
                        logger.error("the ChatKit stream failed", exc_info=item, extra={"request_type": request.type})
                        yield _SSE_ERROR
                        return
                    yield item
                    item = await chunks.get()
            finally:
                if not producer.done():
                    producer.cancel()
                    await asyncio.gather(producer, return_exceptions=True)

        headers = {"content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no"}
        return Reply(200, headers, stream=stream())


def _early_failure(first: bytes | Exception | None, context: RequestContext) -> Reply | None:
    """The HTTP answer for a stream that failed before its first event, or None if it did not."""
    if context.error is not None:
        return error_reply(context.error)
    if isinstance(first, errors.DomainError):
        return error_reply(first)
    if isinstance(first, NotFoundError):
        return json_reply(404, {"detail": str(first) or "Not found."})
    if isinstance(first, ValueError):
        return _refused(first)
    return None


def _calls_openai(request: Any) -> bool:
    """Whether the request runs the model or transcribes: a widget action streams, but does neither."""
    if isinstance(request, InputTranscribeReq):
        return True
    return is_streaming_req(request) and not isinstance(request, ThreadsCustomActionReq)


def _refused(error: ValueError) -> Reply:
    """ChatKit's own refusals (an item that is not a widget, not a user message...) are
    ValueErrors about the request; a model that does not validate is our bug, not the caller's."""
    if isinstance(error, ValidationError):
        raise error
    logger.warning("ChatKit refused the request", extra={"reason": str(error)[:200]})
    return json_reply(422, {"detail": f"This request does not fit the thread: {str(error)[:200]}"})


def _title(message: UserMessageItem) -> str | None:
    words = " ".join(part.text for part in message.content if getattr(part, "type", "") == "input_text").split()
    title = " ".join(words)
    if not title:
        return None
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def parse_request(body: bytes) -> Any:
    """The ChatKit request in ``body``; ``InvalidInput`` naming what is wrong, ``PayloadTooLarge`` over the limit."""
    if not body.strip():
        raise errors.InvalidInput("The body must be a ChatKit request (JSON with 'type' and 'params').")
    if len(body) > MAX_TRANSCRIBE_BODY_BYTES:
        raise errors.PayloadTooLarge(f"The request is over {MAX_TRANSCRIBE_BODY_BYTES // 1024} KiB.")
    try:
        request = _REQUEST.validate_json(body)
    except ValidationError as error:
        raise errors.InvalidInput(f"Not a valid ChatKit request: {_describe(error)}") from None
    if len(body) > MAX_BODY_BYTES and not isinstance(request, InputTranscribeReq):
        raise errors.PayloadTooLarge(f"The request is over {MAX_BODY_BYTES // 1024} KiB.")
    return request


def _describe(error: ValidationError) -> str:
    """The first few problems, by field, without echoing the input back."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems)
