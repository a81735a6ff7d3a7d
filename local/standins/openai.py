"""OpenAI, stood in for on a loopback port: the Responses API, transcription, and the hosted
ChatKit threads API, one server for whichever a test or the bench asks for (``serve_openai``).

**Responses** (``POST /v1/responses``, streaming SSE), scripted: a test queues the model's turns,
``call(name, arguments)`` (a function call the agent must run) or ``text("...")`` (an assistant
message, streamed in small deltas with a pause between them, so a test can see the events reach
the browser one by one). A step may also be a function of the request body, to answer with what
the previous tool returned (a task id, say). It also fails on demand, one request per step:
``fail(500)`` / ``fail(429)`` (an error status with OpenAI's error body), ``cut("...")`` (the
answer starts streaming, then the connection drops without the stream's end), ``hang()`` (the
request is accepted and never answered) and ``Garbled(body)`` (a 200 that is not an event
stream: a proxy's page, say). The OpenAI SDK retries a failed request once here (as the ChatKit
server configures it), so ``fail`` and ``hang`` queue one step per attempt (``times``). Every
event is validated against the SDK's own ``ResponseStreamEvent`` model before it is sent, so the
wire format is the SDK's, not a guess. Requests are recorded as the SDK sent them.

**Transcription** (``POST /v1/audio/transcriptions``): each call is recorded with its model, file
name, type and bytes, and answers the next of ``transcripts`` (a text, an HTTP status for OpenAI
refusing, or a ``Garbled`` 200 that is not what the API documents).

**ChatKit threads** (the read side the hosted import uses; ``HostedChatKit``):
``GET /v1/chatkit/threads?user=&after=&before=&limit=&order=`` (every user's threads, or one's)
and ``GET /v1/chatkit/threads/{thread_id}/items?...``, as cursor pages ``{"object": "list",
"data", "first_id", "last_id", "has_more"}``. ``limit`` is 0-100 (default 20), ``order`` asc or
desc (default desc), ``after``/``before`` ids of the listing. Each request must carry
``OpenAI-Beta: chatkit_beta=v1`` and the bearer key the stand-in was made with; otherwise the
answer is the error OpenAI gives (400, 401). Threads and items are validated against the SDK's
``ChatKitThread`` and ``ChatKitThreadItemList`` before they are served. Tests script faults
(``ThreadsFault``: a 429 with Retry-After, a 500, ...) and read back ``requests``; ``latency``
delays every answer (the real API's round trip, in measurements); ``fresh_generations`` makes
each new listing of threads serve a new copy of every thread under new ids (the bench's way to
import anew on every call).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from openai.types.beta.chatkit import ChatKitThread
from openai.types.beta.chatkit.chatkit_thread_item_list import ChatKitThreadItemList
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from local.standins.loopback import StandInHandler, serve

_EVENT = TypeAdapter(ResponseStreamEvent)
_ids = itertools.count(1)


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Text:
    text: str
    pieces: int = 4
    pause: float = 0.25


@dataclass(frozen=True)
class Fail:
    status: int
    retry_after: float | None = None


@dataclass(frozen=True)
class Cut:
    text: str
    pieces_sent: int = 2
    pieces: int = 4


@dataclass(frozen=True)
class Hang:
    seconds: float


@dataclass(frozen=True)
class Garbled:
    """A 200 answer whose body is not what OpenAI's API documents (a proxy's page, a truncated or
    changed document)."""

    body: bytes
    content_type: str = "application/json"


Fault = Fail | Cut | Hang | Garbled


@dataclass(frozen=True)
class Transcription:
    """One POST /v1/audio/transcriptions, as the stand-in received it."""

    model: str
    filename: str
    content_type: str
    audio: bytes


Step = Call | Text | Fault | Callable[[dict[str, Any]], "Call | Text"]


def call(name: str, **arguments: Any) -> Call:
    return Call(name, arguments)


def text(message: str, *, pieces: int = 4, pause: float = 0.25) -> Text:
    return Text(message, pieces, pause)


def fail(status: int, *, times: int = 2, retry_after: float | None = None) -> list[Fail]:
    """``times`` requests answered with ``status`` (500: server error, 429: rate limited)."""
    return [Fail(status, retry_after)] * times


def cut(message: str, *, pieces_sent: int = 2, pieces: int = 4) -> Cut:
    """An answer whose stream drops after ``pieces_sent`` of its ``pieces`` deltas."""
    return Cut(message, pieces_sent, pieces)


def hang(*, times: int = 2, seconds: float = 120.0) -> list[Hang]:
    """``times`` requests accepted and left unanswered for ``seconds`` (or until the stand-in stops)."""
    return [Hang(seconds)] * times


def last_tool_output(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON the last tool returned, as the agent sent it back in ``input``."""
    outputs = [
        item
        for item in request.get("input", [])
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    ]
    output = outputs[-1]["output"]
    return json.loads(output if isinstance(output, str) else output[0]["text"])


