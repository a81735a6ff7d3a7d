"""API Gateway (payload 2.0) responses for the functions that do not run FastAPI.

Errors leave as ``{"detail": "..."}`` with the status their domain exception stands for:
this table is the one place that decides it for REST.
"""

from __future__ import annotations

import json
from typing import Any

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


def error_headers(error: errors.DomainError) -> dict[str, str]:
    """Headers every transport sends with ``error``: ``Retry-After`` when waiting helps (429, 503)."""
    return {} if error.retry_after is None else {"retry-after": str(error.retry_after)}


def error_response(error: errors.DomainError) -> dict[str, Any]:
    return json_response(status_for(error), {"detail": error.detail}, error_headers(error))
