"""The ChatKit server: ChatKit protocol requests in, JSON or an SSE stream out.

``ChatKitService.handle`` is the one call the ASGI app makes. It takes the caller from the
authorizer's context only, checks the request (``checks.check_request``: limits, ids, state)
before anything is stored, and turns every failure into a REST answer: a client's mistake is a
4xx ``{"detail"}``, an AWS outage a 503 with ``Retry-After``, never a bare 500.

A streaming request only commits to ``200 text/event-stream`` once it is safely under way: its
first event exists, for ``threads.create`` the new thread and its first message are stored
(together, in one transaction), and for a widget action the action has run. Until then a failure
is a plain HTTP error and nothing is left behind. After that, failures arrive as ChatKit
``error`` events.

An answer is always generated to the end and saved in full, even when the client has gone
(docs/chatkit-errors.md says why: on AWS the function is never told that the client left).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents import Agent, RunConfig, Runner
from agents.models.openai_responses import OpenAIResponsesModel
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    Action,
    AssistantMessageItem,
    AudioInput,
    ChatKitReq,
    FeedbackKind,
    InputTranscribeReq,
    ItemsFeedbackReq,
    SDKHiddenContextItem,
    StreamOptions,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
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
from openai import APIError, AsyncOpenAI
from pydantic import TypeAdapter, ValidationError

from chatkit_backend import errors, limits
from chatkit_backend.auth.identity import chat_identity
from chatkit_backend.aws.secrets import SecretCache
from chatkit_backend.chat import transcription
from chatkit_backend.chat.actions import complete_from_widget
from chatkit_backend.chat.agent import build_agent
from chatkit_backend.chat.attachments import S3AttachmentStore, S3Files
from chatkit_backend.chat.checks import check_request
from chatkit_backend.chat.model_input import ModelInputConverter
from chatkit_backend.chat.responses_client import ResponsesClient
from chatkit_backend.chat.settings import ChatKitSettings
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.dynamodb import DynamoDBStore
from chatkit_backend.http.responses import error_answer, json_text
from chatkit_backend.observability.logs import log_dependency_failure, logger
from chatkit_backend.observability.metrics import count, emit
from chatkit_backend.observability.tracing import tracer
from chatkit_backend.openai_api.key import openai_api_key
from chatkit_backend.openai_api.pools import async_pool
from chatkit_backend.tasks.service import TaskService
from chatkit_backend.users.usage import UsageLimits, Window

# How many earlier items of the thread the agent sees each turn.
HISTORY_ITEMS = 30
TITLE_CHARS = 60
JSON_MEDIA_TYPE = "application/json"
CUT_SHORT_NOTE = "\n\n(This answer was cut short before it was finished.)"
_REQUEST = TypeAdapter(ChatKitReq)
_SSE_ERROR = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'
# The requests that start a turn, each counted against the user's per-minute limit and daily
# token budget: a message, a retry, a widget action, a dictation, and the answers that make the
# model run again (a client tool's output, a structured input), which spend tokens just the same.
TURN_REQUESTS = (
    ThreadsCreateReq,
    ThreadsAddUserMessageReq,
    ThreadsRetryAfterItemReq,
    ThreadsCustomActionReq,
    ThreadsSyncCustomActionReq,
    InputTranscribeReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
)
_STREAM_OPTIONS = b'data: {"type":"stream_options"'


@dataclass
class Reply:
    """What the app sends: a status, headers, and either a whole body or a stream of chunks."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def error_reply(error: errors.DomainError) -> Reply:
    if isinstance(error, errors.DependencyUnavailable):
        log_dependency_failure(error)
    status, body, headers = error_answer(error)
    reply = json_reply(status, body)
    reply.headers.update(headers)
    return reply


def json_reply(status: int, body: Any) -> Reply:
    return Reply(status, {"content-type": "application/json"}, json_text(body).encode())