@dataclass
class FakeResponses:
    steps: deque[Step] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    transcriptions: list[Transcription] = field(default_factory=list)
    transcripts: deque[str | int | Garbled] = field(default_factory=deque)
    # When each streamed answer was under way (time.perf_counter() seconds, from the request's
    # arrival to its last chunk): what a benchmark needs to tell a model call from other waits.
    spans: list[tuple[float, float]] = field(default_factory=list)
    # The step when the script is used up (a benchmark's endless turns); None: a fixed sentence.
    fallback: Callable[[dict[str, Any]], Call | Text] | None = None
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)

    def script(self, *steps: Step | list[Fail] | list[Hang]) -> None:
        """Queue steps, one per request; ``fail(...)`` and ``hang(...)`` lists are spread out."""
        with self.lock:
            for step in steps:
                self.steps.extend(step if isinstance(step, list) else [step])

    def transcribe(self, transcription: Transcription) -> str | int | Garbled:
        with self.lock:
            self.transcriptions.append(transcription)
            return (
                self.transcripts.popleft() if self.transcripts else "(the fake model has no transcript left)"
            )

    def next_step(self, request: dict[str, Any]) -> Call | Text | Fault:
        with self.lock:
            self.requests.append(request)
            if self.steps:
                step = self.steps.popleft()
            elif self.fallback is not None:
                step = self.fallback
            else:
                step = Text("(the fake model has no script left)", pieces=1, pause=0)
        return step(request) if callable(step) else step

    def events(self, request: dict[str, Any], step: Call | Text) -> Iterator[tuple[dict[str, Any], float]]:
        """The SSE events for one response, each with the pause to take before sending it."""
        sequence = itertools.count()
        response_id = f"resp_{next(_ids)}"
        base = {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "model": request.get("model", "fake"),
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "output": [],
            "status": "in_progress",
        }
        yield {"type": "response.created", "sequence_number": next(sequence), "response": base}, 0
        if isinstance(step, Call):
            item_id, call_id = f"fc_{next(_ids)}", f"call_{next(_ids)}"
            arguments = json.dumps(step.arguments)
            pending = {
                "type": "function_call",
                "id": item_id,
                "call_id": call_id,
                "name": step.name,
                "arguments": "",
                "status": "in_progress",
            }
            done = {**pending, "arguments": arguments, "status": "completed"}
            yield (
                {
                    "type": "response.output_item.added",
                    "sequence_number": next(sequence),
                    "output_index": 0,
                    "item": pending,
                },
                0,
            )
            yield (
                {
                    "type": "response.function_call_arguments.delta",
                    "sequence_number": next(sequence),
                    "item_id": item_id,
                    "output_index": 0,
                    "delta": arguments,
                },
                0,
            )
            yield (
                {
                    "type": "response.function_call_arguments.done",
                    "sequence_number": next(sequence),
                    "item_id": item_id,
                    "output_index": 0,
                    "arguments": arguments,
                },
                0,
            )
            yield (
                {
                    "type": "response.output_item.done",
                    "sequence_number": next(sequence),
                    "output_index": 0,
                    "item": done,
                },
                0,
            )
            output = [done]
        else:
            item_id = f"msg_{next(_ids)}"
            where = {"item_id": item_id, "output_index": 0, "content_index": 0}
            empty_part = {"type": "output_text", "text": "", "annotations": []}
            pending = {
                "type": "message",
                "id": item_id,
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            yield (
                {
                    "type": "response.output_item.added",
                    "sequence_number": next(sequence),
                    "output_index": 0,
                    "item": pending,
                },
                0,
            )
            yield (
                {
                    "type": "response.content_part.added",
                    "sequence_number": next(sequence),
                    **where,
                    "part": empty_part,
                },
                0,
            )
            size = max(1, -(-len(step.text) // step.pieces))
            for start in range(0, len(step.text), size):
                delta = step.text[start : start + size]
                yield (
                    {
                        "type": "response.output_text.delta",
                        "sequence_number": next(sequence),
                        **where,
                        "delta": delta,
                        "logprobs": [],
                    },
                    step.pause,
                )
            part = {"type": "output_text", "text": step.text, "annotations": []}
            yield (
                {
                    "type": "response.output_text.done",
                    "sequence_number": next(sequence),
                    **where,
                    "text": step.text,
                    "logprobs": [],
                },
                0,
            )
            yield (
                {
                    "type": "response.content_part.done",
                    "sequence_number": next(sequence),
                    **where,
                    "part": part,
                },
                0,
            )
            done = {**pending, "status": "completed", "content": [part]}
            yield (
                {
                    "type": "response.output_item.done",
                    "sequence_number": next(sequence),
                    "output_index": 0,
                    "item": done,
                },
                0,
            )
            output = [done]
        completed = {
            **base,
            "status": "completed",
            "output": output,
            "usage": {
                "input_tokens": 10,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": 5,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 15,
            },
        }
        yield {"type": "response.completed", "sequence_number": next(sequence), "response": completed}, 0


# ---- the hosted ChatKit threads API -------------------------------------------------------
BETA_HEADER = "chatkit_beta=v1"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def error_body(
    message: str, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class ThreadsFault:
    """An answer in place of the next request whose path contains ``path`` (any, if empty); a
    ``body`` of bytes is sent as it is (a 200 that is not JSON, with its own content-type)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    path: str = ""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    status: int
    at: float  # time.monotonic() when it arrived


class HostedChatKit:
    """The stand-in's data (threads and items, by user) and its answers; ``hosted_chatkit`` serves it."""

    def __init__(self, api_key: str, *, latency: float = 0.0, fresh_generations: bool = False) -> None:
        self.api_key = api_key
        self.latency = latency
        self.fresh_generations = fresh_generations
        self.threads: dict[str, dict[str, Any]] = {}  # id -> thread, in creation order
        self.items: dict[str, list[dict[str, Any]]] = {}  # thread id -> items, oldest first
        self.requests: list[Seen] = []
        self._faults: deque[ThreadsFault] = deque()
        self._generation: dict[str, tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]] = {}
        self._lock = threading.Lock()
        self.url = ""  # the base URL for OPENAI_BASE_URL (…/v1), once served

    # ---- data --------------------------------------------------------------------------------
    def add_thread(
        self,
        user: str,
        title: str | None,
        created_at: int,
        status: dict[str, Any] | None = None,
        thread_id: str | None = None,
    ) -> str:
        thread = {
            "id": thread_id or new_id("cthr"),
            "object": "chatkit.thread",
            "created_at": created_at,
            "status": status or {"type": "active"},
            "title": title,
            "user": user,
        }
        ChatKitThread.model_validate(thread)
        with self._lock:
            self.threads[thread["id"]] = thread
            self.items[thread["id"]] = []
        return thread["id"]

    def add_item(self, thread_id: str, kind: str, created_at: int, **fields: Any) -> dict[str, Any]:
        """Append a ``chatkit.<kind>`` item; ``fields`` are the type's own (content, widget, ...)."""
        item = {
            "id": fields.pop("id", None) or new_id("cthi"),
            "object": "chatkit.thread_item",
            "created_at": created_at,
            "thread_id": thread_id,
            "type": f"chatkit.{kind}",
            **fields,
        }
        ChatKitThreadItemList.model_validate({"object": "list", "data": [item], "has_more": False})
        with self._lock:
            self.items[thread_id].append(item)
        return item

    def set_title(self, thread_id: str, title: str | None) -> None:
        with self._lock:
            self.threads[thread_id]["title"] = title

    def fail(self, *faults: ThreadsFault) -> None:
        """Answer the next matching requests with ``faults``, once each, in order."""
        with self._lock:
            self._faults.extend(faults)

    def item_count(self) -> int:
        return sum(len(items) for items in self.items.values())

    # ---- serving -----------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(target)
        path = split.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        status, reply_headers, body = self._answer(method, path, query, headers)
        with self._lock:
            self.requests.append(Seen(method, path, query, headers, status, time.monotonic()))
        return status, reply_headers, body

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, error_body("Incorrect API key provided.", code="invalid_api_key")
        with self._lock:
            fault = next((f for f in self._faults if f.path in path), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None:
            return (
                fault.status,
                fault.headers,
                fault.body if fault.body is not None else error_body("scripted fault", "server_error"),
            )
        if headers.get("openai-beta") != BETA_HEADER:
            return (
                400,
                {},
                error_body("You must provide the 'OpenAI-Beta: chatkit_beta=v1' header to access ChatKit."),
            )
        if method != "GET":
            return 405, {}, error_body(f"{method} is not served by this stand-in.")
        parts = path.split("/")
        if parts[:4] == ["", "v1", "chatkit", "threads"] and len(parts) == 4:
            threads = self._view(query)
            if "user" in query:
                threads = [t for t in threads if t["user"] == query["user"]]
            return self._page(threads, query)
        if parts[:4] == ["", "v1", "chatkit", "threads"] and len(parts) == 6 and parts[5] == "items":
            thread_id = unquote(parts[4])
            with self._lock:
                items = self._items_of(thread_id)
            if items is None:
                return 404, {}, error_body(f"No thread found with id '{thread_id}'.", code="not_found")
            return self._page(items, query)
        return 404, {}, error_body(f"Invalid URL (GET {path})")

    def _view(self, query: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            if not self.fresh_generations:
                return list(self.threads.values())
            if "after" not in query and "before" not in query:
                self._new_generation()
            return [thread for threads, _ in self._generation.values() for thread in threads.values()]

    def _new_generation(self) -> None:
        """Every thread (and its items) again under new ids: what a first import finds."""
        self._generation.clear()
        threads, items = {}, {}
        for thread in self.threads.values():
            copy = {**thread, "id": new_id("cthr")}
            threads[copy["id"]] = copy
            items[copy["id"]] = [
                {**item, "id": new_id("cthi"), "thread_id": copy["id"]} for item in self.items[thread["id"]]
            ]
        self._generation["current"] = (threads, items)

    def _items_of(self, thread_id: str) -> list[dict[str, Any]] | None:
        if self.fresh_generations and "current" in self._generation:
            return self._generation["current"][1].get(thread_id)
        return list(self.items[thread_id]) if thread_id in self.items else None

    def _page(self, rows: list[dict[str, Any]], query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            return 400, {}, error_body("Invalid 'limit': expected an integer.", param="limit")
        order = query.get("order", "desc")
        if not 0 <= limit <= 100 or order not in ("asc", "desc"):
            return (
                400,
                {},
                error_body(
                    "Invalid 'limit' or 'order'.", param="limit" if order in ("asc", "desc") else "order"
                ),
            )
        ordered = rows if order == "asc" else list(reversed(rows))
        ids = [row["id"] for row in ordered]
        start, end = 0, len(ordered)
        if query.get("after"):
            if query["after"] not in ids:
                return 400, {}, error_body(f"Invalid 'after': no such id '{query['after']}'.", param="after")
            start = ids.index(query["after"]) + 1
        if query.get("before"):
            if query["before"] not in ids:
                return (
                    400,
                    {},
                    error_body(f"Invalid 'before': no such id '{query['before']}'.", param="before"),
                )
            end = ids.index(query["before"])
        window = ordered[start:end]
        data = window[:limit]
        body = {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(window) > len(data),
        }
        return 200, {}, body


# ---- a history to import: several users, every item type, a thread longer than a page -------
T0 = 1_793_000_000  # 2026-10-26, a month before the cutover


def input_text(value: str) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def reply(value: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {"type": "output_text", "text": value, "annotations": list(annotations)}


CARD = {
    "type": "Card",
    "children": [{"type": "Text", "value": "Buy milk"}, {"type": "Badge", "label": "pending"}],
}


@dataclass
class History:
    """What ``seed_history`` put in the stand-in, for tests to compare against."""

    threads: dict[str, list[str]] = field(default_factory=dict)  # user -> thread ids, oldest first
    titles: dict[str, str | None] = field(default_factory=dict)
    long_thread: str = ""
    every_type: str = ""
    unconvertible: dict[str, int] = field(default_factory=dict)  # hosted type -> count


def seed_history(hosted: HostedChatKit, long_items: int = 130) -> History:
    """alice: a long thread (``long_items`` messages, more than one page) and one with every item
    type (two of them not convertible); bob: two threads, the untitled one locked; carol: one
    with an image and a PDF attached."""
    history = History()

    def thread(user: str, title: str | None, at: int, **kwargs: Any) -> str:
        thread_id = hosted.add_thread(user, title, at, **kwargs)
        history.threads.setdefault(user, []).append(thread_id)
        history.titles[thread_id] = title
        return thread_id

    long_thread = thread("alice", "Weekly groceries", T0)
    for index in range(long_items):
        at = T0 + 10 + index // 4  # four items a second: ordering within a second matters
        if index % 2 == 0:
            hosted.add_item(
                long_thread,
                "user_message",
                at,
                content=[input_text(f"message {index:03d}")],
                attachments=[],
                inference_options=None,
            )
        else:
            hosted.add_item(long_thread, "assistant_message", at, content=[reply(f"answer {index:03d}")])
    history.long_thread = long_thread

    every = thread("alice", "Plan the move", T0 + 3600)
    at = T0 + 3600 + 5
    hosted.add_item(
        every,
        "user_message",
        at,
        content=[
            {"type": "quoted_text", "text": "boxes by Friday"},
            input_text("Add packing tasks for this"),
        ],
        attachments=[],
        inference_options={"model": "gpt-4.1-mini", "tool_choice": {"id": "add_task"}},
    )
    hosted.add_item(
        every, "task", at, task_type="custom", heading="Called add_task", summary="Pack the kitchen"
    )
    hosted.add_item(
        every,
        "task_group",
        at + 1,
        tasks=[
            {"type": "thought", "heading": "Planning", "summary": "Three rooms to pack"},
            {"type": "thought", "heading": None, "summary": "Kitchen first"},
        ],
    )
    hosted.add_item(every, "widget", at + 1, widget=json.dumps(CARD))
    hosted.add_item(
        every,
        "client_tool_call",
        at + 2,
        call_id="call_theme",
        name="set_theme",
        arguments=json.dumps({"theme": "dark"}),
        output=json.dumps({"ok": True}),
        status="completed",
    )
    hosted.add_item(
        every,
        "assistant_message",
        at + 3,
        content=[
            reply(
                "Added 'Pack the kitchen'. See the checklist.",
                {"type": "url", "source": {"type": "url", "url": "https://example.com/moving-checklist"}},
                {"type": "file", "source": {"type": "file", "filename": "plan.pdf"}},
            )
        ],
    )
    # Not convertible: a widget ChatKit's model refuses, and a tool call whose arguments are not an object.
    hosted.add_item(every, "widget", at + 4, widget=json.dumps({"type": "Carousel", "items": []}))
    hosted.add_item(
        every,
        "client_tool_call",
        at + 4,
        call_id="call_bad",
        name="noop",
        arguments="[1, 2]",
        output=None,
        status="in_progress",
    )
    history.unconvertible = {"chatkit.widget": 1, "chatkit.client_tool_call": 1}
    history.every_type = every

    for offset, title, status in (
        (100, "Gym plan", None),
        (200, None, {"type": "locked", "reason": "archived"}),
    ):
        bob = thread("bob", title, T0 + offset, status=status)
        hosted.add_item(
            bob,
            "user_message",
            T0 + offset + 1,
            content=[input_text(f"bob's message in {title}")],
            attachments=[],
            inference_options=None,
        )
        hosted.add_item(
            bob, "assistant_message", T0 + offset + 2, content=[reply(f"bob's answer in {title}")]
        )

    carol = thread("carol", "Receipts", T0 + 50)
    hosted.add_item(
        carol,
        "user_message",
        T0 + 51,
        content=[input_text("Here are my receipts")],
        attachments=[
            {
                "id": "cfile_receipt1",
                "mime_type": "image/png",
                "name": "receipt.png",
                "preview_url": "https://files.openai.example/receipt.png",
                "type": "image",
            },
            {
                "id": "cfile_notes",
                "mime_type": "application/pdf",
                "name": "notes.pdf",
                "preview_url": None,
                "type": "file",
            },
        ],
        inference_options=None,
    )
    hosted.add_item(carol, "assistant_message", T0 + 52, content=[reply("Got both files.")])
    return history


# ---- serving ------------------------------------------------------------------------------
@contextmanager
def serve_openai(
    responses: FakeResponses | None = None, hosted: HostedChatKit | None = None
) -> Iterator[str]:
    """OpenAI on a free loopback port, while the block runs: the Responses API and transcription
    (``responses``) and the ChatKit threads API (``hosted``), whichever are given. Yields the base
    URL for ``OPENAI_BASE_URL`` (…/v1)."""

    class Handler(StandInHandler):
        def do_GET(self) -> None:
            self._route()

        def do_DELETE(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def _route(self) -> None:
            if hosted is not None and (responses is None or self.path.startswith("/v1/chatkit/")):
                self._threads(hosted)
            elif responses is not None and self.command == "POST":
                self._responses(responses)
            else:
                self.send_error(501)

        def _threads(self, stand_in: HostedChatKit) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            if stand_in.latency:
                time.sleep(stand_in.latency)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra, body = stand_in.answer(self.command, self.path, headers)
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.answer(status, payload, {"content-type": "application/json", **extra})

        def _responses(self, responses: FakeResponses) -> None:
            arrived = time.perf_counter()
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            responses.authorizations.append(self.headers.get("authorization", ""))
            if self.path.rstrip("/") == "/v1/audio/transcriptions":
                self._transcribe(raw)
                return
            body = json.loads(raw or b"{}")
            if self.path.rstrip("/") != "/v1/responses" or not body.get("stream"):
                self.answer(404)
                return
            step = responses.next_step(body)
            if isinstance(step, Fail):
                self._fail(step)
                return
            if isinstance(step, Hang):
                responses.stopped.wait(step.seconds)
                self.close_connection = True
                return
            if isinstance(step, Garbled):
                self._answer(step)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            if isinstance(step, Cut):
                deltas = 0
                for event, pause in responses.events(body, Text(step.text, step.pieces, 0.05)):
                    deltas += event["type"] == "response.output_text.delta"
                    if deltas > step.pieces_sent:
                        break
                    self._send_event(event, pause)
                # Gone without the stream's last chunk, as a dropped upstream connection looks.
                self.close_connection = True
                return
            for event, pause in responses.events(body, step):
                self._send_event(event, pause)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            responses.spans.append((arrived, time.perf_counter()))

        def _send_event(self, event: dict[str, Any], pause: float) -> None:
            _EVENT.validate_python(event)  # the SDK's own model: the fake speaks its format
            time.sleep(pause)
            data = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _fail(self, step: Fail) -> None:
            kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
            retry = {} if step.retry_after is None else {"retry-after": str(step.retry_after)}
            self.answer_json(step.status, error_body(f"stand-in {kind}", kind, code=kind), retry)

        def _transcribe(self, raw: bytes) -> None:
            form = _multipart(self.headers.get("content-type", ""), raw)
            name, content_type, audio = form["file"]
            answer = responses.transcribe(Transcription(form["model"][2].decode(), name, content_type, audio))
            if isinstance(answer, int):
                self._fail(Fail(answer))
                return
            self._answer(
                answer if isinstance(answer, Garbled) else Garbled(json.dumps({"text": answer}).encode())
            )

        def _answer(self, answer: Garbled) -> None:
            self.answer(200, answer.body, {"content-type": answer.content_type})

    with serve(Handler) as url:
        yield f"{url}/v1"


@contextmanager
def fake_responses() -> Iterator[FakeResponses]:
    """The Responses stand-in, started; ``.url`` is the base URL (…/v1) for OPENAI_BASE_URL."""
    fake = FakeResponses()
    with serve_openai(responses=fake) as url:
        fake.url = url
        try:
            yield fake
        finally:
            fake.stopped.set()


@contextmanager
def hosted_chatkit(api_key: str, **options: Any) -> Iterator[HostedChatKit]:
    """The hosted ChatKit threads stand-in, served while the block runs."""
    stand_in = HostedChatKit(api_key, **options)
    with serve_openai(hosted=stand_in) as url:
        stand_in.url = url
        yield stand_in


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str, str, bytes]]:
    """A multipart/form-data body: field name -> (file name, content type, bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"content-type: {content_type}\r\n\r\n".encode() + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (
            part.get_filename() or "",
            part.get_content_type(),
            part.get_payload(decode=True) or b"",
        )
    return fields
