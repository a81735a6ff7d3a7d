"""A local HTTP server standing in for the OpenAI API's ChatKit sessions endpoint.

Tests and the benchmarks point the real ``openai`` SDK at it with ``OPENAI_BASE_URL`` (nothing
is patched), script its answers, and read back exactly what the SDK sent. It binds 127.0.0.1 on
a free port and serves from a thread.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # decoded JSON, or the raw text when it is not JSON


@dataclass
class Reply:
    """One scripted answer. ``delay`` seconds pass before it is sent (timeouts)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def session_body(request: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """A ``chatkit.session`` object as OpenAI answers ``request`` (the JSON the SDK sent)."""
    created = int(time.time() if now is None else now)
    seconds = int((request.get("expires_after") or {}).get("seconds", 600))
    workflow = request.get("workflow") or {}
    config = request.get("chatkit_configuration") or {}
    per_minute = int((request.get("rate_limits") or {}).get("max_requests_per_1_minute", 10))
    upload = config.get("file_upload") or {}
    return {
        "id": f"cksess_{uuid.uuid4().hex}",
        "object": "chatkit.session",
        "client_secret": f"ek_test_{uuid.uuid4().hex}",
        "expires_at": created + seconds,
        "status": "active",
        "user": request.get("user"),
        "max_requests_per_1_minute": per_minute,
        "rate_limits": {"max_requests_per_1_minute": per_minute},
        "chatkit_configuration": {
            "automatic_thread_titling": {
                "enabled": (config.get("automatic_thread_titling") or {}).get("enabled", True)
            },
            "file_upload": {
                "enabled": upload.get("enabled", False),
                "max_files": upload.get("max_files", 10),
                "max_file_size": upload.get("max_file_size", 512),
            },
            "history": {
                "enabled": (config.get("history") or {}).get("enabled", True),
                "recent_threads": (config.get("history") or {}).get("recent_threads"),
            },
        },
        "workflow": {
            "id": workflow.get("id"),
            "version": workflow.get("version"),
            "state_variables": workflow.get("state_variables"),
            "tracing": {"enabled": True},
        },
    }


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeChatKitSessions:
    """The running stand-in: ``url`` (for OPENAI_BASE_URL), ``requests`` seen, ``script`` of replies.

    With nothing scripted, every POST /v1/chatkit/sessions gets a fresh 200 session.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order; afterwards, default sessions again."""
        with self._lock:
            self._replies.extend(replies)

    def reset(self) -> None:
        """Forget recorded requests and replies not yet used (between tests sharing one server)."""
        with self._lock:
            self.requests.clear()
            self._replies.clear()

    def start(self) -> FakeChatKitSessions:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, recorded: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self._replies:
                return self._replies.popleft()
        if (
            recorded.method == "POST"
            and recorded.path == "/v1/chatkit/sessions"
            and isinstance(recorded.body, dict)
        ):
            return Reply(200, session_body(recorded.body))
        return Reply(
            404, error_body(f"No stand-in for {recorded.method} {recorded.path}", "invalid_request_error")
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in separate writes; without this, Nagle's algorithm
                # holds the body for the client's delayed ACK (~40 ms) on a kept-alive connection.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                recorded = RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                reply = fake._next_reply(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def fake_chatkit_sessions() -> Iterator[FakeChatKitSessions]:
    server = FakeChatKitSessions().start()
    try:
        yield server
    finally:
        server.stop()
