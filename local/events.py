"""TEMPORARY stand-in for the lead's local/events.py (same http_event API)."""

from __future__ import annotations

import json
from typing import Any


def http_event(method, path, *, body=None, headers=None, query=None, path_params=None, user_id="user-1",
               token_use="user", route_key=None) -> dict[str, Any]:
    if isinstance(body, dict | list):
        body = json.dumps(body)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "surrogateescape")
    context: dict[str, Any] = {"http": {"method": method, "path": path}, "routeKey": route_key or f"{method} {path}"}
    if user_id is not None:
        context["authorizer"] = {"lambda": {"user_id": user_id, "token_use": token_use}}
    event: dict[str, Any] = {"version": "2.0", "headers": {k.lower(): v for k, v in (headers or {}).items()},
                             "requestContext": context, "isBase64Encoded": False}
    if body is not None:
        event["body"] = body
    return event
