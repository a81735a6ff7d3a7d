"""The ChatKit server: ChatKit protocol requests in, JSON or an SSE stream out.

``ChatKitService.handle`` is the one call the ASGI app makes. It takes the caller from the
authorizer's context only, refuses what this server does not support with a clear error before
anything is stored, and turns ChatKit's errors into REST answers. A streaming request only
commits to ``200 text/event-stream`` once its first event exists, so an unknown thread is a 404,
not a broken stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, RunConfig, Runner
from agents.models.openai_responses import OpenAIResponsesModel
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    InputTranscribeReq,
    ThreadMetadata,
    ThreadsCreateReq,
    ThreadsAddUserMessageReq,
    ThreadsCustomActionReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    UserMessageItem,
    is_streaming_req,
)
from openai import AsyncOpenAI
from openai.types.responses import ResponseInputContentParam, ResponseInputTextParam
from pydantic import TypeAdapter, ValidationError

from chatkit_backend import errors
from chatkit_backend.assistant.agent import build_agent
from chatkit_backend.assistant.settings import ChatKitSettings
from chatkit_backend.assistant.store import AttachmentsNotSupported, DynamoDBStore, RequestContext
from chatkit_backend.http import status_for
from chatkit_backend.identity import identity_from_event
from chatkit_backend.observability import logger
from chatkit_backend.openai_key import openai_api_key
from chatkit_backend.secrets import SecretCache

# How many earlier items of the thread the agent sees each turn.
HISTORY_ITEMS = 30
TITLE_CHARS = 60
MAX_BODY_BYTES = 1024 * 1024
_REQUEST = TypeAdapter(ChatKitReq)
_SSE_ERROR = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'


@dataclass
class Reply:
    """What the app sends: a status, headers, and either a whole body or a stream of chunks."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def error_reply(error: errors.DomainError) -> Reply:
    return json_reply(status_for(error), {"detail": error.detail})


def json_reply(status: int, body: Any) -> Reply:
    return Reply(status, {"content-type": "application/json"}, json.dumps(body, ensure_ascii=False).encode())


class TaskAssistantServer(ChatKitServer[RequestContext]):
    """ChatKit's server with the task agent answering every user message."""

    def __init__(self, store: DynamoDBStore) -> None:
        super().__init__(store)
        # Set by ChatKitService before any request that runs the agent (it needs the OpenAI key).
        self.agent: Agent[AgentContext[Any]] | None = None

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
        history = await _HISTORY.to_agent_input(list(reversed(page.data)))
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


class HistoryConverter(ThreadItemConverter):
    """ChatKit's conversion of a thread for the model, but for attachments.

    This server takes no uploads yet, so the attachments in a thread are those of threads
    imported from hosted ChatKit: names and types whose files stayed with OpenAI. The model
    reads a note naming each one (ChatKit's default converter raises on any attachment).
    """

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        return ResponseInputTextParam(
            type="input_text",
            text=f"(The user attached '{attachment.name}' ({attachment.mime_type}); the file is not available here.)",
        )


_HISTORY = HistoryConverter()


@dataclass
class ChatKitService:
    settings: ChatKitSettings
    secrets: SecretCache = field(default_factory=SecretCache)
    server: TaskAssistantServer = field(init=False)
    _api_key: str | None = None

    def __post_init__(self) -> None:
        self.server = TaskAssistantServer(DynamoDBStore(self.settings.chatkit_table))

    def _ready_agent(self) -> None:
        """Give the server an agent with the current OpenAI key (re-read at most once a minute)."""
        api_key = self._openai_api_key()
        if self.server.agent is None or api_key != self._api_key:
            # Bounded well inside the function's 120 s, with one retry, so a stuck upstream ends as a stream error.
            client = AsyncOpenAI(
                api_key=api_key, base_url=self.settings.openai_base_url or None, max_retries=1, timeout=45.0
            )
            self.server.agent = build_agent(OpenAIResponsesModel(model=self.settings.model, openai_client=client))
            self._api_key = api_key

    def _openai_api_key(self) -> str:
        return openai_api_key(self.secrets, self.settings.openai_api_key_secret_arn)

    async def handle(self, body: bytes, request_context: dict[str, Any] | None) -> Reply:
        """Answer one POST /chatkit; ``request_context`` is API Gateway's (with the authorizer's)."""
        try:
            identity = identity_from_event({"requestContext": request_context or {}})
            if identity.token_use != "user":
                raise errors.Forbidden("This route takes a user's token, not an MCP token.")
            request = parse_request(body)
            if is_streaming_req(request):
                self._ready_agent()
            result = await self.server.process(body, RequestContext(user_id=identity.user_id))
        except errors.DomainError as error:
            return error_reply(error)
        except NotFoundError as error:
            return json_reply(404, {"detail": str(error) or "Not found."})
        if isinstance(result, NonStreamingResult):
            return Reply(200, {"content-type": "application/json"}, result.json)
        return await self._stream(result, request.type)

    async def _stream(self, result: StreamingResult, kind: str) -> Reply:
        events = result.__aiter__()
        try:
            first = await anext(events)
        except StopAsyncIteration:
            first = b""
        except errors.DomainError as error:
            return error_reply(error)
        except NotFoundError as error:
            return json_reply(404, {"detail": str(error) or "Not found."})

        async def chunks() -> AsyncIterator[bytes]:
            if first:
                yield first
            try:
                async for chunk in events:
                    yield chunk
            except Exception:
                # Headers are out: end the stream with ChatKit's own error event, not a cut.
                logger.exception("the ChatKit stream failed", extra={"request_type": kind})
                yield _SSE_ERROR

        headers = {"content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no"}
        return Reply(200, headers, stream=chunks())


def _title(message: UserMessageItem) -> str | None:
    words = " ".join(part.text for part in message.content if getattr(part, "type", "") == "input_text").split()
    title = " ".join(words)
    if not title:
        return None
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def parse_request(body: bytes) -> Any:
    """The ChatKit request in ``body``; ``InvalidInput`` naming what is wrong, for what this server refuses too."""
    if not body.strip():
        raise errors.InvalidInput("The body must be a ChatKit request (JSON with 'type' and 'params').")
    if len(body) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"The request is over {MAX_BODY_BYTES // 1024} KiB.")
    try:
        request = _REQUEST.validate_json(body)
    except ValidationError as error:
        raise errors.InvalidInput(f"Not a valid ChatKit request: {_describe(error)}") from None
    if isinstance(request, (AttachmentsCreateReq, AttachmentsDeleteReq)):
        raise AttachmentsNotSupported()
    if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)) and request.params.input.attachments:
        raise AttachmentsNotSupported()
    if isinstance(request, InputTranscribeReq):
        raise errors.InvalidInput("Dictation (input.transcribe) is not supported by this ChatKit server.")
    if isinstance(request, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)):
        raise errors.InvalidInput("Widget actions are not supported by this ChatKit server.")
    return request


def _describe(error: ValidationError) -> str:
    """The first few problems, by field, without echoing the input back."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems)
