"""A local stand-in for OpenAI's Responses API (POST /v1/responses, streaming SSE), scripted.

Tests queue the model's turns: ``call(name, arguments)`` (a function call the agent must run)
or ``text("...")`` (an assistant message, streamed in small deltas with a pause between them,
so a test can see the events reach the browser one by one). A step may also be a function of
the request body, to answer with what the previous tool returned (a task id, say).

It also fails on demand, one request per step: ``fail(500)`` / ``fail(429)`` (an error status
with OpenAI's error body), ``cut("...")`` (the answer starts streaming, then the connection
drops without the stream's end), ``hang()`` (the request is accepted and never answered) and
``Garbled(body)`` (a 200 that is not an event stream: a proxy's page, say).
The OpenAI SDK retries a failed request once here (as the ChatKit server configures it), so
``fail`` and ``hang`` queue one step per attempt (``times``).

Every event is validated against the OpenAI SDK's own ``ResponseStreamEvent`` model before it
is sent, so the wire format is the SDK's, not a guess. Requests are recorded for assertions, as
the SDK sent them: a Responses request is its JSON body (attachments included, inline as data:
URLs).

It stands in for the transcription endpoint too (POST /v1/audio/transcriptions): each call is
recorded with its model, file name, type and bytes, and answers the next of ``transcripts``
(a text, an HTTP status for OpenAI refusing, or a ``Garbled`` 200 that is not what the API
documents).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.loopback import serve

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


@contextmanager
def fake_responses() -> Iterator[FakeResponses]:
    """A started fake on a free loopback port; ``.url`` is the base URL (…/v1) for OPENAI_BASE_URL."""
    fake = FakeResponses()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            arrived = time.perf_counter()
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            fake.authorizations.append(self.headers.get("authorization", ""))
            if self.path.rstrip("/") == "/v1/audio/transcriptions":
                self._transcribe(raw)
                return
            body = json.loads(raw or b"{}")
            if self.path.rstrip("/") != "/v1/responses" or not body.get("stream"):
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            step = fake.next_step(body)
            if isinstance(step, Fail):
                self._fail(step)
                return
            if isinstance(step, Hang):
                fake.stopped.wait(step.seconds)
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
                for event, pause in fake.events(body, Text(step.text, step.pieces, 0.05)):
                    deltas += event["type"] == "response.output_text.delta"
                    if deltas > step.pieces_sent:
                        break
                    self._send_event(event, pause)
                # Gone without the stream's last chunk, as a dropped upstream connection looks.
                self.close_connection = True
                return
            for event, pause in fake.events(body, step):
                self._send_event(event, pause)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            fake.spans.append((arrived, time.perf_counter()))

        def _send_event(self, event: dict[str, Any], pause: float) -> None:
            _EVENT.validate_python(event)  # the SDK's own model: the fake speaks its format
            time.sleep(pause)
            data = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _fail(self, step: Fail) -> None:
            kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
            body = json.dumps(
                {"error": {"message": f"stand-in {kind}", "type": kind, "code": kind, "param": None}}
            ).encode()
            self.send_response(step.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            if step.retry_after is not None:
                self.send_header("retry-after", str(step.retry_after))
            self.end_headers()
            self.wfile.write(body)

        def _transcribe(self, raw: bytes) -> None:
            form = _multipart(self.headers.get("content-type", ""), raw)
            name, content_type, audio = form["file"]
            answer = fake.transcribe(Transcription(form["model"][2].decode(), name, content_type, audio))
            if isinstance(answer, int):
                self._fail(Fail(answer))
                return
            self._answer(
                answer if isinstance(answer, Garbled) else Garbled(json.dumps({"text": answer}).encode())
            )

        def _answer(self, answer: Garbled) -> None:
            self.send_response(200)
            self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    with serve(Handler) as url:
        fake.url = f"{url}/v1"
        try:
            yield fake
        finally:
            fake.stopped.set()


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
