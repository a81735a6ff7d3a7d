"""How a domain error reaches an HTTP caller, and API Gateway (payload 2.0) responses.

``error_answer`` is the one place that turns a domain exception into a status, a body and
headers; every HTTP surface sends what it returns: the FastAPI routes (``fastapi_app.error_json``),
the ChatKit app (``chat.server.error_reply``), and the MCP transport's 503 when a token
cannot be checked (``mcp.auth``, whose body is JSON-RPC by protocol). Each surface encodes the
body its own way.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from chatkit_backend import errors

STATUS_BY_ERROR: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.InvalidInput, 422),
    (errors.AuthenticationRequired, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.RateLimited, 429),
    (errors.NotConfigured, 503),
    (errors.DependencyUnavailable, 503),
    (errors.UpstreamRejected, 502),
    (errors.UpstreamUnavailable, 502),
    (errors.UpstreamTimeout, 504),
)

JSON_HEADERS = {"content-type": "application/json"}


def status_for(error: errors.DomainError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 400


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A payload-2.0 response; ``body=None`` sends no body (204, 202)."""
    response: dict[str, Any] = {"statusCode": status, "headers": {**JSON_HEADERS, **(headers or {})}}
    if body is not None:
        response["body"] = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    else:
        response["headers"].pop("content-type")
    return response


class ErrorAnswer(NamedTuple):
    status: int
    body: dict[str, Any]
    # ``Retry-After`` when waiting helps (429, 503).
    headers: dict[str, str]


def error_answer(error: errors.DomainError) -> ErrorAnswer:
    """What every HTTP surface answers for ``error``: its status, ``{"detail": ...}`` and headers."""
    headers = {} if error.retry_after is None else {"retry-after": str(error.retry_after)}
    return ErrorAnswer(status_for(error), {"detail": error.detail}, headers)
