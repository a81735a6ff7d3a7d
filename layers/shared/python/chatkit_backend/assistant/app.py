"""The ASGI app ChatKitFunction runs behind the Lambda Web Adapter (uvicorn in the sandbox).

Routes: ``POST /chatkit`` (ChatKit protocol), ``OPTIONS /chatkit`` (CORS preflight from
ALLOWED_ORIGINS) and ``GET /ready`` (the adapter's readiness check). The adapter turns API
Gateway's event into an HTTP request and puts the event's ``requestContext``, with the
authorizer's context, in the ``x-amzn-request-context`` header (it replaces any such header a
client sent); that header is the only source of the caller's identity.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from chatkit_backend.assistant.server import MAX_TRANSCRIBE_BODY_BYTES, ChatKitService, Reply, json_reply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
PATH = "/chatkit"
ALLOW_HEADERS = "authorization, content-type"
# Read one byte past the largest limit (dictation's), so the service can say "too large" instead of guessing.
MAX_READ_BYTES = MAX_TRANSCRIBE_BODY_BYTES + 1


def create_app(service: ChatKitService) -> ASGIApp:
    allowed_origins = set(service.settings.allowed_origins)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/ready":
            reply = json_reply(200, {"status": "ok"})
        elif path != PATH:
            reply = json_reply(404, {"detail": f"No route {path}: POST {PATH} serves ChatKit."})
        elif method == "OPTIONS":
            reply = Reply(204, {"access-control-allow-methods": "POST, OPTIONS", "access-control-allow-headers": ALLOW_HEADERS, "access-control-max-age": "600"})
        elif method != "POST":
            reply = json_reply(405, {"detail": f"{PATH} takes POST."})
            reply.headers["allow"] = "POST, OPTIONS"
        else:
            body = await _read_body(receive)
            reply = await service.handle(body, _request_context(headers))
        origin = headers.get("origin")
        if origin and ("*" in allowed_origins or origin in allowed_origins):
            reply.headers.update({"access-control-allow-origin": origin, "vary": "origin"})
        await _send(send, receive, reply)

    return app


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


async def _send(send: Send, receive: Receive, reply: Reply) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    if reply.stream is None:
        await send({"type": "http.response.body", "body": reply.body})
        return
    stream = reply.stream
    streaming = asyncio.create_task(_pump(send, stream))
    # The client may leave mid-stream (tab closed): stop the agent run rather than finish it,
    # and pay for it, for nobody. The server only says so through receive().
    gone = asyncio.create_task(_disconnected(receive))
    try:
        await asyncio.wait({streaming, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not streaming.done():
            streaming.cancel()
            await asyncio.gather(streaming, return_exceptions=True)
        await stream.aclose()  # type: ignore[attr-defined]
    if streaming.done() and not streaming.cancelled():
        streaming.result()


async def _pump(send: Send, stream: Any) -> None:
    async for chunk in stream:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
