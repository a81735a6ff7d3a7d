"""A local stand-in for OpenAI's ChatKit threads API, the read side the hosted import uses.

- ``GET /v1/chatkit/threads?user=&after=&before=&limit=&order=``: every user's threads, or one's;
- ``GET /v1/chatkit/threads/{thread_id}/items?after=&before=&limit=&order=``: a thread's items;

as cursor pages ``{"object": "list", "data", "first_id", "last_id", "has_more"}``. ``limit`` is
0-100 (default 20), ``order`` asc or desc (default desc, newest first), ``after``/``before`` are
ids of the listing. Each request must carry ``OpenAI-Beta: chatkit_beta=v1`` and the bearer key
the stand-in was made with; otherwise the answer is the error OpenAI gives (400, 401).

Every thread and item is validated against the ``openai`` SDK's own models before it is served
(``ChatKitThread``, ``ChatKitThreadItemList``), so the wire format is the SDK's, not a guess.
Tests script faults (``fail``: a 429 with Retry-After, a 500, ...) and read back ``requests``.
``latency`` delays every answer, to stand in for the real API's round trip in measurements.
``fresh_generations`` makes each new listing of threads (no cursor) serve a new copy of every
thread, under new ids: the benchmark's way to import anew on every call.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from openai.types.beta.chatkit import ChatKitThread
from openai.types.beta.chatkit.chatkit_thread_item_list import ChatKitThreadItemList

from tests.support.loopback import serve

BETA_HEADER = "chatkit_beta=v1"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def error_body(
    message: str, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class Fault:
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
        self._faults: deque[Fault] = deque()
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

    def fail(self, *faults: Fault) -> None:
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

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                if stand_in.latency:
                    time.sleep(stand_in.latency)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, extra, body = stand_in.answer(self.command, self.path, headers)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                extra = {"content-type": "application/json", **extra}
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@contextmanager
def hosted_chatkit(api_key: str, **options: Any) -> Iterator[HostedChatKit]:
    """The stand-in, served on a free loopback port while the block runs."""
    stand_in = HostedChatKit(api_key, **options)
    with serve(stand_in.handler()) as url:
        stand_in.url = f"{url}/v1"
        yield stand_in


# ---- a history to import: several users, every item type, a thread longer than a page -------
T0 = 1_793_000_000  # 2026-10-26, a month before the cutover


def text(value: str) -> dict[str, Any]:
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
                content=[text(f"message {index:03d}")],
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
        content=[{"type": "quoted_text", "text": "boxes by Friday"}, text("Add packing tasks for this")],
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
            content=[text(f"bob's message in {title}")],
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
        content=[text("Here are my receipts")],
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