def unexpected_reply(kind: str) -> Reply:
    """A bug, not the caller's mistake: logged with its traceback, answered in the API's own shape."""
    logger.exception("the ChatKit request failed unexpectedly", extra={"request_type": kind})
    return json_reply(500, {"detail": "Internal server error."})


class TaskAssistantServer(ChatKitServer[RequestContext]):
    """ChatKit's server with the task agent answering every user message, the task widgets'
    actions, attachments in S3, dictation and feedback."""

    def __init__(
        self, store: DynamoDBStore, files: S3Files, transcription_model: str, usage: UsageLimits
    ) -> None:
        self.attachments = S3AttachmentStore(files)
        super().__init__(store, self.attachments)
        self.store: DynamoDBStore = store
        self.files = files
        self.transcription_model = transcription_model
        self.usage = usage
        # Set by ChatKitService before any request that calls OpenAI (it needs the OpenAI key).
        self.agent: Agent[AgentContext[Any]] | None = None
        self.openai: AsyncOpenAI | None = None

    async def process_request(
        self, request: Any, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        """ChatKit's public ``process`` for a request the service has parsed already.

        ``process(body, context)`` is openai-chatkit's only public way in, and it takes the raw
        body: it parses it again with a ``TypeAdapter`` it builds on every call (4 to 10 ms of a
        turn, more on a busy sandbox), after the service has parsed it to check it. 1.6.5 offers
        no entry for a parsed request, so these lines are ``process``'s own routing, to its two
        private handlers; tests/domain/test_chatkit_routing.py fails when the library's changes.
        """
        if is_streaming_req(request):
            return StreamingResult(self._process_streaming(request, context))
        return NonStreamingResult(await self._process_non_streaming(request, context))

    def get_stream_options(self, thread: ThreadMetadata, context: RequestContext) -> StreamOptions:
        # No stop button: behind API Gateway and the Lambda Web Adapter the function is never told
        # that the client left, so a "stop" could not stop anything; the answer runs to its end.
        return StreamOptions(allow_cancel=False)

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        """The run was cancelled mid-answer (the container is shutting down): keep what was
        written, marked as cut short, and tell the model so on the next turn."""
        for item in pending_items:
            if isinstance(item, AssistantMessageItem) and any(part.text.strip() for part in item.content):
                last = item.content[-1]
                item.content[-1] = last.model_copy(update={"text": last.text + CUT_SHORT_NOTE})
                await self.store.add_thread_item(thread.id, item, context)
        note = SDKHiddenContextItem(
            id=self.store.generate_item_id("sdk_hidden_context", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),  # noqa: DTZ005 - ChatKit's items carry naive times (chatkit.agents subtracts datetime.now() from them)
            content="The previous answer was cut short before it was finished.",
        )
        await self.store.add_thread_item(thread.id, note, context)

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
        try:
            async for event in stream_agent_response(agent_context, result):
                yield event
        except APIError:
            # ChatKit turns it into an error event for the user; the operators' alarm counts it.
            count("OpenAIErrors")
            raise
        finally:
            # A stream stopped early (a failed write of the user's message) stops the run too: no
            # further model call, no tool.
            if not result.is_complete:
                result.cancel()
            # What the turn spent, even when it failed part-way: the budget counts every token.
            # The service records it at the end of the turn, beside the answer's own writes.
            spent = result.context_wrapper.usage
            context.turn.spent = (spent.input_tokens, spent.output_tokens)

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        try:
            outcome = await complete_from_widget(self.store, thread, action, sender, context)
        except errors.DomainError as error:
            # ChatKit turns any exception here into an error event; the service answers this one.
            context.turn.error = error
            raise
        for event in outcome.events():
            yield event

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
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
    tasks: TaskService = field(init=False)
    _api_key: str | None = None

    def __post_init__(self) -> None:
        files = S3Files(self.settings.attachments_bucket, self.settings.attachment_max_bytes)
        store = DynamoDBStore(self.settings.chatkit_table, files)
        self.tasks = TaskService(self.settings.tasks_table)
        usage = UsageLimits(self.settings.usage)
        self.server = TaskAssistantServer(store, files, self.settings.transcription_model, usage)
        # The OpenAI client's HTTP pool is built at init; each key gets a light client over it.
        self._http = async_pool()

    def restored(self) -> None:
        """After a SnapStart restore: a pool of this sandbox's own, the key read afresh."""
        self._http = async_pool()
        self.server.agent = None
        self.server.openai = None
        self._api_key = None
        self.secrets.clear()

    def _ready_agent(self) -> None:
        """Give the server an agent and a client with the current OpenAI key (re-read at most once a minute)."""
        api_key = self._openai_api_key()
        if self.server.agent is None or api_key != self._api_key:
            # One retry of a bounded wait (ChatKitOpenAITimeoutSeconds), inside the function's 120 s.
            client = ResponsesClient(
                api_key=api_key,
                base_url=self.settings.openai_base_url or None,
                max_retries=1,
                timeout=self.settings.openai_timeout_seconds,
                http_client=self._http,
            )
            self.server.agent = build_agent(
                OpenAIResponsesModel(model=self.settings.model, openai_client=client)
            )
            self.server.openai = client
            self._api_key = api_key

    def _openai_api_key(self) -> str:
        return openai_api_key(self.secrets, self.settings.openai_api_key_secret_arn)

    @tracer.capture_method(capture_response=False)
    async def handle(
        self, body: bytes, request_context: dict[str, Any] | None, content_type: str | None = JSON_MEDIA_TYPE
    ) -> Reply:
        """Answer one POST /chatkit; ``request_context`` is API Gateway's (with the authorizer's)."""
        kind = "unknown"
        try:
            identity = chat_identity({"requestContext": request_context or {}})
            request = parse_request(body, content_type)
            kind = request.type
            context = RequestContext(user_id=identity.user_id, tasks=self.tasks)
            if _runs_model(request):
                # The model sees the newest items: read them with the thread, once.
                context.turn.history = HISTORY_ITEMS
            # The user's message on a thread that exists goes out while the model is asked (_stream
            # commits once it is stored).
            context.turn.write_ahead = isinstance(request, ThreadsAddUserMessageReq)
            if isinstance(request, TURN_REQUESTS):
                # Before anything is stored and before OpenAI is called: over a limit, a 429.
                await self._check_and_count_turn(request, context)
                count("ChatTurns")
            else:
                await check_request(request, self.server.store, context)
            if _runs_model(request) or isinstance(request, InputTranscribeReq):
                self._ready_agent()
            result = await self.server.process_request(request, context)
            _count_request(request)
            if isinstance(result, NonStreamingResult):
                return Reply(200, {"content-type": "application/json"}, result.json)
            return await self._stream(result, request, context)
        except errors.DomainError as error:
            return error_reply(error)
        except NotFoundError as error:
            return json_reply(404, {"detail": str(error) or "Not found."})
        except Exception:  # noqa: BLE001 - the request's last resort: a logged 500, never a traceback to the caller
            return unexpected_reply(kind)

    async def _check_and_count_turn(self, request: Any, context: RequestContext) -> None:
        """The request's checks and the turn's limit, sent together: the checks read the thread
        and its history from ChatKitTable, the limit is one conditional update on UsageTable, and
        neither needs the other's answer, so a turn waits for one round trip instead of two.

        The answer is the one the checks and then the limit would give one after the other: a
        check's error first (the turn it counted is given back, so a refused request still
        changes nothing), then the limit's 429.
        """
        usage = self.server.usage
        counting = asyncio.ensure_future(asyncio.to_thread(usage.begin_turn, context.user_id))
        try:
            await check_request(request, self.server.store, context)
        except BaseException:
            # Not counted (over the limit, or UsageTable failed): nothing to give back.
            [counted] = await asyncio.gather(counting, return_exceptions=True)
            if isinstance(counted, Window):
                await self._give_back_turn(context.user_id, counted)
            raise
        await counting

    async def _give_back_turn(self, user_id: str, window: Window) -> None:
        try:
            await asyncio.to_thread(self.server.usage.give_back_turn, user_id, window)
        except Exception:  # noqa: BLE001 - the request's own error is the answer; a lost refund is one turn of the minute
            logger.warning("could not give back the turn of a refused request", exc_info=True)

    async def _stream(self, result: StreamingResult, request: Any, context: RequestContext) -> Reply:
        """Wait for the events that commit the request, then stream the rest.

        The first event for every streaming request; for ``threads.create`` also the second (its
        user message, stored with the new thread), so a create that fails before the model
        starts is a plain HTTP error and leaves no thread behind. ChatKit opens a widget action's
        stream (stream_options) before the action runs: wait for the action's first event too,
        so that its failure (another user's task) is still an HTTP answer.

        A user's message written ahead (``Turn.write_ahead``) is still under way then: the run goes
        on in a task of its own (the agent prepares and makes its first model call; its tools wait
        for the write), its events are kept, and the request commits once the message is stored.
        If the write fails, the run is cancelled and the request answers the error: nothing of the
        turn is stored, no tool has run.

        From then on the store holds the answer's writes (a model's answer; a widget action writes
        its two items as it goes); they are sent together at the end, before the stream's last
        chunk, and a failure to save them ends the stream with an error event, so the client never
        sees a finished answer that is not stored.
        """
        events = result.__aiter__()
        committing = 2 if isinstance(request, ThreadsCreateReq) else 1
        held: list[bytes] = []
        try:
            while len(held) < committing:
                held.append(await anext(events))
                if isinstance(request, ThreadsCustomActionReq) and held[-1].startswith(_STREAM_OPTIONS):
                    committing += 1
        except StopAsyncIteration:
            pass
        except errors.DomainError as error:
            return error_reply(error)
        except NotFoundError as error:
            return json_reply(404, {"detail": str(error) or "Not found."})
        if context.turn.error is not None:
            await events.aclose()  # type: ignore[attr-defined]
            return error_reply(context.turn.error)

        # A widget action writes two items and is done: only an answer's writes wait for one batch.
        context.turn.hold_writes = _runs_model(request)
        if context.turn.message_write is not None:
            ahead = _RunAhead(events)
            try:
                await context.turn.message_stored()
            except Exception as error:
                await ahead.cancel()
                await self._record_spent_after_all(context, request.type)
                if isinstance(error, errors.DomainError):
                    return error_reply(error)
                raise
            events = ahead

        async def chunks() -> AsyncIterator[bytes]:
            for chunk in held:
                yield chunk
            failed = False
            try:
                async for chunk in events:
                    yield chunk
            except Exception as error:  # noqa: BLE001 - headers are out: whatever failed ends the stream cleanly
                # Headers are out: end the stream with ChatKit's own error event, not a cut.
                self._log_stream_failure(error, request.type)
                failed = True
            finally:
                # The answer's writes and the turn's token count go out together: one round trip
                # at the end of the turn instead of two.
                recorded = asyncio.ensure_future(self._record_spent(context))
                for pending in (self.server.store.flush(context), recorded):
                    try:
                        await pending
                    except Exception as error:  # noqa: BLE001 - as above: logged, and the stream ends with an error event
                        self._log_stream_failure(error, request.type)
                        failed = True
            if failed:
                yield _SSE_ERROR

        headers = {
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
        }
        return Reply(200, headers, stream=chunks())

    async def _record_spent(self, context: RequestContext) -> None:
        if context.turn.spent is not None:
            await _record_tokens(self.server.usage, context.user_id, *context.turn.spent)

    async def _record_spent_after_all(self, context: RequestContext, request_type: str) -> None:
        """The tokens of a run cancelled before its request committed: the budget counts them too."""
        try:
            await self._record_spent(context)
        except Exception as error:  # noqa: BLE001 - the request's own error is the answer; this one is logged
            self._log_stream_failure(error, request_type)

    @staticmethod
    def _log_stream_failure(error: Exception, request_type: str) -> None:
        if isinstance(error, errors.DependencyUnavailable):
            log_dependency_failure(error, request_type=request_type)
        else:
            logger.exception("the ChatKit stream failed", extra={"request_type": request_type})


class _RunAhead:
    """The rest of a stream, run to its end in a task of its own while the request waits for
    something else; its chunks (or its failure) are kept until they are read."""

    def __init__(self, events: AsyncIterator[bytes]) -> None:
        self._chunks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._run(events))

    async def _run(self, events: AsyncIterator[bytes]) -> None:
        # The whole rest in this one task: ChatKit sets context variables around the agent's run
        # that must be reset in the task that set them.
        try:
            async for chunk in events:
                self._chunks.put_nowait(chunk)
        except Exception as error:  # noqa: BLE001 - handed to the reader, which handles it as it would have
            self._chunks.put_nowait(error)
        else:
            self._chunks.put_nowait(None)

    def __aiter__(self) -> _RunAhead:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.get()
        if chunk is None:
            raise StopAsyncIteration
        if isinstance(chunk, BaseException):
            raise chunk
        return chunk

    async def cancel(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def _count_request(request: Any) -> None:
    """The product metrics a handled request adds to: widget actions, feedback votes."""
    if isinstance(request, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)):
        count("WidgetActions", action=str(request.params.action.type)[:64])
    elif isinstance(request, ItemsFeedbackReq):
        count("Feedback", kind=str(request.params.kind))


