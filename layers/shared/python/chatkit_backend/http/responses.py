"""How a domain error reaches an HTTP caller, and API Gateway (payload 2.0) responses.

``error_answer`` is the one place that turns a domain exception into a status, a body and
headers; every HTTP surface sends what it returns: the FastAPI routes (``fastapi_app.error_json``),
the ChatKit app (``chat.server.error_reply``), and /mcp's 503 when a token cannot be checked
(``auth.resource_server``, whose body is JSON-RPC by protocol). Each surface encodes the body its
own way, with ``json_text``. ``HttpRefusal`` is an HTTP answer raised in place of a protocol's
own, as /mcp's token checks raise it.
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


def json_text(value: Any) -> str:
    """``value`` as compact JSON that any answer can carry: non-ASCII text as it is, unless a
    string holds a lone surrogate (a client's "\\ud800", echoed back); then escaped as \\uXXXX,
    the way the client sent it, since no UTF-8 body (Lambda's runtime encodes every response as
    UTF-8) can hold it raw."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"))
    return text


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A payload-2.0 response; ``body=None`` sends no body (204, 202)."""
    response: dict[str, Any] = {"statusCode": status, "headers": {**JSON_HEADERS, **(headers or {})}}
    if body is not None:
        response["body"] = json_text(body)
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


class HttpRefusal(Exception):
    """An HTTP answer in place of the protocol's (on /mcp: 401, 403, 400, 503), with its headers
    (``WWW-Authenticate``, ``Retry-After``); /mcp sends ``message`` as a JSON-RPC error without an id."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
