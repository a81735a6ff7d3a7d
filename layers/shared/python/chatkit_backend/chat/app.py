"""The ASGI app ChatKitFunction runs behind the Lambda Web Adapter (uvicorn in the sandbox).

Routes: ``POST /chatkit`` (ChatKit protocol), ``OPTIONS /chatkit`` (CORS preflight from
ALLOWED_ORIGINS), ``GET /ready`` (the adapter's readiness check), and the adapter's two SnapStart
hooks, ``POST /snapstart/before-checkpoint`` and ``POST /snapstart/after-restore``
(``chatkit_backend.aws.snapstart``; a 500 makes the adapter fail that phase). The hooks answer only
the adapter: a request that came through API Gateway carries its request context and gets a
404 there (API Gateway routes only /chatkit here anyway, and the adapter itself refuses hook
paths to outside callers). The adapter turns API
Gateway's event into an HTTP request and puts the event's ``requestContext``, with the
authorizer's context, in the ``x-amzn-request-context`` header (it replaces any such header a
client sent); that header is the only source of the caller's identity.

A client that leaves mid-answer does not stop the answer: it is generated to the end and saved
in full. Locally the server sees the disconnect; behind API Gateway and the Lambda Web Adapter
the function never does (docs/chatkit-errors.md has the evidence), so this is the one behaviour
that is the same in both places.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from chatkit_backend.aws import snapstart
from chatkit_backend.chat.server import ChatKitService, Reply, json_reply, unexpected_reply
from chatkit_backend.limits import TRANSCRIBE_BODY_MAX_BYTES
from chatkit_backend.observability.logs import bind_web_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
LAMBDA_CONTEXT_HEADER = "x-amzn-lambda-context"
PATH = "/chatkit"
# AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH and AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH (template.yaml).
SNAPSTART_HOOKS = {
    "/snapstart/before-checkpoint": snapstart.before_snapshot,
    "/snapstart/after-restore": snapstart.after_restore,
}
ALLOW_HEADERS = "authorization, content-type"
# Read one byte past the largest limit (dictation's), so the service can say "too large" instead of guessing.
MAX_READ_BYTES = TRANSCRIBE_BODY_MAX_BYTES + 1


def create_app(service: ChatKitService) -> ASGIApp:
    allowed_origins = set(service.settings.allowed_origins)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/ready":
            reply = json_reply(200, {"status": "ok"})
        elif method == "POST" and path in SNAPSTART_HOOKS and REQUEST_CONTEXT_HEADER not in headers:
            reply = _run_hook(path)
        elif path != PATH:
            reply = json_reply(404, {"detail": f"No route {path}: POST {PATH} serves ChatKit."})
        elif method == "OPTIONS":
            reply = Reply(
                204,
                {
                    "access-control-allow-methods": "POST, OPTIONS",
                    "access-control-allow-headers": ALLOW_HEADERS,
                    "access-control-max-age": "600",
                },
            )
        elif method != "POST":
            reply = json_reply(405, {"detail": f"{PATH} takes POST."})
            reply.headers["allow"] = "POST, OPTIONS"
        else:
            body = await _read_body(receive)
            request_context = _request_context(headers)
            bind_web_request(headers.get(LAMBDA_CONTEXT_HEADER), request_context)
            reply = await service.handle(body, request_context, headers.get("content-type"))
        origin = headers.get("origin")
        if origin and ("*" in allowed_origins or origin in allowed_origins):
            reply.headers.update({"access-control-allow-origin": origin, "vary": "origin"})
        await _send(send, reply)

    return app


def _run_hook(path: str) -> Reply:
    try:
        SNAPSTART_HOOKS[path]()
    except Exception:  # noqa: BLE001 - a failed hook answers 500 as Lambda's runtime would, logged
        return unexpected_reply(path)
    return json_reply(200, {"status": "ok"})


def _request_context(headers: dict[str, str]) -> dict[str, Any] | None:
    raw = headers.get(REQUEST_CONTEXT_HEADER)
    if not raw:
        return None
    try:
        context = json.loads(raw)
    except ValueError:
        return None
    return context if isinstance(context, dict) else None


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) >= MAX_READ_BYTES or not message.get("more_body", False):
            break
    return bytes(body[:MAX_READ_BYTES])


async def _send(send: Send, reply: Reply) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    if reply.stream is None:
        await send({"type": "http.response.body", "body": reply.body})
        return
    # Every chunk is produced even when nobody reads it any more: the run (and the saving of
    # the answer) goes on to its end. The server drops what is sent after a disconnect.
    client_gone = False
    async for chunk in reply.stream:
        if not client_gone:
            client_gone = not await _send_chunk(send, chunk, more=True)
    if not client_gone:
        await _send_chunk(send, b"", more=False)


async def _send_chunk(send: Send, chunk: bytes, *, more: bool) -> bool:
    """Whether the chunk went out; False once the connection is gone (servers may raise then)."""
    try:
        await send({"type": "http.response.body", "body": chunk, "more_body": more})
    except OSError:
        return False
    return True


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