async def _record_tokens(usage: UsageLimits, user_id: str, tokens_in: int, tokens_out: int) -> None:
    emit({"TokensIn": tokens_in, "TokensOut": tokens_out})
    try:
        await asyncio.to_thread(usage.record_tokens, user_id, tokens_in, tokens_out)
    except errors.DependencyUnavailable as error:
        # The answer is out; losing one turn's count is better than failing it.
        log_dependency_failure(error, purpose="token usage")


def _runs_model(request: Any) -> bool:
    """Whether the request runs the agent: a widget action streams, but does not."""
    return is_streaming_req(request) and not isinstance(request, ThreadsCustomActionReq)


def _title(message: UserMessageItem) -> str | None:
    """The first words of the message, on one line, without control characters."""
    text = " ".join(part.text for part in message.content if getattr(part, "type", "") == "input_text")
    words = "".join(" " if limits.forbidden_character(c) else c for c in text).split()
    title = " ".join(words)
    if not title:
        return None
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def parse_request(body: bytes, content_type: str | None = JSON_MEDIA_TYPE) -> Any:
    """The ChatKit request in ``body``; a domain error (415, 413, 422) naming what is wrong."""
    if (content_type or "").split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
        raise errors.UnsupportedMediaType(
            f"Send the ChatKit request as JSON, with Content-Type: {JSON_MEDIA_TYPE}."
        )
    if not body.strip():
        raise errors.InvalidInput("The body must be a ChatKit request (JSON with 'type' and 'params').")
    if len(body) > limits.TRANSCRIBE_BODY_MAX_BYTES:
        raise errors.PayloadTooLarge(f"The request is over {limits.TRANSCRIBE_BODY_MAX_BYTES // 1024} KiB.")
    try:
        request = _REQUEST.validate_json(body)
    except ValidationError as error:
        raise errors.InvalidInput(f"Not a valid ChatKit request: {_describe(error)}") from None
    # Dictation carries its audio inline (base64): only it may use the larger body.
    if len(body) > limits.REQUEST_BODY_MAX_BYTES and not isinstance(request, InputTranscribeReq):
        raise errors.PayloadTooLarge(f"The request is over {limits.REQUEST_BODY_MAX_BYTES // 1024} KiB.")
    return request


def _describe(error: ValidationError) -> str:
    """The first few problems, by field, without echoing the input back."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems)
