"""ChatKitFunction as the Lambda Web Adapter runs it, minus the adapter's own (Rust) hop: the
function's ASGI app, imported as uvicorn imports it, called with one HTTP request per REST API
event (the request context in ``x-amzn-request-context``, as the adapter passes it).

The import is what a cold start pays for chatkit, agents and openai; the call is one ChatKit
request handled end to end, DynamoDB included.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app import app  # functions/chatkit/app.py: the measured import

LOOP = asyncio.new_event_loop()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return LOOP.run_until_complete(_call(event))


async def _call(event: dict[str, Any]) -> dict[str, Any]:
    body = (event.get("body") or "").encode()
    headers = [(k.lower().encode(), str(v).encode()) for k, v in (event.get("headers") or {}).items()]
    headers.append((b"x-amzn-request-context", json.dumps(event["requestContext"]).encode()))
    scope = {
        "type": "http",
        "method": event["httpMethod"],
        "path": event["path"],
        "headers": headers,
        "query_string": b"",
    }
    sent: list[dict[str, Any]] = []
    delivered = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await done.wait()  # the client stays until the response is complete
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return {
        "statusCode": sent[0]["status"],
        "body": b"".join(m.get("body", b"") for m in sent[1:]).decode(),
    }
